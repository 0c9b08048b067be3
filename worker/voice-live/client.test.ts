import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TokenCredential } from '@azure/core-auth';
import { startVoiceLivePeer, type PeerSession, type VoiceLivePeer, type VoiceLivePeerOptions } from '../../lab/voice-live/index.js';
import { VoiceLiveClient, VoiceLiveError, type VoiceLiveClientOptions } from './client.js';
import type { ServerEvent } from './events.js';
import type { VoiceLiveSessionSettings } from './session-config.js';

const settings: VoiceLiveSessionSettings = {
  instructions: 'You are a phone agent.',
  voice: { type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural', temperature: 0.8 },
  turnDetection: { type: 'azure_semantic_vad', silenceDurationMs: 500, removeFillerWords: true },
  noiseSuppression: true,
  echoCancellation: true,
  transcription: { model: 'azure-speech', language: 'en-US' },
  inputRateHz: 16000,
  outputRateHz: 16000,
};

let peer: VoiceLivePeer;
const clients: VoiceLiveClient[] = [];

async function startPeer(options: VoiceLivePeerOptions = {}): Promise<VoiceLivePeer> {
  await peer?.close();
  peer = await startVoiceLivePeer({ apiKey: 'test-key', ...options });
  return peer;
}

function makeClient(overrides: Partial<VoiceLiveClientOptions> = {}): VoiceLiveClient {
  const client = new VoiceLiveClient({
    endpoint: peer.url,
    apiVersion: '2026-07-15',
    target: { kind: 'model', model: 'gpt-realtime' },
    auth: { apiKey: 'test-key' },
    session: settings,
    callId: 'call-1',
    reconnect: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 40 },
    ...overrides,
  });
  clients.push(client);
  return client;
}

function collect(client: VoiceLiveClient): { events: ServerEvent[]; types: () => string[] } {
  const events: ServerEvent[] = [];
  client.on('event', (e) => events.push(e));
  return { events, types: () => events.map((e) => (e.type === 'other' ? `other:${e.eventType}` : e.type)) };
}

/** The items a session was given with conversation.item.create, without the ids the client gives replayed items (checked here). */
function replayedItems(session: PeerSession): Record<string, unknown>[] {
  return session.received
    .filter((r) => r.type === 'conversation.item.create')
    .map((r) => {
      const { id, ...item } = r.event.item as Record<string, unknown>;
      expect(id).toMatch(/^rp_[0-9a-f]{16}$/);
      return item;
    });
}

function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

const pcm = (ms: number, rateHz = 16000): Buffer => Buffer.alloc((rateHz / 1000) * ms * 2, 1);

beforeEach(async () => {
  await startPeer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await peer.close();
});

