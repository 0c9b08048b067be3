import { afterEach, describe, expect, it } from 'vitest';
import { agentAudio, received, startCallControlLab, until, type CallControlLab } from './harness.js';

let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const replayedMessages = (session: Parameters<typeof received>[0]) =>
  received(session, 'conversation.item.create')
    .map((e) => e.item as { type: string; role?: string; content?: { text?: string }[] })
    .filter((item) => item.type === 'message')
    .map((item) => ({ role: item.role, text: item.content?.[0]?.text }));

describe('caller transcripts, which Voice Live completes asynchronously', () => {
  it('land in the caller’s own turn when they complete after the agent’s reply started: in the call record and in the conversation replayed to a new session', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const s = call.session;
    const update = await s.waitFor('session.update');
    // The worker asks for input transcription: without it the record has no caller side.
    expect((update.session as Record<string, unknown>).input_audio_transcription).toMatchObject({ model: 'azure-speech' });

    s.speechStarted();
    s.speechStopped({ transcript: 'Where is my order?', transcriptDelayMs: 300 });
    await s.respondWithAudio(agentAudio(200), { transcript: 'Let me look that up.' });
    const voiceLive = () => lab!.worker.server.calls.get(call.callId)?.voiceLive;
    await until(() => voiceLive()?.conversationEntries.some((e) => e.kind === 'message' && e.role === 'user' && e.text !== undefined) === true, 3000, 'late transcript');
    const sent = s.sentEventCounts();
    expect(sent['conversation.item.input_audio_transcription.completed']).toBe(1);

    // Voice Live drops: the new session is given the conversation in the order it happened.
    const replacement = lab.voiceLive.nextSession();
    s.drop(1011, 'server restarting');
    const next = await replacement;
    await until(() => replayedMessages(next).length === 2, 3000, 'replayed conversation');
    expect(replayedMessages(next)).toEqual([
      { role: 'user', text: 'Where is my order?' },
      { role: 'assistant', text: 'Let me look that up.' },
    ]);

    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    const record = lab.records()[0]!;
    expect(record.transcript!.map(({ role, text }) => ({ role, text }))).toEqual([
      { role: 'caller', text: 'Where is my order?' },
      { role: 'agent', text: 'Let me look that up.' },
    ]);
    expect(record.turns).toHaveLength(1);
  });

  it('with transcription off, never arrive: the record keeps the agent’s side and the turns, the replay the agent’s words', async () => {
    lab = await startCallControlLab({ voiceLive: { transcription: undefined } });
    const call = await lab.startCall();
    const s = call.session;
    const update = await s.waitFor('session.update');
    expect((update.session as Record<string, unknown>).input_audio_transcription).toBeUndefined();

    s.speechStarted();
    s.speechStopped({ transcript: 'Never transcribed.' });
    await s.respondWithAudio(agentAudio(200), { transcript: 'Let me look that up.' });
    expect(s.sentEventCounts()['conversation.item.input_audio_transcription.completed']).toBeUndefined();
    await until(() => lab!.control.calls.get(call.callId)?.record.usage.responses === 1, 3000, 'response seen');

    const replacement = lab.voiceLive.nextSession();
    s.drop(1011, 'server restarting');
    const next = await replacement;
    await until(() => replayedMessages(next).length === 1, 3000, 'replayed conversation');
    expect(replayedMessages(next)).toEqual([{ role: 'assistant', text: 'Let me look that up.' }]);

    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    const record = lab.records()[0]!;
    expect(record.transcript!.map(({ role, text }) => ({ role, text }))).toEqual([{ role: 'agent', text: 'Let me look that up.' }]);
    expect(record.turns).toHaveLength(1);
  });
});
