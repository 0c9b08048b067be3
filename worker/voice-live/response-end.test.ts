import { describe, expect, it } from 'vitest';
import { parseServerEvent, responseEnd, type ServerEventOf } from './events.js';

/** A response.done as it comes off the wire, parsed at the boundary. */
function done(response: Record<string, unknown>) {
  const parsed = parseServerEvent(JSON.stringify({ type: 'response.done', event_id: 'e1', response: { id: 'r1', ...response } }));
  if (!parsed.ok) throw new Error(parsed.reason);
  return responseEnd((parsed.event as ServerEventOf<'response.done'>).response);
}

describe('how a response ended (response.done status and status_details)', () => {
  it('a completed response has no reason', () => {
    expect(done({ status: 'completed', status_details: null })).toEqual({ responseId: 'r1', status: 'completed', reasonLabel: 'none', reason: undefined, error: undefined });
  });

  it('cancelled and incomplete responses give their reason (the SDK: `reason: string`)', () => {
    expect(done({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' } })).toMatchObject({ status: 'cancelled', reasonLabel: 'turn_detected', reason: 'turn_detected' });
    expect(done({ status: 'incomplete', status_details: { type: 'incomplete', reason: 'max_output_tokens' } })).toMatchObject({ status: 'incomplete', reasonLabel: 'max_output_tokens' });
  });

  it('a failed response gives its error (the SDK: `error: any`); the code is the reason, a known code or type the label', () => {
    const end = done({ status: 'failed', status_details: { type: 'failed', error: { type: 'server_error', code: 'internal_error', message: 'Boom.' } } });
    expect(end).toEqual({
      responseId: 'r1',
      status: 'failed',
      reasonLabel: 'server_error',
      reason: 'internal_error',
      error: { type: 'server_error', code: 'internal_error', message: 'Boom.' },
    });
    expect(done({ status: 'failed', status_details: { type: 'failed', error: { code: 'rate_limit_exceeded' } } })).toMatchObject({ reasonLabel: 'rate_limit_exceeded' });
  });

  it('keeps metric labels to a fixed set whatever the service sends, and never rejects the event for it', () => {
    expect(done({ status: 'failed', status_details: { type: 'failed', error: 'quota gone' } })).toMatchObject({
      status: 'failed',
      reasonLabel: 'none',
      error: { message: 'quota gone' },
    });
    expect(done({ status: 'failed', status_details: { type: 'failed', error: { code: 'x'.repeat(500), message: 42 } } })).toMatchObject({
      reasonLabel: 'other',
      reason: 'x'.repeat(100),
      error: { code: 'x'.repeat(100) },
    });
    expect(done({ status: 'paused_forever' })).toMatchObject({ status: 'other', reasonLabel: 'none' });
    expect(done({})).toMatchObject({ status: 'other' });
  });
});