describe('VoiceLiveClient connecting', () => {
  it('sends session.update first with the api-key header and no key in the URL, and resolves after session.updated', async () => {
    const client = makeClient();
    await client.connect();
    const session = peer.sessions[0]!;
    expect(session.received[0]?.type).toBe('session.update');
    expect(session.headers['api-key']).toBe('test-key');
    expect(session.headers.authorization).toBeUndefined();
    expect(session.query.get('api-version')).toBe('2026-07-15');
    expect(session.query.get('model')).toBe('gpt-realtime');
    expect(peer.upgrades[0]!.url).toMatch(/^\/voice-live\/realtime\?/);
    expect(peer.upgrades[0]!.url).not.toContain('test-key');
    const update = session.received[0]!.event as { session: Record<string, unknown> };
    expect(update.session.input_audio_sampling_rate).toBe(16000);
    expect(update.session.output_audio_format).toBe('pcm16_16000hz');
    expect(update.session.metadata).toEqual({ callId: 'call-1' });
    expect(client.isOpen).toBe(true);
  });

  it('authenticates with a bearer token from a TokenCredential for the ai.azure.com scope, in agent mode', async () => {
    await startPeer({ apiKey: undefined, acceptBearer: (token) => token === 'entra-token' });
    const scopes: (string | string[])[] = [];
    const credential: TokenCredential = {
      getToken: async (scope) => {
        scopes.push(scope);
        return { token: 'entra-token', expiresOnTimestamp: Date.now() + 3600_000 };
      },
    };
    const { instructions: _omitted, ...agentSettings } = settings;
    const client = makeClient({
      auth: { credential },
      target: { kind: 'agent', agentName: 'receptionist', projectName: 'contoso', agentVersion: '3' },
      session: agentSettings,
    });
    await client.connect();
    const session = peer.sessions[0]!;
    expect(session.headers.authorization).toBe('Bearer entra-token');
    expect(session.headers['api-key']).toBeUndefined();
    expect(scopes).toEqual(['https://ai.azure.com/.default']);
    expect(Object.fromEntries(session.query)).toEqual({
      'api-version': '2026-07-15',
      'agent-name': 'receptionist',
      'agent-project-name': 'contoso',
      'agent-version': '3',
    });
    expect((session.received[0]!.event as { session: Record<string, unknown> }).session).not.toHaveProperty('instructions');
  });

  it('connects a classic agent by id with its Entra token, as the bearer and as the agent token in the query, never the API key', async () => {
    await startPeer({ apiKey: 'test-key', acceptBearer: (token) => token === 'agent-token' });
    const credential: TokenCredential = { getToken: async () => ({ token: 'agent-token', expiresOnTimestamp: Date.now() + 3600_000 }) };
    const { instructions: _omitted, ...agentSettings } = settings;
    const client = makeClient({ auth: { apiKey: 'test-key', credential }, target: { kind: 'agent-classic', agentId: 'asst_123', projectName: 'contoso' }, session: agentSettings });
    await client.connect();
    const session = peer.sessions[0]!;
    expect(session.headers['api-key']).toBeUndefined();
    expect(session.headers.authorization).toBe('Bearer agent-token');
    expect(Object.fromEntries(session.query)).toEqual({
      'api-version': '2026-07-15',
      'agent-id': 'asst_123',
      'agent-project-name': 'contoso',
      'agent-access-token': 'agent-token',
    });
  });

  it('refuses an agent with only an API key: Voice Live does not support key authentication for agents', () => {
    expect(() => makeClient({ target: { kind: 'agent-classic', agentId: 'asst_123', projectName: 'contoso' } })).toThrow(/options\.auth\.credential: an agent needs a Microsoft Entra credential/);
    expect(() => makeClient({ target: { kind: 'agent', agentName: 'receptionist', projectName: 'contoso' } })).toThrow(/options\.auth\.credential: an agent needs/);
  });

  it('sends a text greeting once, after session.updated, as a pre-generated assistant message', async () => {
    const client = makeClient({ greeting: { kind: 'text', text: 'Hello, Contoso here.' } });
    await client.connect();
    const session = peer.sessions[0]!;
    const create = await session.waitFor('response.create');
    expect(session.received.map((r) => r.type)).toEqual(['session.update', 'response.create']);
    expect(create.response).toEqual({
      pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hello, Contoso here.' }] },
    });
  });

  it('sends a generated greeting as a system item followed by response.create', async () => {
    const client = makeClient({ greeting: { kind: 'generated', instruction: 'Greet the caller.' } });
    await client.connect();
    const session = peer.sessions[0]!;
    await session.waitFor('response.create');
    expect(session.received.map((r) => r.type)).toEqual(['session.update', 'conversation.item.create', 'response.create']);
  });

  it('rejects bad options at construction, naming the option', () => {
    expect(() => makeClient({ endpoint: 'ftp://x' })).toThrow(/options\.endpoint/);
    expect(() => makeClient({ auth: { apiKey: '' } })).toThrow(/options\.auth/);
    expect(() => makeClient({ session: { ...settings, inputRateHz: 44100 as 16000 } })).toThrow(/options\.session\.inputRateHz/);
    expect(() => makeClient({ target: { kind: 'agent', agentName: 'a', projectName: '' } })).toThrow(/options\.target/);
  });
});

