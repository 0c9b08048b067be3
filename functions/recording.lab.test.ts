import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../lab/lab.js';
import { parseCallEventMessage, type CallEventMessage } from '../shared/call-metadata.js';

/**
 * Recording through the whole lab over real sockets: the ACS emulator connects the call, the Functions app starts
 * the recording with the real CallAutomationClient, the emulator posts RecordingStateChanged (signed) back to the
 * call's callback URL, and the Functions app publishes it on the Service Bus peer.
 */
describe('call recording through the local lab (CALL_RECORDING=audio)', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ logLevel: 'silent', functionsEnv: { CALL_RECORDING: 'audio' } });
  }, 30_000);
  afterAll(async () => lab?.close());

  const published = (callId: string): CallEventMessage[] =>
    lab.serviceBus
      .messages('call-events')
      .map((m) => parseCallEventMessage(m.body))
      .flatMap((p) => (p.ok && p.message.callId === callId ? [p.message] : []));

  it('a connected call is recorded once; recording.requested, recording.started and, at hang-up, recording.stopped reach Service Bus', async () => {
    const call = await lab.placeCall();
    await call.waitFor('RecordingStateChanged', 15_000);
    const [start, ...others] = lab.acs.requests.filter((r) => r.operation === 'startRecording');
    expect(others).toHaveLength(0);
    expect(start).toMatchObject({ status: 202, callConnectionId: call.callConnectionId, body: { recordingContentType: 'audio', recordingChannelType: 'mixed', recordingFormatType: 'mp3' } });
    expect((start?.body as { recordingStateCallbackUri: string }).recordingStateCallbackUri).toMatch(new RegExp(`/api/callbacks/${call.callId}$`));
    // Our handler accepted the emulator's signed RecordingStateChanged.
    expect(call.timeline.entries.find((e) => e.source === 'callback' && e.type === 'RecordingStateChanged')?.detail?.status).toBe(200);
    await expect.poll(() => published(call.callId).map((m) => m.type).filter((t) => t.startsWith('recording.')).sort(), { timeout: 5000 }).toEqual(['recording.requested', 'recording.started']);
    const recordingId = (published(call.callId).find((m) => m.type === 'recording.requested')?.data as { recordingId: string }).recordingId;
    expect(published(call.callId).find((m) => m.type === 'recording.started')?.data).toMatchObject({ recordingId, state: 'active' });

    await call.hangUp();
    await expect.poll(() => published(call.callId).find((m) => m.type === 'recording.stopped')?.data, { timeout: 5000 }).toMatchObject({ recordingId, state: 'inactive' });
  }, 30_000);
});
