// The softphone page: microphone → AudioWorklet → resample to the call's rate → PCM16 over the WebSocket;
// agent audio (PCM16 at the call's rate) → Web Audio playback; the call's timeline and transcript as they come.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const stats = { state: 'idle', callId: null, sampleRateHz: null, framesSent: 0, framesReceived: 0, playedMs: 0, timeline: [], transcript: [], errors: [] };
  window.softphone = stats;

  let socket = null;
  let audio = null; // { context, source, node, stream }
  let resampler = null;
  let pending = [];
  let playAt = 0;

  function setState(state) {
    stats.state = state;
    $('state').textContent = state;
    $('call').disabled = !(state === 'idle' || state === 'ended');
    $('hangup').disabled = !(state === 'ringing' || state === 'connected');
  }

  function showError(message) {
    stats.errors.push(message);
    $('error').textContent = message;
  }

  // A streaming linear-interpolation resampler (Float32 in, Int16 out) that keeps its phase across blocks.
  function createResampler(fromHz, toHz) {
    const step = fromHz / toHz;
    let position = 0; // next output, in input samples from the block start; -1 is the previous block's last sample
    let last = 0;
    return (input) => {
      const out = [];
      while (position < input.length - 1) {
        const index = Math.floor(position);
        const fraction = position - index;
        const a = index < 0 ? last : input[index];
        const b = input[index + 1];
        out.push(Math.max(-32768, Math.min(32767, Math.round((a + (b - a) * fraction) * 32767))));
        position += step;
      }
      position -= input.length;
      last = input[input.length - 1];
      return Int16Array.from(out);
    };
  }

  async function startMicrophone() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } });
    const context = new AudioContext();
    await context.audioWorklet.addModule('mic-worklet.js');
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, 'mic-capture');
    node.port.onmessage = (event) => onMicBlock(event.data);
    source.connect(node);
    audio = { context, source, node, stream };
    playAt = 0;
  }

  function stopMicrophone() {
    if (!audio) return;
    audio.node.port.onmessage = null;
    audio.source.disconnect();
    audio.stream.getTracks().forEach((t) => t.stop());
    void audio.context.close();
    audio = null;
  }

  function onMicBlock(block) {
    let sum = 0;
    for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
    $('mic-level').value = Math.min(1, Math.sqrt(sum / block.length) * 4);
    if (!resampler || !socket || socket.readyState !== WebSocket.OPEN) return;
    const samples = resampler(block);
    for (let i = 0; i < samples.length; i++) pending.push(samples[i]);
    const frame = stats.sampleRateHz / 50;
    while (pending.length >= frame) {
      socket.send(Int16Array.from(pending.splice(0, frame)).buffer);
      stats.framesSent++;
    }
    $('frames-sent').textContent = String(stats.framesSent);
  }

  function playAgent(buffer) {
    stats.framesReceived++;
    $('frames-received').textContent = String(stats.framesReceived);
    if (!audio || !stats.sampleRateHz) return;
    const samples = new Int16Array(buffer);
    const chunk = audio.context.createBuffer(1, samples.length, stats.sampleRateHz);
    const channel = chunk.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const node = audio.context.createBufferSource();
    node.buffer = chunk;
    node.connect(audio.context.destination);
    // A small jitter buffer: frames arrive paced by the lab's 20 ms clock.
    const now = audio.context.currentTime;
    if (playAt < now + 0.02) playAt = now + 0.06;
    node.start(playAt);
    playAt += chunk.duration;
    stats.playedMs += Math.round(chunk.duration * 1000);
    $('played-ms').textContent = String(stats.playedMs);
  }

  function addTimeline(entry) {
    stats.timeline.push(entry);
    const row = document.createElement('tr');
    row.className = entry.source;
    const detail = entry.detail ? JSON.stringify(entry.detail) : '';
    row.innerHTML = '<td class="t"></td><td class="src"></td><td class="type"></td><td class="detail"></td>';
    row.children[0].textContent = (entry.atMs / 1000).toFixed(3) + ' s';
    row.children[1].textContent = entry.source;
    row.children[2].textContent = entry.type;
    row.children[3].textContent = detail.length > 140 ? detail.slice(0, 140) + '…' : detail;
    $('timeline').appendChild(row);
    const transcript = entry.detail && entry.detail.transcript;
    if (entry.source === 'voice-live' && transcript) {
      const role = entry.type === 'response.audio_transcript.done' ? 'agent' : entry.type.startsWith('conversation.item.input_audio_transcription') ? 'caller' : null;
      if (role) addTranscript(role, transcript);
    }
    if (entry.source === 'callback' && entry.type === 'CallConnected') setState('connected');
  }

  function addTranscript(role, text) {
    stats.transcript.push({ role, text });
    const item = document.createElement('li');
    item.className = role;
    item.textContent = (role === 'agent' ? 'Agent: ' : 'You: ') + text;
    $('transcript').appendChild(item);
  }

  async function call() {
    $('error').textContent = '';
    $('timeline').textContent = '';
    $('transcript').textContent = '';
    Object.assign(stats, { callId: null, sampleRateHz: null, framesSent: 0, framesReceived: 0, playedMs: 0, timeline: [], transcript: [] });
    resampler = null;
    pending = [];
    setState('dialling');
    try {
      await startMicrophone();
    } catch (error) {
      setState('idle');
      return showError('microphone unavailable: ' + error.message);
    }
    socket = new WebSocket(location.origin.replace(/^http/, 'ws') + '/phone');
    socket.binaryType = 'arraybuffer';
    // Empty fields: the emulator's defaults. A number dialled here exercises AGENT_PROFILE_BY_NUMBER, the number lists
    // and AGENT_CALL_PERCENT as a call to that number would.
    const number = (id) => $(id).value.trim() || undefined;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'call', from: number('from'), to: number('to') }));
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return playAgent(event.data);
      const message = JSON.parse(event.data);
      if (message.type === 'placed') {
        stats.callId = message.callId;
        $('call-id').textContent = message.callId;
        setState('ringing');
      } else if (message.type === 'format') {
        stats.sampleRateHz = message.sampleRateHz;
        $('rate').textContent = String(message.sampleRateHz);
        resampler = createResampler(audio.context.sampleRate, message.sampleRateHz);
      } else if (message.type === 'timeline') {
        addTimeline(message.entry);
      } else if (message.type === 'ended') {
        setState('ended');
        stopMicrophone();
      } else if (message.type === 'error') {
        showError(message.message);
      }
    };
    socket.onclose = () => {
      if (stats.state !== 'ended' && stats.state !== 'idle') setState('ended');
      stopMicrophone();
    };
  }

  function hangUp() {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'hangup' }));
    $('hangup').disabled = true;
  }

  $('call').addEventListener('click', () => void call());
  $('hangup').addEventListener('click', hangUp);
  setState('idle');
})();