describe('VoiceLiveClient events', () => {
  it('emits every event in arrival order, audio deltas also on the fast path, unknown types passed through', async () => {
    const client = makeClient();
    const { types } = collect(client);
    const audio: string[] = [];
    client.on('audio', (d) => audio.push(`${d.responseId}/${d.itemId}/${d.base64.length}`));
    await client.connect();
    const session = peer.sessions[0]!;
    session.send({ type: 'rate_limits.updated', rate_limits: [{ name: 'tokens', limit: 10, remaining: 9, reset_seconds: 1 }] });
    session.send({ type: 'response.future_thing', x: 1 });
    const { responseId, itemId } = await session.respondWithAudio(pcm(100), { transcript: 'Hi there', chunkMs: 20 });
    await until(() => types().includes('response.done'));
    expect(types()).toEqual([
      'rate_limits.updated',
      'other:response.future_thing',
      'response.created',
      'response.output_item.added',
      'conversation.item.created',
      'response.content_part.added',
      'response.audio_transcript.delta',
      'response.audio.delta',
      'response.audio.delta',
      'response.audio_transcript.delta',
      'response.audio.delta',
      'response.audio.delta',
      'response.audio.delta',
      'response.audio.done',
      'response.audio_transcript.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.done',
    ]);
    expect(audio).toHaveLength(5);
    expect(audio[0]).toBe(`${responseId}/${itemId}/${pcm(20).toString('base64').length}`);
  });

  it('counts malformed events and reports them as warnings without closing the session', async () => {
    const client = makeClient();
    const { types } = collect(client);
    const warnings: string[] = [];
    client.on('warning', (w) => warnings.push(w.code));
    await client.connect();
    const session = peer.sessions[0]!;
    const ws = (session as unknown as { ws: { send(data: string | Buffer): void } }).ws;
    ws.send('not json');
    ws.send('[1,2]');
    session.send({ type: 'response.audio.delta', item_id: 'i' });
    session.send({ type: 'response.done', response: { status: 'completed' } });
    session.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: 10, item_id: 'item_1' });
    await until(() => types().includes('input_audio_buffer.speech_started'));
    expect(client.stats.malformedEvents).toBe(4);
    expect(warnings).toEqual(['malformed_event', 'malformed_event', 'malformed_event', 'malformed_event']);
    expect(client.isOpen).toBe(true);
  });

  it('treats response_cancel_not_active after its own cancel as benign', async () => {
    const client = makeClient();
    const { events } = collect(client);
    const warnings: unknown[] = [];
    client.on('warning', (w) => warnings.push(w));
    await client.connect();
    const session = peer.sessions[0]!;
    client.cancelResponse();
    await session.waitFor('response.cancel');
    session.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'item_x' });
    await until(() => events.some((e) => e.type === 'input_audio_buffer.speech_started'));
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
    expect(warnings).toEqual([]);
    // Other errors still reach the consumer.
    client.truncate('no_such_item', 100);
    await until(() => events.some((e) => e.type === 'error'));
    const error = events.find((e) => e.type === 'error');
    expect(error?.type === 'error' && error.error.code).toBe('item_not_found');
  });

  it('keeps going when a listener throws', async () => {
    const client = makeClient();
    client.on('event', () => {
      throw new Error('consumer bug');
    });
    const { types } = collect(client);
    await client.connect();
    peer.sessions[0]!.send({ type: 'input_audio_buffer.cleared' });
    peer.sessions[0]!.send({ type: 'input_audio_buffer.cleared' });
    await until(() => types().length === 2);
    expect(client.isOpen).toBe(true);
  });
});

