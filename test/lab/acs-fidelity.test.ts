import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import { createOfficialJudge, type OfficialJudge } from '../../lab/acs/official-judge.js';
import { parseDtmfSchedule, pressKeysOnSchedule } from '../../lab/dtmf-schedule.js';

/**
 * The whole lab against the ACS emulator's stricter behaviour: Event Grid redelivering a failed IncomingCall,
 * DTMF frames on the media socket, and every payload the emulator sends read by the official SDK parsers.
 */
describe('the ACS side of the lab, judged by the official SDKs', () => {
  let lab: Lab | undefined;
  let judge: OfficialJudge;
  afterEach(async () => {
    await lab?.close();
    lab = undefined;
  });

  const expectNoJudgeFailures = async () => {
    await judge.settled();
    expect(judge.failures).toEqual([]);
    expect(judge.counts.eventGrid).toBeGreaterThan(0);
    expect(judge.counts.callbacks).toBeGreaterThan(0);
    expect(judge.counts.mediaFrames).toBeGreaterThan(0);
  };

  it('a call whose first IncomingCall delivery got 503 (Service Bus down) is answered exactly once, on the first delivery, and published once on the redelivery', async () => {
    judge = createOfficialJudge();
    lab = await startLab({
      logLevel: 'silent',
      voiceLiveMode: 'scripted',
      // The webhook gives up publishing after 1 s; Event Grid's 10 s step takes 500 ms at this scale.
      functionsEnv: { PUBLISH_DEADLINE_MS: '1000' },
      acs: { eventGridTimeScale: 0.05, judge },
    });
    await lab.serviceBus.stop();
    const call = await lab.placeCall();
    const first = call.timeline.entries.find((e) => e.source === 'eventgrid');
    expect(first?.detail).toMatchObject({ status: 503, deliveryCount: 0, outcome: 'retrying' });
    await lab.serviceBus.restart();

    const redelivery = await call.timeline.waitFor((e) => e.source === 'eventgrid' && e.detail?.deliveryCount === 1, 10_000, 'the redelivery');
    expect(redelivery.detail).toMatchObject({ status: 200, outcome: 'delivered' });
    await call.waitFor('MediaStreamingStarted', 10_000);
    await call.timeline.waitFor((e) => e.source === 'bus' && e.type === 'call.answered', 5000, 'call.answered on the bus');

    const answers = lab.acs.requests.filter((r) => r.operation === 'answer');
    expect(answers.map((r) => r.status)).toEqual([200]);
    const published = lab.busMessages(call.callId).map((m) => (m.body as { type: string }).type);
    expect(published.filter((t) => t === 'call.incoming')).toHaveLength(1);
    expect(published.filter((t) => t === 'call.answered')).toHaveLength(1);
    expect(call.timeline.entries.filter((e) => e.source === 'eventgrid')).toHaveLength(2);

    await call.hangUp();
    await call.ended();
    await expectNoJudgeFailures();
  });

  it('a call whose answerCall failed with 500 on the first delivery is answered on Event Grid\'s redelivery (the late answer)', async () => {
    judge = createOfficialJudge();
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted', acs: { eventGridTimeScale: 0.02, judge } });
    // The SDK retries a 5xx three times on its own (about 7 s): the hiccup outlasts them, so the webhook answers 503.
    lab.acs.rest.failNext('answer', { status: 500, code: 'InternalServerError', message: 'scripted ACS hiccup', times: 4 });
    const call = await lab.placeCall();
    expect(call.timeline.entries.find((e) => e.source === 'eventgrid')?.detail).toMatchObject({ status: 503, outcome: 'retrying' });
    await call.waitFor('MediaStreamingStarted', 10_000);
    expect(lab.acs.requests.filter((r) => r.operation === 'answer').map((r) => r.status)).toEqual([500, 500, 500, 500, 200]);
    await call.timeline.waitFor((e) => e.source === 'bus' && e.type === 'call.answered', 5000, 'call.answered on the bus');
    expect(lab.busMessages(call.callId).filter((m) => (m.body as { type: string }).type === 'call.answered')).toHaveLength(1);
    await call.hangUp();
    await expectNoJudgeFailures();
  }, 30_000);

  it('a redelivery that comes after the caller hung up is refused by ACS and answered 200 by the webhook: Event Grid stops, nothing is answered', async () => {
    judge = createOfficialJudge();
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted', acs: { eventGridTimeScale: 0.05, judge } });
    lab.acs.rest.failNext('answer', { status: 503, code: 'ServiceUnavailable', message: 'scripted', times: 4 });
    const call = await lab.placeCall();
    await call.hangUp();
    expect(call.state).toBe('unanswered');
    const redelivery = await call.timeline.waitFor((e) => e.source === 'eventgrid' && e.detail?.deliveryCount === 1, 10_000, 'the redelivery');
    expect(redelivery.detail).toMatchObject({ status: 200, outcome: 'delivered' });
    const answers = lab.acs.requests.filter((r) => r.operation === 'answer');
    expect(answers.map((r) => r.status)).toEqual([503, 503, 503, 503, 400]);
    expect(answers.every((r) => (r.body as { incomingCallContext: string }).incomingCallContext === call.incomingCallContext)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(call.timeline.entries.filter((e) => e.source === 'eventgrid')).toHaveLength(2);
    await judge.settled();
    expect(judge.failures).toEqual([]);
  }, 30_000);

  it('the transfer key pressed on the keypad reaches the worker as a DtmfData frame and transfers the call; other keys go to the agent', async () => {
    judge = createOfficialJudge();
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted', workerEnv: { DTMF_INTERDIGIT_MS: '0' }, acs: { judge } });
    const call = await lab.placeCall();
    const session = await lab.voiceLive!.nextSession(15_000);
    await call.waitFor('MediaStreamingStarted', 10_000);
    const answer = lab.acs.requests.find((r) => r.operation === 'answer')!;
    expect(answer.body).toMatchObject({ mediaStreamingOptions: { enableDtmfTones: true, enableBidirectional: true } });

    expect(call.pressKey('4')).toBe(true);
    const item = await session.waitFor('conversation.item.create', (e) => JSON.stringify(e).includes('caller pressed 4'), 5000);
    expect(JSON.stringify(item)).toContain('caller pressed 4');
    expect(lab.acs.requests.some((r) => r.operation === 'transferToParticipant')).toBe(false);

    expect(call.pressKey('0')).toBe(true);
    await call.waitFor('CallTransferAccepted', 10_000);
    const transfer = lab.acs.requests.find((r) => r.operation === 'transferToParticipant');
    expect(transfer).toMatchObject({ status: 202, body: { targetParticipant: { rawId: '4:+15550109999' } } });
    await expect(call.ended()).resolves.toBe('disconnected');
    expect(call.timeline.entries.filter((e) => e.type === 'DtmfData').map((e) => e.detail?.tone)).toEqual(['4', '0']);
    await expectNoJudgeFailures();
  });

  it('npm run call --dtmf: each key is pressed at its time after media started and reaches the agent', async () => {
    judge = createOfficialJudge();
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted', workerEnv: { DTMF_INTERDIGIT_MS: '0' }, acs: { judge } });
    const call = await lab.placeCall();
    pressKeysOnSchedule(call, parseDtmfSchedule('2@300ms,3@600ms'));
    const session = await lab.voiceLive!.nextSession(15_000);
    const started = await call.waitFor('MediaStreamingStarted', 10_000);
    await session.waitFor('conversation.item.create', (e) => JSON.stringify(e).includes('caller pressed 3'), 5000);
    const tones = call.timeline.entries.filter((e) => e.type === 'DtmfData');
    expect(tones.map((e) => e.detail?.tone)).toEqual(['2', '3']);
    expect(tones[0]!.atMs - started.atMs).toBeGreaterThanOrEqual(290);
    expect(tones[1]!.atMs - tones[0]!.atMs).toBeGreaterThanOrEqual(250);
    await call.hangUp();
    await expectNoJudgeFailures();
  });

  it('a whole echo-agent call (greeting, caller speech, agent replies, hang-up) sends nothing the official parsers refuse, and the worker sends nothing the strict media leg refuses', async () => {
    judge = createOfficialJudge();
    lab = await startLab({ logLevel: 'silent', acs: { judge } });
    const call = await lab.placeCall();
    await call.waitFor('agent-audio', 15_000);
    const { tone } = await import('../../lab/audio/signal.js');
    call.say(tone({ frequencyHz: 300, durationMs: 800, sampleRateHz: call.sampleRateHz!, amplitude: 0.5 }));
    await call.timeline.waitFor((e) => e.type === 'response.done', 15_000, 'a reply');
    await call.hangUp();
    await call.ended();
    expect(call.timeline.entries.filter((e) => e.type === 'invalid-frame')).toEqual([]);
    await expectNoJudgeFailures();
  });
});
