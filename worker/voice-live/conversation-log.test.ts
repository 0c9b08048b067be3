import { describe, expect, it } from 'vitest';
import { ConversationLog } from './conversation-log.js';
import type { ServerEvent } from './events.js';

const created = (id: string, previous: string | null, item: Record<string, unknown>): ServerEvent =>
  ({ type: 'conversation.item.created', previous_item_id: previous, item: { id, ...item } }) as ServerEvent;

describe('ConversationLog', () => {
  it('orders items by previous_item_id even when transcripts arrive late', () => {
    const log = new ConversationLog({ outputRateHz: 16000 });
    log.onServerEvent(created('u1', null, { type: 'message', role: 'user', content: [{ type: 'input_audio' }] }));
    log.onServerEvent(created('a1', 'u1', { type: 'message', role: 'assistant', content: [] }));
    log.onServerEvent({ type: 'response.audio_transcript.done', response_id: 'r', item_id: 'a1', output_index: 0, content_index: 0, transcript: 'Hello!' });
    log.onServerEvent({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'u1', transcript: 'Hi' });
    expect(log.replayItems().items).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
    ]);
  });

  it('seeds a conversation carried from another replica ahead of what this session recorded, and returns the items that rebuild it', () => {
    const log = new ConversationLog({ outputRateHz: 16000 });
    log.onServerEvent(created('new1', null, { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'still there?' }] }));
    const items = log.seed([
      { kind: 'message', role: 'assistant', itemId: 'old-a', text: 'Hello, how can I help?', audioMs: 2000, heardMs: 2000 },
      { kind: 'message', role: 'user', itemId: 'old-u', text: 'My order is late.' },
    ]);
    expect(items).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hello, how can I help?' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'My order is late.' }] },
    ]);
    expect(log.replayItems().items.map((i) => (i.content as { text: string }[])[0]!.text)).toEqual(['Hello, how can I help?', 'My order is late.', 'still there?']);
    // The old session's item ids mean nothing here.
    expect(log.snapshot().map((e) => e.itemId)).toEqual([undefined, undefined, 'new1']);
  });

  it('keeps only the heard share of an interrupted assistant message', () => {
    const log = new ConversationLog({ outputRateHz: 16000 });
    log.onServerEvent(created('a1', null, { type: 'message', role: 'assistant' }));
    // 1000 ms of 16 kHz PCM16 = 32000 bytes = 42668 base64 chars
    log.addAudio('a1', Math.ceil(32000 / 3) * 4);
    log.onServerEvent({ type: 'response.audio_transcript.done', response_id: 'r', item_id: 'a1', output_index: 0, content_index: 0, transcript: 'one two three four five six seven eight' });
    log.onServerEvent({ type: 'conversation.item.truncated', item_id: 'a1', content_index: 0, audio_end_ms: 500 });
    expect(log.snapshot()[0]).toMatchObject({ text: 'one two three four…', heardMs: 500, audioMs: 1000 });
  });

  it('records function calls and the client outputs, matched to the ids the server gives them', () => {
    const log = new ConversationLog({ outputRateHz: 24000 });
    log.onServerEvent(created('f1', null, { type: 'function_call', name: 'end_call', call_id: 'c1', arguments: '' }));
    log.onServerEvent({ type: 'response.function_call_arguments.done', response_id: 'r', item_id: 'f1', output_index: 0, call_id: 'c1', arguments: '{"reason":"done"}' });
    log.recordClientItem({ type: 'function_call_output', call_id: 'c1', output: '{"ok":true}' });
    log.onServerEvent(created('o1', 'f1', { type: 'function_call_output', call_id: 'c1', output: '{"ok":true}' }));
    expect(log.size).toBe(2);
    expect(log.snapshot()[1]).toMatchObject({ kind: 'function_call_output', itemId: 'o1' });
    expect(log.replayItems().items).toEqual([
      { type: 'function_call', name: 'end_call', call_id: 'c1', arguments: '{"reason":"done"}' },
      { type: 'function_call_output', call_id: 'c1', output: '{"ok":true}' },
    ]);
  });

  it("matches a client item to the server's item of the same role and call, not to the caller's turn created meanwhile", () => {
    const log = new ConversationLog({ outputRateHz: 16000 });
    log.recordClientItem({ type: 'message', role: 'system', content: [{ type: 'input_text', text: 'Caller context' }] });
    log.recordClientItem({ type: 'function_call_output', call_id: 'c-late', output: '{}' });
    // The caller's speech is committed before the server acknowledges our item.
    log.onServerEvent(created('u1', null, { type: 'message', role: 'user', content: [{ type: 'input_audio' }] }));
    log.onServerEvent({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'u1', transcript: 'Hello there' });
    log.onServerEvent(created('s1', 'u1', { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'Caller context' }] }));
    log.onServerEvent(created('o2', null, { type: 'function_call_output', call_id: 'c2', output: '{}' }));
    log.onServerEvent(created('o1', null, { type: 'function_call_output', call_id: 'c-late', output: '{}' }));
    expect(log.snapshot()).toEqual([
      { kind: 'message', role: 'system', itemId: 's1', text: 'Caller context' },
      { kind: 'function_call_output', itemId: 'o1', callId: 'c-late', output: '{}' },
      { kind: 'message', role: 'user', itemId: 'u1', text: 'Hello there' },
      { kind: 'function_call_output', itemId: 'o2', callId: 'c2', output: '{}' },
    ]);
  });

  it('skips turns with nothing to replay, already-replayed entries and deleted items', () => {
    const log = new ConversationLog({ outputRateHz: 16000 });
    log.onServerEvent(created('u1', null, { type: 'message', role: 'user' }));
    log.onServerEvent(created('a1', 'u1', { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'A' }] }));
    const first = log.replayItems();
    expect(first.items).toHaveLength(1);
    log.onServerEvent(created('a2', 'a1', { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'B' }] }));
    log.onServerEvent(created('a3', 'a2', { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'C' }] }));
    log.onServerEvent({ type: 'conversation.item.deleted', item_id: 'a3' });
    expect(log.replayItems(first.entries).items).toEqual([{ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'B' }] }]);
  });

  it('forgets the oldest entries beyond its bound', () => {
    const log = new ConversationLog({ outputRateHz: 16000, maxEntries: 3 });
    for (let i = 0; i < 5; i++) log.onServerEvent(created(`a${i}`, null, { type: 'message', role: 'assistant', content: [{ type: 'text', text: `t${i}` }] }));
    expect(log.snapshot().map((e) => (e.kind === 'message' ? e.text : ''))).toEqual(['t2', 't3', 't4']);
  });
});
