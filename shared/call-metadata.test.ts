import { describe, expect, it } from 'vitest';
import {
  callIncoming,
  CallEventMessageError,
  mediaRestartRequested,
  parseCallEventMessage,
  recordingFailed,
  recordingRequested,
  recordingStarted,
  recordingStopped,
  toBusMessage,
} from './call-metadata.js';

const source = { callId: 'call-1', eventId: 'ev-1', occurredAt: '2026-01-05T10:00:00Z' };
const incoming = () =>
  callIncoming(source, {
    from: { kind: 'phoneNumber', rawId: '4:+16041234567', phoneNumber: '+16041234567' },
    to: { kind: 'phoneNumber', rawId: '4:+18331234567', phoneNumber: '+18331234567' },
    callerDisplayName: 'Ada',
  });

describe('call-events message schema', () => {
  it('a built message survives the bus round trip (JSON text) and parses back to itself', () => {
    const message = incoming();
    expect(message).toMatchObject({ schemaVersion: 1, type: 'call.incoming', callId: 'call-1', eventId: 'ev-1' });
    expect(parseCallEventMessage(JSON.stringify(message))).toEqual({ ok: true, message });
    expect(parseCallEventMessage(Buffer.from(JSON.stringify(message)))).toEqual({ ok: true, message });
  });

  it('the bus message is keyed for ordering (session = callId) and duplicate detection (messageId = eventId)', () => {
    expect(toBusMessage(incoming())).toMatchObject({
      messageId: 'ev-1',
      sessionId: 'call-1',
      subject: 'call.incoming',
      applicationProperties: { schemaVersion: 1, type: 'call.incoming' },
    });
  });

  it('builders refuse to make an invalid message, naming the field', () => {
    expect(() => mediaRestartRequested(source, { attempt: 0, maxAttempts: 2, trigger: 'x' })).toThrow(CallEventMessageError);
    expect(() => mediaRestartRequested({ ...source, occurredAt: 'yesterday' }, { attempt: 1, maxAttempts: 2, trigger: 'x' })).toThrow(/occurredAt/);
  });

  it('tells a newer schema version and an unknown type apart from a corrupt message', () => {
    expect(parseCallEventMessage({ ...incoming(), schemaVersion: 2 })).toMatchObject({ ok: false, schemaVersion: 2 });
    expect(parseCallEventMessage({ ...incoming(), type: 'call.teleported' })).toMatchObject({ ok: false, unknownType: 'call.teleported' });
    expect(parseCallEventMessage('{not json')).toMatchObject({ ok: false, reason: 'body is not JSON' });
    expect(parseCallEventMessage({ ...incoming(), data: { from: {} } })).toMatchObject({ ok: false, reason: expect.stringMatching(/data\.from/) });
  });

  it('recording messages are new version-1 types: requested, started, stopped and failed, each with what identifies the recording', () => {
    const requested = recordingRequested({ ...source, eventId: 'ev-1:recording' }, { recordingId: 'rec-1', recordingState: 'inactive', channel: 'mixed', format: 'mp3', storage: 'azureCommunicationServices' });
    const started = recordingStarted(source, { recordingId: 'rec-1', state: 'active', recordingKind: 'azureCommunicationServices', startedAt: '2026-01-05T10:00:01.000Z' });
    const stopped = recordingStopped({ ...source, eventId: 'ev-2' }, { recordingId: 'rec-1', state: 'inactive' });
    const failedByAcs = recordingFailed({ ...source, eventId: 'ev-3' }, { resultInformation: { code: 400, subCode: 8522, message: 'call ended' } });
    const failedRequest = recordingFailed({ ...source, eventId: 'ev-1:recordingFailed' }, { error: { status: 500, code: 'InternalError', message: 'ACS answered 500' } });
    for (const message of [requested, started, stopped, failedByAcs, failedRequest]) {
      expect(message.schemaVersion).toBe(1);
      expect(parseCallEventMessage(JSON.stringify(message))).toEqual({ ok: true, message });
    }
    expect(() => recordingStarted(source, { recordingId: '', state: 'active' })).toThrow(/data\.recordingId/);
    expect(() => recordingRequested(source, { recordingId: 'r', channel: 'mixed', format: 'mp4' as 'mp3', storage: 'azureCommunicationServices' })).toThrow(/data\.format/);
  });
});