describe('VoiceLiveClient reconnect', () => {
  it('reconnects after a drop, re-sends session.update and replays the conversation', async () => {
    const client = makeClient({ greeting: { kind: 'text', text: 'Hello.' } });
    const replaced: string[] = [];
    client.on('session-replaced', ({ reason }) => replaced.push(reason));
    await client.connect();
    const first = peer.sessions[0]!;
    await first.waitFor('response.create');
    first.speechStarted();
    first.speechStopped({ transcript: 'What are your opening hours?' });
    await first.respondWithAudio(pcm(60), { transcript: 'We open at nine.' });
    await first.callFunction('lookup_hours', { day: 'monday' });
    await until(() => client.conversationEntries.length === 3);
    const call = client.conversationEntries[2]!;
    client.createConversationItem({ type: 'function_call_output', call_id: call.kind === 'function_call' ? call.callId : '', output: '{"open":"09:00"}' });
    await first.waitFor('conversation.item.create', (e) => (e.item as { type: string }).type === 'function_call_output');
    await until(() => client.conversationEntries.length === 4 && client.conversationEntries[3]!.itemId !== undefined);

    first.drop(1006);
    const second = await peer.nextSession().then(() => peer.nextSession());
    await until(() => replaced.length === 1);
    expect(replaced).toEqual(['reconnect']);
    expect(client.stats.reconnects).toBe(1);
    expect(second.received[0]?.type).toBe('session.update');
    await second.waitFor('conversation.item.create', (e) => (e.item as { type: string }).type === 'function_call_output');
    const replayed = replayedItems(second);
    expect(replayed).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What are your opening hours?' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'We open at nine.' }] },
      { type: 'function_call', name: 'lookup_hours', call_id: call.kind === 'function_call' ? call.callId : '', arguments: '{"day":"monday"}' },
      { type: 'function_call_output', call_id: call.kind === 'function_call' ? call.callId : '', output: '{"open":"09:00"}' },
    ]);
    // The greeting is not repeated, and audio flows into the new session.
    expect(second.received.some((r) => r.type === 'response.create')).toBe(false);
    client.appendAudio(pcm(20).toString('base64'));
    await second.waitFor('input_audio_buffer.append');
    expect(second.receivedAudioBytes()).toBe(640);
  });

  it('counts caller audio sent while reconnecting as dropped', async () => {
    const client = makeClient({ reconnect: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 200 } });
    await client.connect();
    peer.refuseNextUpgrades(503, 1);
    peer.sessions[0]!.drop(1011, 'server error');
    await until(() => !client.isOpen);
    client.appendAudio(pcm(20).toString('base64'));
    client.appendAudio(pcm(20).toString('base64'));
    expect(client.stats.droppedAudioChunks).toBe(2);
    await until(() => client.isOpen);
    expect(peer.upgrades.map((u) => u.status)).toEqual([101, 503, 101]);
  });

  it('does not retry a 401 upgrade: connect rejects with the status and body, closed is fatal', async () => {
    const client = makeClient({ auth: { apiKey: 'wrong-key' } });
    const closed: unknown[] = [];
    client.on('closed', (c) => closed.push(c));
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VoiceLiveError);
    expect(error).toMatchObject({ code: 'UPGRADE_REJECTED', statusCode: 401, retryable: false });
    expect((error as VoiceLiveError).body).toContain('Access denied');
    expect(peer.upgrades).toHaveLength(1);
    expect(closed).toEqual([{ reason: expect.stringMatching(/authentication failed.*401/), code: 401, fatal: true, authFailed: true }]);
  });

  it('retries throttled upgrades and gives up after maxAttempts with a fatal close', async () => {
    peer.refuseNextUpgrades(429, 10, '{"error":{"code":"429","message":"Too many requests"}}');
    const client = makeClient({ reconnect: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 20 } });
    const closed: { fatal: boolean; reason: string }[] = [];
    client.on('closed', (c) => closed.push(c));
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPGRADE_REJECTED', statusCode: 429, retryable: true });
    expect(peer.upgrades.map((u) => u.status)).toEqual([429, 429, 429]);
    expect(closed).toHaveLength(1);
    expect(closed[0]).toMatchObject({ fatal: true, reason: expect.stringContaining('after 3 attempts') });
  });

  it('ends with a fatal close when reconnects after a drop are exhausted', async () => {
    const client = makeClient({ reconnect: { maxAttempts: 1, initialDelayMs: 5, maxDelayMs: 5 } });
    const closed: { fatal: boolean }[] = [];
    client.on('closed', (c) => closed.push(c));
    await client.connect();
    peer.refuseNextUpgrades(502, 5);
    peer.sessions[0]!.drop(1006);
    await until(() => closed.length === 1);
    expect(closed[0]!.fatal).toBe(true);
    expect(peer.upgrades.map((u) => u.status)).toEqual([101, 502, 502]);
  });

  it('does not reconnect after a policy-violation close (1008): the close is fatal', async () => {
    const client = makeClient();
    const closed: unknown[] = [];
    client.on('closed', (c) => closed.push(c));
    await client.connect();
    peer.sessions[0]!.drop(1008, 'invalid model');
    await until(() => closed.length === 1);
    expect(closed[0]).toMatchObject({ code: 1008, fatal: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.upgrades).toHaveLength(1);
  });
});

