import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tone } from './audio.js';
import { startVoiceLivePeer, type VoiceLivePeer, type VoiceLivePeerOptions } from './peer.js';

let peer: VoiceLivePeer | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await peer?.close();
  peer = undefined;
});

interface Line {
  ws: WebSocket;
  events: Record<string, unknown>[];
  send(event: object): void;
  next(type: string, predicate?: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

async function open(options: VoiceLivePeerOptions = {}, headers: Record<string, string> = {}, query = 'api-version=2026-07-15&model=gpt-realtime'): Promise<Line> {
  peer ??= await startVoiceLivePeer(options);
  const ws = new WebSocket(`${peer!.url.replace('http', 'ws')}/voice-live/realtime?${query}`, { headers });
  sockets.push(ws);
  const events: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    events.push(JSON.parse(data.toString()) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (type: string, predicate?: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type}; got ${events.map((e) => e.type).join(',')}`)), 4000);
      const check = (): void => {
        const found = events.find((e) => e.type === type && (!predicate || predicate(e)));
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else waiters.push(check);
      };
      check();
    });
  return { ws, events, send: (event) => ws.send(JSON.stringify(event)), next };
}

function appendAudio(line: Line, samples: Int16Array, chunkMs = 20, rateHz = 16000): void {
  const chunk = (rateHz / 1000) * chunkMs;
  for (let i = 0; i < samples.length; i += chunk) {
    const part = samples.subarray(i, i + chunk);
    line.send({ type: 'input_audio_buffer.append', audio: Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('base64') });
  }
}

const sessionUpdate16k = {
  type: 'session.update',
  session: {
    input_audio_sampling_rate: 16000,
    output_audio_format: 'pcm16_16000hz',
    turn_detection: { type: 'server_vad', prefix_padding_ms: 120, silence_duration_ms: 200, interrupt_response: true },
    input_audio_transcription: { model: 'azure-speech' },
  },
};

describe('Voice Live test peer', () => {
  it('refuses a wrong api key with 401 before the upgrade, and accepts the right one', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'k' });
    await expect(open({}, { 'api-key': 'wrong' })).rejects.toThrow(/401/);
    const line = await open({}, { 'api-key': 'k' });
    const created = await line.next('session.created');
    expect(created.session).toMatchObject({ object: 'realtime.session', model: 'gpt-realtime', expires_at: expect.any(Number) });
    expect(peer!.upgrades.map((u) => u.status)).toEqual([401, 101]);
  });

  it('refuses an API key for an agent (key authentication is not supported for agents) and accepts its Entra token', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'k', acceptBearer: (token) => token === 'entra' });
    const agent = 'api-version=2026-07-15&agent-name=support&agent-project-name=p';
    await expect(open({}, { 'api-key': 'k' }, agent)).rejects.toThrow(/401/);
    const line = await open({}, { authorization: 'Bearer entra' }, agent);
    await line.next('session.created');
    // A model session still takes the key.
    await (await open({}, { 'api-key': 'k' })).next('session.created');
    expect(peer!.upgrades.map((u) => u.status)).toEqual([401, 101, 101]);
  });

  it('refuses upgrades on demand with the given status and body', async () => {
    peer = await startVoiceLivePeer();
    peer!.refuseNextUpgrades(503, 1, '{"error":"busy"}');
    await expect(open()).rejects.toThrow(/503/);
    await open();
    expect(peer!.sessions).toHaveLength(1);
  });

  it('answers session.update with the merged session, and summarises appended audio', async () => {
    const line = await open();
    line.send(sessionUpdate16k);
    const updated = await line.next('session.updated');
    expect(updated.session).toMatchObject({ input_audio_sampling_rate: 16000, output_audio_format: 'pcm16_16000hz', modalities: ['text', 'audio'] });
    appendAudio(line, new Int16Array(640));
    const session = await peer!.nextSession();
    await session.waitFor('input_audio_buffer.append', () => session.receivedAudioBytes() === 1280);
    expect(session.received.at(-1)?.event).toEqual({ type: 'input_audio_buffer.append', audioBytes: 640 });
  });

  it('reports VAD positions in milliseconds of audio appended so far, the start including the prefix padding', async () => {
    const line = await open();
    line.send(sessionUpdate16k);
    const session = await peer!.nextSession();
    appendAudio(line, new Int16Array(16000 * 0.3));
    await session.waitFor('input_audio_buffer.append', () => session.receivedAudioBytes() === 9600);
    session.speechStarted();
    appendAudio(line, new Int16Array(16000 * 0.2));
    await session.waitFor('input_audio_buffer.append', () => session.receivedAudioBytes() === 16000);
    session.speechStopped({ transcript: 'hello' });
    expect(await line.next('input_audio_buffer.speech_started')).toMatchObject({ audio_start_ms: 300 - 120 });
    expect(await line.next('input_audio_buffer.speech_stopped')).toMatchObject({ audio_end_ms: 500 });
    expect(await line.next('conversation.item.input_audio_transcription.completed')).toMatchObject({ transcript: 'hello' });
  });

  it('streams a response and stops it early with status cancelled on response.cancel', async () => {
    const line = await open();
    const session = await peer!.nextSession();
    const responding = session.respondWithAudio(new Int16Array(24000 * 2), { transcript: 'a long answer', realTime: true, chunkMs: 20 });
    await line.next('response.audio.delta');
    line.send({ type: 'response.cancel' });
    await responding;
    const done = await line.next('response.done');
    expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' } });
    const deltas = line.events.filter((e) => e.type === 'response.audio.delta').length;
    expect(deltas).toBeLessThan(100);
    line.send({ type: 'response.cancel', event_id: 'ev1' });
    const error = await line.next('error');
    expect(error.error).toEqual({ type: 'invalid_request_error', code: 'response_cancel_not_active', message: expect.any(String), param: null, event_id: 'ev1' });
  });

  it('truncates an assistant item only within the audio it has', async () => {
    const line = await open();
    const session = await peer!.nextSession();
    const { itemId } = await session.respondWithAudio(new Int16Array(24000 * 0.5));
    line.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: 800, event_id: 'ev2' });
    const error = await line.next('error');
    expect(error.error).toMatchObject({ code: 'invalid_value', param: 'audio_end_ms', event_id: 'ev2' });
    line.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: 300 });
    expect(await line.next('conversation.item.truncated')).toMatchObject({ item_id: itemId, audio_end_ms: 300 });
  });

  it('echoes conversation items and reports function calls in the documented order', async () => {
    const line = await open();
    const session = await peer!.nextSession();
    line.send({ type: 'conversation.item.create', item: { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'x' }] } });
    expect(await line.next('conversation.item.created')).toMatchObject({ previous_item_id: null, item: { role: 'system', id: expect.any(String) } });
    const { callId } = await session.callFunction('end_call', { reason: 'bye' });
    await line.next('response.done');
    const types = line.events.map((e) => e.type).slice(-7);
    expect(types).toEqual([
      'response.created',
      'response.output_item.added',
      'conversation.item.created',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.done',
    ]);
    expect(line.events.find((e) => e.type === 'response.function_call_arguments.done')).toMatchObject({ call_id: callId, name: 'end_call', arguments: '{"reason":"bye"}' });
  });

  it('closes sessions at their expiry', async () => {
    peer = await startVoiceLivePeer({ sessionExpiresInMs: 200 });
    const line = await open();
    const created = await line.next('session.created');
    expect((created.session as { expires_at: number }).expires_at * 1000).toBeGreaterThan(Date.now());
    const code = await new Promise<number>((resolve) => line.ws.once('close', (c) => resolve(c)));
    expect(code).toBe(1000);
  });
});

describe('Voice Live test peer, echo agent', () => {
  it('detects the caller by energy, then plays their words back at the output rate', async () => {
    const line = await open({ mode: 'echo-agent' });
    line.send(sessionUpdate16k);
    await line.next('session.updated');
    appendAudio(line, new Int16Array(16000 * 0.2));
    appendAudio(line, tone(16000, 400));
    appendAudio(line, new Int16Array(16000 * 0.4));
    // Speech from 200 to 600 ms: the start includes the 120 ms prefix padding, the end is the end of the 200 ms
    // of silence that closed the turn.
    expect(await line.next('input_audio_buffer.speech_started')).toMatchObject({ audio_start_ms: 200 - 120 });
    expect(await line.next('input_audio_buffer.speech_stopped')).toMatchObject({ audio_end_ms: 600 + 200 });
    await line.next('response.done');
    const bytes = line.events
      .filter((e) => e.type === 'response.audio.delta')
      .reduce((sum, e) => sum + Buffer.from(String(e.delta), 'base64').length, 0);
    // 400 ms at 16 kHz, give or take the VAD's 20 ms frames.
    expect(bytes).toBeGreaterThanOrEqual(16000 * 2 * 0.38);
    expect(bytes).toBeLessThanOrEqual(16000 * 2 * 0.44);
  });

  describe('voicemail rule (the stand-in for the model recognising a mailbox greeting)', () => {
    const voicemailTool = { type: 'function', name: 'report_voicemail', description: 'a mailbox answered', parameters: { type: 'object', properties: {} } };
    const withTools = (tools: object[]) => ({ ...sessionUpdate16k, session: { ...sessionUpdate16k.session, tools } });
    const turn = (line: Line, ms: number) => {
      appendAudio(line, tone(16000, ms));
      appendAudio(line, new Int16Array(16000 * 0.3));
    };

    it('calls the offered tool instead of echoing a first turn of 3 s or more, and echoes later turns', async () => {
      const line = await open({ mode: 'echo-agent' });
      line.send(withTools([voicemailTool]));
      await line.next('session.updated');
      turn(line, 3200);
      const call = await line.next('response.function_call_arguments.done');
      expect(call).toMatchObject({ name: 'report_voicemail' });
      expect(JSON.parse(String(call.arguments))).toEqual({ reason: expect.stringContaining('3.2 s monologue') });
      expect(line.events.some((e) => e.type === 'response.audio.delta')).toBe(false);
      turn(line, 400);
      await line.next('response.audio.delta');
    });

    it('echoes a short first turn, a long one when the tool is not offered, and nothing changes with the rule off', async () => {
      const short = await open({ mode: 'echo-agent' });
      short.send(withTools([voicemailTool]));
      await short.next('session.updated');
      turn(short, 600);
      await short.next('response.audio.delta');

      const notOffered = await open();
      notOffered.send(withTools([]));
      await notOffered.next('session.updated');
      turn(notOffered, 3200);
      await notOffered.next('response.audio.delta');
      expect(notOffered.events.some((e) => e.type === 'response.function_call_arguments.done')).toBe(false);
      await peer!.close();
      peer = undefined;

      const off = await open({ mode: 'echo-agent', voicemailRule: false });
      off.send(withTools([voicemailTool]));
      await off.next('session.updated');
      turn(off, 3200);
      await off.next('response.audio.delta');
      expect(off.events.some((e) => e.type === 'response.function_call_arguments.done')).toBe(false);
    });
  });

  it('greets with a tone on response.create without input, and is interrupted by caller speech', async () => {
    const line = await open({ mode: 'echo-agent', audioChunkMs: 20 });
    line.send({ ...sessionUpdate16k });
    await line.next('session.updated');
    const session = await peer!.nextSession();
    line.send({ type: 'response.create' });
    await line.next('response.created');
    session.speechStarted();
    const done = await line.next('response.done');
    expect(done.response).toMatchObject({ status: 'cancelled', status_details: { reason: 'turn_detected' } });
  });

  it('plays the configured greeting, resampled to the output rate, on response.create without input; a pre-generated message still gets beeps', async () => {
    const greeting = tone(24000, 500, 440);
    const line = await open({ mode: 'echo-agent', audioChunkMs: 100, greeting: { samples: greeting, sampleRateHz: 24000, transcript: 'Hello from the lab.' } });
    line.send({ ...sessionUpdate16k });
    await line.next('session.updated');
    line.send({ type: 'response.create' });
    const done = await line.next('response.audio_transcript.done');
    expect(done.transcript).toBe('Hello from the lab.');
    await line.next('response.done');
    const bytes = line.events.filter((e) => e.type === 'response.audio.delta').reduce((sum, e) => sum + Buffer.from(e.delta as string, 'base64').length, 0);
    expect(bytes).toBe(16000 * 2 * 0.5); // 500 ms at the session's 16 kHz, not 24 kHz

    line.send({ type: 'response.create', response: { pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hi Ada.' }] } } });
    const second = await line.next('response.audio_transcript.done', (e) => e.transcript === 'Hi Ada.');
    expect(second.transcript).toBe('Hi Ada.');
  });

  it('calls a greeting function with the output rate, and tells onSession listeners of each accepted socket', async () => {
    const rates: number[] = [];
    peer = await startVoiceLivePeer({ mode: 'echo-agent', greeting: (rateHz) => (rates.push(rateHz), tone(rateHz, 100)) });
    const accepted: string[] = [];
    const stop = peer.onSession((session) => accepted.push(session.id));
    const line = await open();
    await line.next('session.created');
    expect(accepted).toEqual([peer.sessions[0]!.id]);
    line.send({ type: 'response.create' });
    await line.next('response.done');
    expect(rates).toEqual([24000]);
    stop();
    await (await open()).next('session.created');
    expect(accepted).toHaveLength(1);
  });

  it('ends a pending nextSession() at close() instead of waiting out its timeout', async () => {
    peer = await startVoiceLivePeer();
    const waiting = peer.nextSession(60_000);
    await peer.close();
    peer = undefined;
    await expect(waiting).rejects.toThrow(/closed/);
  });
});

describe('Voice Live test peer, strict as the service', () => {
  it('refuses a response.create while a response is active with conversation_already_has_active_response, and the first goes on', async () => {
    const line = await open({ mode: 'echo-agent', audioChunkMs: 20 });
    line.send(sessionUpdate16k);
    await line.next('session.updated');
    line.send({ type: 'response.create' });
    const created = await line.next('response.created');
    line.send({ type: 'response.create', event_id: 'second' });
    const error = await line.next('error');
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'conversation_already_has_active_response', event_id: 'second' });
    const done = await line.next('response.done');
    expect(done.response).toMatchObject({ id: (created.response as { id: string }).id, status: 'completed' });
    expect(line.events.filter((e) => e.type === 'response.created')).toHaveLength(1);
    // Once it is done, a new one is taken.
    line.send({ type: 'response.create' });
    await line.next('response.done', (e) => (e.response as { id: string }).id !== (created.response as { id: string }).id);
  });

  it.each([
    [{ input_audio_sampling_rate: 11025 }, 'session.input_audio_sampling_rate'],
    [{ input_audio_format: 'pcm32' }, 'session.input_audio_format'],
    [{ output_audio_format: 'pcm16_44100hz' }, 'session.output_audio_format'],
    [{ voice: { type: 'azure-standard', name: 'Nobody' } }, 'session.voice.name'],
    [{ voice: { type: 'openai', name: 'nova-lab' } }, 'session.voice.name'],
    [{ voice: { type: 'azure-custom', name: 'en-US-CustomNeural' } }, 'session.voice.endpoint_id'],
    [{ turn_detection: { type: 'loud_vad' } }, 'session.turn_detection.type'],
    [{ input_audio_transcription: { model: 'ears-2' } }, 'session.input_audio_transcription.model'],
    [{ modalities: ['audio'] }, 'session.modalities'],
    [{ max_response_output_tokens: 10_000 }, 'session.max_response_output_tokens'],
  ])('refuses session.update %j with an invalid_request_error naming %s, and keeps the previous settings', async (update, param) => {
    const line = await open();
    line.send(sessionUpdate16k);
    await line.next('session.updated');
    line.send({ type: 'session.update', event_id: 'bad', session: { instructions: 'changed', ...update } });
    const error = await line.next('error');
    expect(error.error).toMatchObject({ type: 'invalid_request_error', param, event_id: 'bad', message: expect.any(String) });
    expect(line.events.filter((e) => e.type === 'session.updated')).toHaveLength(1);
    const session = await peer!.nextSession();
    expect(session.session).toMatchObject({ instructions: '', input_audio_sampling_rate: 16000, output_audio_format: 'pcm16_16000hz' });
  });

  it('accepts the voices and formats the worker uses, and refuses to change the input rate once audio flowed', async () => {
    const line = await open();
    line.send({ type: 'session.update', session: { ...sessionUpdate16k.session, voice: { type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural', temperature: 0.8 } } });
    await line.next('session.updated');
    appendAudio(line, new Int16Array(320));
    line.send({ type: 'session.update', session: { input_audio_sampling_rate: 24000 } });
    expect((await line.next('error')).error).toMatchObject({ param: 'session.input_audio_sampling_rate' });
  });

  it('sends no input transcript unless input_audio_transcription is configured (off by default)', async () => {
    const line = await open();
    const session = await peer!.nextSession();
    appendAudio(line, new Int16Array(16000 * 0.2));
    await session.waitFor('input_audio_buffer.append', () => session.receivedAudioBytes() === 6400);
    session.speechStarted();
    session.speechStopped({ transcript: 'hello' });
    await line.next('conversation.item.created');
    line.send({ type: 'session.update', session: { input_audio_transcription: { model: 'azure-speech' } } });
    await line.next('session.updated');
    session.speechStarted();
    session.speechStopped({ transcript: 'second' });
    const completed = await line.next('conversation.item.input_audio_transcription.completed');
    expect(completed.transcript).toBe('second');
    expect(line.events.filter((e) => e.type === 'conversation.item.input_audio_transcription.completed')).toHaveLength(1);
  });

  it.each([
    [1, 'after'],
    [0, 'before'],
  ])('echo agent with lateTranscriptFraction %d: the transcript completes %s response.created', async (fraction, when) => {
    const line = await open({ mode: 'echo-agent', lateTranscriptFraction: fraction });
    line.send(sessionUpdate16k);
    await line.next('session.updated');
    appendAudio(line, tone(16000, 400));
    appendAudio(line, new Int16Array(16000 * 0.4));
    await line.next('conversation.item.input_audio_transcription.completed');
    const types = line.events.map((e) => e.type);
    const transcriptAt = types.indexOf('conversation.item.input_audio_transcription.completed');
    const createdAt = types.indexOf('response.created');
    expect(createdAt).toBeGreaterThan(0);
    if (when === 'after') expect(transcriptAt).toBeGreaterThan(createdAt);
    else expect(transcriptAt).toBeLessThan(createdAt);
  });

  it('reports usage as the service does: text, audio and cached input with their details, text and audio output', async () => {
    const line = await open({ mode: 'echo-agent', audioChunkMs: 100 });
    line.send({ type: 'session.update', session: { ...sessionUpdate16k.session, instructions: 'You are a helpful agent. '.repeat(40) } });
    await line.next('session.updated');
    line.send({ type: 'response.create' });
    const first = await line.next('response.done');
    appendAudio(line, tone(16000, 600));
    appendAudio(line, new Int16Array(16000 * 0.4));
    const second = await line.next('response.done', (e) => e !== first);
    const usage = (second.response as { usage: Record<string, Record<string, unknown>> }).usage;
    expect(usage.input_token_details).toEqual({
      cached_tokens: expect.any(Number),
      text_tokens: expect.any(Number),
      audio_tokens: expect.any(Number),
      image_tokens: 0,
      cached_tokens_details: { text_tokens: expect.any(Number), audio_tokens: expect.any(Number), image_tokens: 0 },
    });
    const input = usage.input_token_details as { cached_tokens: number; text_tokens: number; audio_tokens: number; cached_tokens_details: { text_tokens: number; audio_tokens: number } };
    expect(input.text_tokens).toBeGreaterThan(0);
    expect(input.audio_tokens).toBeGreaterThan(0);
    expect(input.cached_tokens).toBeGreaterThan(0);
    expect(input.cached_tokens).toBe(input.cached_tokens_details.text_tokens + input.cached_tokens_details.audio_tokens);
    expect(usage.output_token_details).toEqual({ text_tokens: expect.any(Number), audio_tokens: expect.any(Number) });
    expect((usage.output_token_details as { audio_tokens: number }).audio_tokens).toBeGreaterThan(0);
    expect(usage).toMatchObject({ input_tokens: input.text_tokens + input.audio_tokens });
  });
});
