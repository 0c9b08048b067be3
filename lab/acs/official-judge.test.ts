import { describe, expect, it } from 'vitest';
import { createOfficialJudge } from './official-judge.js';

const incomingCall = {
  id: 'e1',
  topic: '/subscriptions/x/resourcegroups/lab/providers/microsoft.communication/communicationservices/lab-acs',
  subject: '/caller/4:+15550100001/recipient/4:+15550100100',
  eventType: 'Microsoft.Communication.IncomingCall',
  eventTime: '2026-01-01T00:00:00Z',
  dataVersion: '1.0',
  metadataVersion: '1',
  data: {},
};
const callConnected = {
  id: 'c1',
  source: 'calling/callConnections/x',
  type: 'Microsoft.Communication.CallConnected',
  specversion: '1.0',
  time: '2026-01-01T00:00:00Z',
  data: { callConnectionId: 'x', serverCallId: 's', correlationId: 'c' },
};

describe('the official-SDK judge', () => {
  it('passes what the official parsers read as the service writes it', async () => {
    const judge = createOfficialJudge();
    judge.eventGridDelivery(JSON.stringify([incomingCall]), 'Microsoft.Communication.IncomingCall');
    judge.callback(JSON.stringify([callConnected]));
    judge.mediaFrame('{"kind":"AudioMetadata","audioMetadata":{"subscriptionId":"s","encoding":"PCM","sampleRate":16000,"channels":1,"length":640}}');
    judge.mediaFrame('{"kind":"AudioData","audioData":{"timestamp":"2026-01-01T00:00:00.000Z","participantRawID":"4:+15550100001","data":"AAAA","silent":false}}');
    judge.mediaFrame('{"kind":"DtmfData","dtmfData":{"data":"5"}}');
    await judge.settled();
    expect(judge.failures).toEqual([]);
    expect(judge.counts).toEqual({ eventGrid: 1, callbacks: 1, mediaFrames: 3 });
  });

  it('records each payload an official parser refuses or misreads, naming the parser', async () => {
    const judge = createOfficialJudge();
    const { dataVersion: _dropped, ...withoutDataVersion } = incomingCall;
    judge.eventGridDelivery(JSON.stringify([withoutDataVersion]), 'Microsoft.Communication.IncomingCall');
    judge.eventGridDelivery(JSON.stringify([incomingCall]), 'Microsoft.EventGrid.SubscriptionValidationEvent');
    judge.callback(JSON.stringify([{ ...callConnected, type: 'Microsoft.Communication.CallConected' }]));
    judge.mediaFrame('{"kind":"audioData","audioData":{"data":"AAAA"}}');
    judge.mediaFrame('{"kind":"AudioData","audioData":{"data":"AAAA"}}');
    await judge.settled();
    expect(judge.failures.map((f) => f.parser)).toEqual(['parseCallAutomationEvent', 'StreamingData.parse', 'StreamingData.parse', 'EventGridDeserializer', 'isSystemEvent']);
    expect(judge.failures.find((f) => f.parser === 'EventGridDeserializer')?.reason).toMatch(/dataVersion/);
  });
});