describe('VoiceLiveClient renewal before expiry', () => {
  it('opens a second session in the background and switches only when no response is active', async () => {
    await startPeer({ sessionExpiresInMs: 3000 });
    const client = makeClient({ renewBeforeExpiryMs: 2500 });
    const order: string[] = [];
    client.on('session-replaced', ({ reason }) => order.push(`replaced:${reason}`));
    client.on('event', (e) => {
      if (e.type === 'response.done') order.push('response.done');
    });
    await client.connect();
    const first = peer.sessions[0]!;
    first.speechStarted();
    first.speechStopped({ transcript: 'Tell me a long story.' });
    // A response is active while the replacement gets ready (at ~500 ms).
    const responding = first.respondWithAudio(pcm(800), { transcript: 'Once upon a time', realTime: true, chunkMs: 20 });
    const second = await peer.nextSession().then(() => peer.nextSession());
    await second.waitFor('conversation.item.create');
    expect(order).toEqual([]);
    await responding;
    await until(() => order.length === 2);
    expect(order).toEqual(['response.done', 'replaced:renewal']);
    expect(client.stats.renewals).toBe(1);
    expect(client.stats.reconnects).toBe(0);
    // What was said after the standby was seeded reaches it at the switch.
    await second.waitFor('conversation.item.create', (e) => (e.item as { role?: string }).role === 'assistant');
    const items = replayedItems(second);
    expect(items).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Tell me a long story.' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Once upon a time' }] },
    ]);
    await until(() => first.closed);
    client.appendAudio(pcm(20).toString('base64'));
    await second.waitFor('input_audio_buffer.append');
    expect(client.isOpen).toBe(true);
  });

  it('waits while the caller is speaking, then until the caller’s turn has been answered', async () => {
    // The replacement is ready at about 200 ms; a switch would be forced only at about 6.4 s.
    await startPeer({ sessionExpiresInMs: 8000 });
    const client = makeClient({ renewBeforeExpiryMs: 7800 });
    const replaced: string[] = [];
    client.on('session-replaced', ({ reason }) => replaced.push(reason));
    await client.connect();
    const first = peer.sessions[0]!;
    first.speechStarted();
    const second = await peer.nextSession().then(() => peer.nextSession());
    await second.waitFor('session.update');
    await new Promise((r) => setTimeout(r, 100));
    expect(replaced).toEqual([]);
    // The caller's turn then waits for its answer (a switch now would lose the question).
    first.speechStopped({ transcript: 'What is your address?' });
    await new Promise((r) => setTimeout(r, 100));
    expect(replaced).toEqual([]);
    await first.respondWithAudio(pcm(100), { transcript: 'One Main Street.' });
    // Well before the forced switch: the answer let it happen. (With so short a session the new one is itself
    // renewed at once, so a second switch may follow.)
    await until(() => replaced.length >= 1, 5000);
    await until(() => first.closed);
  });
});

