import { describe, expect, it } from 'vitest';
import { parseServerEvent } from './events.js';

describe('parseServerEvent', () => {
  it('accepts an audio delta with only the fields the relay needs', () => {
    const result = parseServerEvent('{"type":"response.audio.delta","response_id":"r","item_id":"i","delta":"AAAA"}');
    expect(result).toEqual({ ok: true, event: { type: 'response.audio.delta', response_id: 'r', item_id: 'i', delta: 'AAAA' } });
  });

  it('keeps fields the schema does not know about', () => {
    const result = parseServerEvent(JSON.stringify({ type: 'session.created', session: { id: 's', expires_at: 1767225600, agent: null, extra: 1 } }));
    expect(result.ok && result.event.type === 'session.created' && result.event.session).toMatchObject({ expires_at: 1767225600, extra: 1 });
  });

  it('passes unknown event types through untouched', () => {
    const result = parseServerEvent('{"type":"response.audio_timestamp.delta","text":"hi"}');
    expect(result).toEqual({ ok: true, event: { type: 'other', eventType: 'response.audio_timestamp.delta', event: { type: 'response.audio_timestamp.delta', text: 'hi' } } });
  });

  it('rejects malformed input with a reason instead of throwing', () => {
    expect(parseServerEvent('{')).toEqual({ ok: false, reason: 'not JSON' });
    expect(parseServerEvent('null')).toMatchObject({ ok: false, reason: 'not a JSON object' });
    expect(parseServerEvent('{"type":7}')).toMatchObject({ ok: false });
    expect(parseServerEvent('{"type":"response.audio.delta","response_id":"r"}')).toMatchObject({ ok: false, eventType: 'response.audio.delta' });
    expect(parseServerEvent('{"type":"input_audio_buffer.speech_started","item_id":"i"}')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('audio_start_ms'),
    });
  });

  it('accepts the documented error shape with nulls', () => {
    const result = parseServerEvent(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', code: 'x', message: 'm', param: null, event_id: null } }));
    expect(result.ok).toBe(true);
  });
});
