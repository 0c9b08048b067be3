// The softphone page: microphone → AudioWorklet → resample to the call's rate → PCM16 over the WebSocket;
// agent audio (PCM16 at the call's rate) → Web Audio playback; the call's timeline and transcript as they come.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const stats = {
    state: 'idle', callId: null, sampleRateHz: null, framesSent: 0, framesReceived: 0, playedMs: 0, timeline: [], transcript: [], errors: [], keysPressed: [], turns: [],
    // Calls to this page (outbound calls of the agent): where it takes them, the current call's direction, the ring tone.
    callee: null, direction: null, ringTone: 'off', lastIncoming: null, requested: [],
  };
  window.softphone = stats;

  let socket = null; // the current call's socket: /phone for a call we place, the callee socket for one we take
  let calleeSocket = null;
  let ring = null; // { context, oscillators, gain, analyser } while an incoming call rings
  let ringContext = null;
  let audio = null; // { context, source, node, stream }
  let resampler = null;
  let pending = [];
  let playAt = 0;

  // Turn latency as the caller lives it: from the real end of their speech (the microphone level falling below
  // SPEECH_LEVEL and staying there END_OF_SPEECH_QUIET_MS) to the first agent audio played after it. Beside it, the
  // figure from the agent's VAD (speech_stopped, which comes a silence window after the real end), labelled as such.
  const SPEECH_LEVEL = 0.02; // RMS of a microphone block, full scale 1
  const END_OF_SPEECH_QUIET_MS = 300;
  let speech = { speaking: false, lastLoudEndMs: 0 };
  let vadStoppedAtMs = null;

  function setState(state) {
    stats.state = state;
    $('state').textContent = state;
    $('call').disabled = !(state === 'idle' || state === 'ended');
    $('hangup').disabled = !(state === 'ringing' || state === 'answering' || state === 'connected');
    $('incoming').hidden = state !== 'incoming';
    $('call-me').disabled = !(state === 'idle' || state === 'ended');
    for (const button of document.querySelectorAll('#keypad button')) button.disabled = state !== 'connected';
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
    // The meter shows the live microphone only: once the call is over it reads zero, not the last block's level.
    $('mic-level').value = 0;
    if (!audio) return;
    audio.node.port.onmessage = null;
    audio.source.disconnect();
    audio.stream.getTracks().forEach((t) => t.stop());
    void audio.context.close();
    audio = null;
  }

  /** Times are on the AudioContext clock, in ms: the same clock schedules the agent's audio. */
  function trackSpeech(rms, blockEndMs) {
    if (stats.state !== 'connected') return;
    if (rms >= SPEECH_LEVEL) {
      speech = { speaking: true, lastLoudEndMs: blockEndMs };
      return;
    }
    if (speech.speaking && blockEndMs - speech.lastLoudEndMs >= END_OF_SPEECH_QUIET_MS) {
      speech.speaking = false;
      stats.turns.push({ turn: stats.turns.length + 1, speechEndMs: speech.lastLoudEndMs, endOfSpeechToAgentAudioMs: null, vadStoppedToAgentAudioMs: null });
      renderTurns();
    }
  }

  function renderTurns() {
    const body = $('turns');
    body.textContent = '';
    for (const t of stats.turns) {
      const row = document.createElement('tr');
      row.innerHTML = '<td></td><td></td><td></td>';
      row.children[0].textContent = String(t.turn);
      row.children[1].textContent = t.endOfSpeechToAgentAudioMs === null ? '–' : t.endOfSpeechToAgentAudioMs + ' ms';
      row.children[2].textContent = t.vadStoppedToAgentAudioMs === null ? '–' : t.vadStoppedToAgentAudioMs + ' ms';
      body.appendChild(row);
    }
  }

  /** The latest turn still waiting for this figure (a VAD turn with no mic-detected end gets a row of its own). */
  function openTurn(field) {
    for (let i = stats.turns.length - 1; i >= 0; i--) if (stats.turns[i][field] === null) return stats.turns[i];
    return null;
  }

  function onMicBlock(block) {
    let sum = 0;
    for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
    const rms = Math.sqrt(sum / block.length);
    $('mic-level').value = Math.min(1, rms * 4);
    if (audio) trackSpeech(rms, audio.context.currentTime * 1000);
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
    const newBurst = playAt < now + 0.02;
    if (newBurst) {
      playAt = now + 0.06;
      const turn = openTurn('endOfSpeechToAgentAudioMs');
      if (turn && playAt * 1000 > turn.speechEndMs) {
        turn.endOfSpeechToAgentAudioMs = Math.round(playAt * 1000 - turn.speechEndMs);
        renderTurns();
      }
    }
    node.start(playAt);
    playAt += chunk.duration;
    stats.playedMs += Math.round(chunk.duration * 1000);
    $('played-ms').textContent = String(stats.playedMs);
  }

  function addTimeline(entry) {
    stats.timeline.push(entry);
    const row = document.createElement('tr');
    row.className = entry.source;
    const detail = entry.detail ? formatDetail(entry.detail) : '';
    row.innerHTML = '<td class="t"></td><td class="src"></td><td class="type"></td><td class="detail"></td>';
    row.children[0].textContent = (entry.atMs / 1000).toFixed(3) + ' s';
    row.children[1].textContent = entry.source;
    appendBreakable(row.children[2], entry.type);
    row.children[3].textContent = detail.length > 140 ? detail.slice(0, 140) + '…' : detail;
    $('timeline').appendChild(row);
    const transcript = entry.detail && entry.detail.transcript;
    if (entry.source === 'voice-live' && transcript) {
      const role = entry.type === 'response.audio_transcript.done' ? 'agent' : entry.type.startsWith('conversation.item.input_audio_transcription') ? 'caller' : null;
      if (role) addTranscript(role, transcript);
    }
    if (entry.source === 'callback' && entry.type === 'CallConnected') setState('connected');
    if (entry.source === 'voice-live' && entry.type === 'input_audio_buffer.speech_stopped') vadStoppedAtMs = entry.atMs;
    if (entry.source === 'media' && entry.type === 'agent-audio' && vadStoppedAtMs !== null) {
      let turn = openTurn('vadStoppedToAgentAudioMs');
      if (!turn) stats.turns.push((turn = { turn: stats.turns.length + 1, speechEndMs: null, endOfSpeechToAgentAudioMs: null, vadStoppedToAgentAudioMs: null }));
      turn.vadStoppedToAgentAudioMs = Math.round(entry.atMs - vadStoppedAtMs);
      vadStoppedAtMs = null;
      renderTurns();
    }
  }

  /** Top-level fields as `name=value`, two spaces apart, so a line can break between fields; values as JSON. */
  function formatDetail(detail) {
    return Object.entries(detail).map(([name, value]) => name + '=' + JSON.stringify(value)).join('  ');
  }

  /** Event names such as conversation.item.input_audio_transcription.completed may break after each dot, nowhere else. */
  function appendBreakable(cell, name) {
    name.split('.').forEach((part, i, parts) => {
      cell.append(part + (i < parts.length - 1 ? '.' : ''));
      if (i < parts.length - 1) cell.append(document.createElement('wbr'));
    });
  }

  function pressKey(key) {
    if (!socket || socket.readyState !== WebSocket.OPEN || stats.state !== 'connected') return;
    socket.send(JSON.stringify({ type: 'dtmf', key }));
    stats.keysPressed.push(key);
  }

  function addTranscript(role, text) {
    stats.transcript.push({ role, text });
    const item = document.createElement('li');
    item.className = role;
    item.textContent = (role === 'agent' ? 'Agent: ' : 'You: ') + text;
    $('transcript').appendChild(item);
  }

  function resetCall(direction) {
    $('error').textContent = '';
    $('timeline').textContent = '';
    $('transcript').textContent = '';
    Object.assign(stats, { callId: null, sampleRateHz: null, framesSent: 0, framesReceived: 0, playedMs: 0, timeline: [], transcript: [], errors: [], keysPressed: [], turns: [], direction });
    $('turns').textContent = '';
    for (const id of ['frames-sent', 'frames-received', 'played-ms']) $(id).textContent = '0';
    speech = { speaking: false, lastLoudEndMs: 0 };
    vadStoppedAtMs = null;
    resampler = null;
    pending = [];
  }

  /** What both sockets say about the call in progress. */
  function onCallMessage(message) {
    if (message.type === 'format') {
      stats.sampleRateHz = message.sampleRateHz;
      $('rate').textContent = String(message.sampleRateHz);
      resampler = createResampler(audio.context.sampleRate, message.sampleRateHz);
    } else if (message.type === 'timeline') {
      addTimeline(message.entry);
    } else if (message.type === 'ended') {
      setState('ended');
      stopMicrophone();
    }
  }

  async function call() {
    resetCall('inbound');
    const badNumber = ['from', 'to'].find((id) => !$(id).checkValidity());
    if (badNumber) return showError(badNumber + ' must be an E.164 number such as ' + $(badNumber).placeholder.replace(/^the lab's number$/, '+18005550100') + ', or empty');
    setState('dialling');
    try {
      await startMicrophone();
    } catch (error) {
      setState('idle');
      return showError('microphone unavailable: ' + error.message);
    }
    const own = (socket = new WebSocket(location.origin.replace(/^http/, 'ws') + '/phone'));
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
      } else if (message.type === 'format' || message.type === 'timeline' || message.type === 'ended') {
        onCallMessage(message);
      } else if (message.type === 'error') {
        showError(message.message);
        // Refused before a call existed (bad number, emulator refusal): back to idle, microphone off, ready to retry.
        if (stats.state === 'dialling') {
          setState('idle');
          stopMicrophone();
          socket.close();
        }
      }
    };
    socket.onclose = () => {
      if (socket !== own) return; // a call taken since is none of this socket's business
      if (stats.state !== 'ended' && stats.state !== 'idle') setState('ended');
      stopMicrophone();
    };
  }

  function hangUp() {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'hangup' }));
    $('hangup').disabled = true;
  }

  // ---- Calls to this page: the agent's outbound calls ring here (the callee protocol, lab/acs/callee-link.ts). ----

  const busy = () => ['dialling', 'ringing', 'incoming', 'answering', 'connected'].includes(stats.state);

  function connectCallee() {
    calleeSocket = new WebSocket(location.origin.replace(/^http/, 'ws') + '/callee');
    calleeSocket.binaryType = 'arraybuffer';
    calleeSocket.onopen = () => calleeSocket.send(JSON.stringify({ type: 'register' }));
    calleeSocket.onmessage = (event) => {
      if (typeof event.data !== 'string') {
        if (socket === calleeSocket) playAgent(event.data);
        return;
      }
      const message = JSON.parse(event.data);
      if (message.type === 'registered') {
        stats.callee = { phoneNumber: message.phoneNumber, rawId: message.rawId };
        $('callee-number').textContent = message.phoneNumber;
        $('callee-id').textContent = message.rawId;
      } else if (message.type === 'ringing') {
        // On a call already (one we placed): busy, as a phone without call waiting.
        if (busy()) return calleeSocket.send(JSON.stringify({ type: 'busy' }));
        resetCall('outbound');
        socket = calleeSocket;
        stats.callId = message.callId;
        stats.lastIncoming = { callId: message.callId, from: message.from, outcome: null };
        $('call-id').textContent = message.callId;
        $('incoming-from').textContent = message.from;
        $('callee-status').textContent = 'ringing';
        setState('incoming');
        startRing();
      } else if (socket === calleeSocket && (message.type === 'format' || message.type === 'timeline')) {
        onCallMessage(message);
      } else if (message.type === 'ended' && socket === calleeSocket) {
        stopRing();
        stats.lastIncoming.outcome = message.outcome;
        $('callee-status').textContent = { answered: 'call ended', declined: 'declined', busy: 'busy', unanswered: 'missed call (no answer)', cancelled: 'the caller gave up' }[message.outcome] || message.outcome;
        onCallMessage(message);
        socket = null;
      } else if (message.type === 'error') {
        showError(message.message);
      }
    };
    calleeSocket.onclose = () => {
      stopRing();
      stats.callee = null;
      $('callee-number').textContent = 'not registered: the lab is gone (reload the page once it runs)';
      $('callee-id').textContent = '–';
      if (socket === calleeSocket) {
        socket = null;
        if (stats.state !== 'idle') setState('ended');
        stopMicrophone();
      }
    };
  }

  /** A North American ring (440 + 480 Hz, 2 s on, 4 s off) through Web Audio, until answered or over. */
  function startRing() {
    stopRing();
    try {
      ringContext = ringContext || new AudioContext();
      const context = ringContext;
      const gain = context.createGain();
      const analyser = context.createAnalyser();
      gain.gain.value = 0;
      gain.connect(analyser);
      analyser.connect(context.destination);
      const oscillators = [440, 480].map((frequency) => {
        const oscillator = context.createOscillator();
        oscillator.frequency.value = frequency;
        oscillator.connect(gain);
        oscillator.start();
        return oscillator;
      });
      const start = context.currentTime;
      for (let cycle = 0; cycle < 30; cycle++) {
        gain.gain.setValueAtTime(0.15, start + cycle * 6);
        gain.gain.setValueAtTime(0, start + cycle * 6 + 2);
      }
      ring = { context, oscillators, gain, analyser };
      showRingTone();
      // Browsers start audio only after the user has interacted with the page.
      if (context.state !== 'running') void context.resume().then(showRingTone, showRingTone);
    } catch (error) {
      stats.ringTone = 'unavailable';
      $('ring-tone').textContent = 'no ring tone: ' + error.message;
    }
  }

  function showRingTone() {
    if (!ring) return;
    stats.ringTone = ring.context.state === 'running' ? 'playing' : 'blocked';
    $('ring-tone').textContent = stats.ringTone === 'playing' ? '' : 'ring tone muted by the browser until you click the page or press a key';
  }

  function stopRing() {
    if (!ring) return;
    for (const oscillator of ring.oscillators) oscillator.stop();
    ring.gain.disconnect();
    ring.analyser.disconnect();
    ring = null;
    stats.ringTone = 'off';
    $('ring-tone').textContent = '';
  }

  /** The ring tone's level right now (RMS, full scale 1): what the speaker gets. */
  window.softphoneRingLevel = () => {
    if (!ring) return 0;
    const block = new Float32Array(ring.analyser.fftSize);
    ring.analyser.getFloatTimeDomainData(block);
    let sum = 0;
    for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
    return Math.sqrt(sum / block.length);
  };

  async function accept() {
    if (stats.state !== 'incoming') return;
    stopRing();
    setState('answering');
    try {
      await startMicrophone();
    } catch (error) {
      showError('microphone unavailable: ' + error.message + ' (call declined)');
      calleeSocket.send(JSON.stringify({ type: 'decline' }));
      return;
    }
    calleeSocket.send(JSON.stringify({ type: 'accept' }));
  }

  function decline() {
    if (stats.state !== 'incoming') return;
    stopRing();
    calleeSocket.send(JSON.stringify({ type: 'decline' }));
  }

  /** "Have the agent call me": POST /api/calls through the softphone's server, which holds the Functions key. */
  async function requestCallToMe() {
    if (!stats.callee) return showError('this page is not registered as a callee yet');
    $('error').textContent = '';
    $('callee-status').textContent = 'asking the agent to call…';
    try {
      const response = await fetch('api/calls', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: stats.callee.phoneNumber }) });
      const body = await response.json();
      if (response.status === 202) {
        const state = body.status && body.status.state;
        stats.requested.push({ callId: body.callId, state });
        if (stats.state !== 'incoming') $('callee-status').textContent = 'the agent will call: callId ' + body.callId + ' (' + state + ')';
      } else {
        $('callee-status').textContent = '';
        showError('POST /api/calls answered ' + response.status + ': ' + (body.error || JSON.stringify(body)));
      }
    } catch (error) {
      $('callee-status').textContent = '';
      showError('could not ask for a call: ' + error.message);
    }
  }

  async function loadConfig() {
    const config = await fetch('config.json').then((r) => r.json(), () => ({}));
    if (config.callee) {
      $('callee').hidden = false;
      connectCallee();
    }
    $('call-me').hidden = !(config.callee && config.outbound);
  }

  // A muted ring tone starts sounding at the first click or key press anywhere on the page (both are user gestures
  // to the browser, so a keyboard user gets the tone as well).
  const unmuteRing = () => {
    if (ring && ring.context.state !== 'running') void ring.context.resume().then(showRingTone, showRingTone);
  };
  document.addEventListener('click', unmuteRing);
  document.addEventListener('keydown', unmuteRing);
  $('accept').addEventListener('click', () => void accept());
  $('decline').addEventListener('click', decline);
  $('call-me').addEventListener('click', () => void requestCallToMe());
  $('call').addEventListener('click', () => void call());
  $('hangup').addEventListener('click', hangUp);
  for (const button of document.querySelectorAll('#keypad button')) button.addEventListener('click', () => pressKey(button.dataset.key));
  setState('idle');
  void loadConfig();
})();