describe('VoiceLiveClient close', () => {
  it('is idempotent, prompt, and emits closed once', async () => {
    const client = makeClient();
    const closed: unknown[] = [];
    client.on('closed', (c) => closed.push(c));
    await client.connect();
    const first = client.close('caller hung up');
    const second = client.close('again');
    expect(second).toBe(first);
    await first;
    await until(() => peer.sessions[0]!.closed);
    expect(closed).toEqual([{ reason: 'caller hung up', code: 1000, fatal: false }]);
    client.appendAudio('AAAA');
    client.createResponse();
    expect(client.stats.droppedAudioChunks).toBe(1);
  });

  it('stops a connect that is waiting to retry, and connect rejects', async () => {
    peer.refuseNextUpgrades(503, 10);
    const client = makeClient({ reconnect: { maxAttempts: 5, initialDelayMs: 10_000, maxDelayMs: 10_000 } });
    const connecting = client.connect().catch((e: unknown) => e);
    await until(() => peer.upgrades.length === 1);
    await client.close();
    expect(await connecting).toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(peer.upgrades).toHaveLength(1);
  });

  it('honours an abort signal on connect', async () => {
    const client = makeClient();
    const controller = new AbortController();
    const connecting = client.connect({ abortSignal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(await connecting).toBeInstanceOf(VoiceLiveError);
    expect(client.isOpen).toBe(false);
  });
});

describe('VoiceLiveClient hand-over after set-up', () => {
  it('delivers events that arrive right behind session.updated, before connect() has resolved', async () => {
    const client = makeClient();
    const audio: string[] = [];
    client.on('audio', (delta) => audio.push(delta.base64));
    const sessionPromise = peer.nextSession();
    const connected = client.connect();
    const session = await sessionPromise;
    await session.waitFor('session.update');
    // Same tick as the peer's session.updated: these land in the client's socket before its connect() continuation runs.
    for (let i = 0; i < 4; i++) {
      session.send({ type: 'response.audio.delta', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, delta: Buffer.from([i, i]).toString('base64') });
    }
    await connected;
    await until(() => audio.length === 4);
    expect(audio).toEqual([0, 1, 2, 3].map((i) => Buffer.from([i, i]).toString('base64')));
  });
});

describe('VoiceLiveClient items created while reconnecting', () => {
  it('sends an item created while the new session was being set up, after that session is configured', async () => {
    await startPeer({ apiKey: undefined, acceptBearer: () => true });
    let release: (() => void) | undefined;
    let calls = 0;
    const credential: TokenCredential = {
      getToken: async () => {
        calls++;
        // The second token (the reconnect) waits until the test has created its item.
        if (calls === 2) await new Promise<void>((resolve) => (release = resolve));
        return { token: 'token', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const client = makeClient({ auth: { credential } });
    await client.connect();
    const first = peer.sessions[0]!;
    const replaced = new Promise<void>((resolve) => client.on('session-replaced', () => resolve()));
    first.drop(1011, 'server error');
    await until(() => release !== undefined);
    client.createConversationItem({ type: 'function_call_output', call_id: 'call_42', output: '{"ok":true}' });
    release!();
    await replaced;
    const second = peer.sessions[1]!;
    const item = await second.waitFor('conversation.item.create', (e) => (e.item as { call_id?: string } | undefined)?.call_id === 'call_42');
    expect(item).toBeDefined();
    expect(second.received[0]?.type).toBe('session.update');
  });
});

describe('VoiceLiveClient replay after a reconnect', () => {
  it('passes on a live item that arrives while replayed items await their echo, and hides the echoes', async () => {
    const client = makeClient();
    const { events } = collect(client);
    await client.connect();
    client.createConversationItem({ type: 'message', role: 'system', content: [{ type: 'input_text', text: 'The caller is Ada.' }] });
    const first = peer.sessions[0]!;
    await first.waitFor('conversation.item.create');
    const secondSession = new Promise<PeerSession>((resolve) => {
      const remove = peer.onSession((session) => {
        remove();
        // The caller's turn is created by the service right behind session.updated, before the replayed item's echo.
        void session.waitFor('session.update').then(() =>
          session.send({ type: 'conversation.item.created', previous_item_id: null, item: { id: 'item_live', type: 'message', role: 'user', content: [] } }),
        );
        resolve(session);
      });
    });
    const replaced = new Promise<void>((resolve) => client.on('session-replaced', () => resolve()));
    first.drop(1011, 'server error');
    const second = await secondSession;
    await replaced;
    await second.waitFor('conversation.item.create');
    await until(() => events.some((e) => e.type === 'conversation.item.created' && e.item.id === 'item_live'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const created = events.filter((e) => e.type === 'conversation.item.created').map((e) => (e.type === 'conversation.item.created' ? e.item.role : ''));
    expect(created.filter((role) => role === 'system')).toHaveLength(1); // the first session's echo only, not the replay's
    expect(created).toContain('user');
  });
});
