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

describe('parseServerEvent: response.audio.delta (cut out by position, not parsed as JSON)', () => {
  const audio = Buffer.from(Array.from({ length: 640 }, (_, i) => (i * 7) & 0xff)).toString('base64');
  const wire = (fields: string): string => `{"type":"response.audio.delta",${fields}}`;

  it('returns the same event as a full parse, unknown fields kept', () => {
    const text = wire(`"event_id":"e1","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"${audio}","extra":{"a":[1]}}`.slice(0, -1));
    expect(parseServerEvent(text)).toEqual({ ok: true, event: JSON.parse(text) });
  });

  it('accepts the fields in any order, the audio first or last', () => {
    for (const text of [
      wire(`"delta":"${audio}","response_id":"r","item_id":"i"`),
      `{"item_id":"i","delta":"${audio}","type":"response.audio.delta","response_id":"r"}`,
      wire(`"response_id":"r","item_id":"i","delta":"${audio}"`),
    ]) {
      expect(parseServerEvent(text)).toEqual({ ok: true, event: { type: 'response.audio.delta', response_id: 'r', item_id: 'i', delta: audio } });
    }
  });

  it('accepts audio written with JSON escapes, unescaped', () => {
    const text = wire(`"response_id":"r","item_id":"i","delta":"AA\\u0041A"`);
    expect(parseServerEvent(text)).toMatchObject({ ok: true, event: { delta: 'AAAA' } });
  });

  it('accepts an empty delta and one larger than any scratch buffer', () => {
    expect(parseServerEvent(wire('"response_id":"r","item_id":"i","delta":""'))).toMatchObject({ ok: true, event: { delta: '' } });
    const big = Buffer.alloc(200_000, 1).toString('base64');
    expect(parseServerEvent(wire(`"response_id":"r","item_id":"i","delta":"${big}"`))).toMatchObject({ ok: true, event: { delta: big } });
  });

  it('rejects audio that is not canonical base64, with a reason and the event type', () => {
    for (const delta of ['AAA', 'AA!A', 'AA A', 'A===', 'AA\\nA', 'AA\\"A']) {
      expect(parseServerEvent(wire(`"response_id":"r","item_id":"i","delta":"${delta}"`)), delta).toEqual({
        ok: false,
        reason: expect.stringContaining('base64'),
        eventType: 'response.audio.delta',
      });
    }
  });

  it('rejects a raw control character in the audio as JSON.parse does', () => {
    expect(parseServerEvent(wire('"response_id":"r","item_id":"i","delta":"AA\tA"'))).toEqual({ ok: false, reason: 'not JSON' });
  });

  it('rejects a delta without its ids, or with ids of the wrong type', () => {
    for (const fields of [`"item_id":"i","delta":"${audio}"`, `"response_id":"r","delta":"${audio}"`, `"response_id":1,"item_id":"i","delta":"${audio}"`, `"response_id":"r","item_id":"i","delta":7`, `"response_id":"r","item_id":"i"`]) {
      expect(parseServerEvent(wire(fields)), fields).toMatchObject({ ok: false, eventType: 'response.audio.delta' });
    }
  });

  it('rejects broken JSON around well-formed audio', () => {
    for (const text of [
      wire(`"response_id":"r","item_id":"i","delta":"${audio}"`).slice(0, -1),
      wire(`"response_id":"r","item_id":"i","delta":"${audio}"}}`).slice(0, -1) + '}',
      wire(`"response_id":"r" "item_id":"i","delta":"${audio}"`),
      wire(`"response_id":"r","item_id":"i","delta":"${audio}`),
      `{"type":"response.audio.delta","response_id":"r","item_id":"i","delta":"${audio}"`,
    ]) {
      expect(parseServerEvent(text).ok, text.slice(-20)).toBe(false);
    }
  });

  it('reads duplicate and nested keys as JSON.parse does', () => {
    const cases = [
      wire(`"response_id":"r","item_id":"i","delta":"${audio}","delta":"AAAA"`),
      wire(`"response_id":"r","item_id":"i","delta":"AAAA","delta":"${audio}"`),
      wire(`"response_id":"r","item_id":"i","x":{"delta":"QQ=="},"delta":"${audio}"`),
      wire(`"response_id":"r","item_id":"i","delta":"${audio}","x":{"delta":"QQ=="}`),
    ];
    for (const text of cases) expect(parseServerEvent(text), text.slice(-40)).toEqual({ ok: true, event: JSON.parse(text) });
    const retyped = wire(`"response_id":"r","item_id":"i","delta":"${audio}","type":"response.something_else"`);
    expect(parseServerEvent(retyped)).toMatchObject({ ok: true, event: { type: 'other', eventType: 'response.something_else' } });
  });
});
