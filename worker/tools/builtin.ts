import type { AgentTool, TransferOutcome, VoicemailReport } from './types.js';

/** Hangs up once the agent's goodbye has played. The model says goodbye in the same response. */
export const endCallTool: AgentTool<{ reason?: string }> = {
  name: 'end_call',
  description:
    'End the phone call. Use it when the conversation is finished or the caller asks to hang up. Say a short goodbye first, in the same turn; the call ends after your goodbye has played.',
  parameters: {
    type: 'object',
    properties: { reason: { type: 'string', description: 'Why the call ends, in a few words.' } },
    additionalProperties: false,
  },
  noFiller: true,
  endsConversation: () => true,
  async handler(args, context) {
    await context.endCall(args.reason ?? 'the agent ended the call');
    return { ok: true };
  },
};

/** Transfers to the configured human; on failure the model is told, so it can tell the caller. */
export const transferToHumanTool: AgentTool<{ reason: string; summary?: string }> = {
  name: 'transfer_to_human',
  description:
    'Transfer the caller to a human colleague. Use it when the caller asks for a person, or when you cannot help. Tell the caller you are transferring them before you call this.',
  parameters: {
    type: 'object',
    properties: {
      reason: { type: 'string', description: 'Why the caller needs a human, in one short sentence (passed to the colleague).' },
      summary: {
        type: 'string',
        description: 'For the colleague who picks up, in two or three sentences: who is calling, what they need, and what you have already found out or done, so they do not have to ask again.',
      },
    },
    required: ['reason'],
    additionalProperties: false,
  },
  endsConversation: (result) => (result as TransferOutcome).ok === true,
  failed: (result) => (result as TransferOutcome).ok !== true,
  async handler(args, context) {
    const outcome = await context.transferToHuman(args.reason, args.summary);
    return outcome.ok
      ? { ok: true, status: 'transferred' }
      : { ok: false, status: 'transfer_failed', reason: outcome.reason, instruction: 'Tell the caller the transfer did not work and offer to help further or to try again later.' };
  },
};

/**
 * Offered on outbound calls only: ACS cannot tell a person from an answering machine, the model can. Returns at once;
 * the worker then waits out the greeting, leaves the message and hangs up, with no further response from the model.
 */
export const reportVoicemailTool: AgentTool<{ reason?: string }> = {
  name: 'report_voicemail',
  description:
    'Call this as soon as you hear a voicemail greeting, an answering machine or a mailbox announcement instead of a person ' +
    '(for example "you have reached ... please leave a message after the tone"). Say nothing yourself, before or after: ' +
    'the voicemail message is left for you after the beep and the call then ends.',
  parameters: {
    type: 'object',
    properties: { reason: { type: 'string', description: 'What you heard that tells you it is a machine, in a few words.' } },
    additionalProperties: false,
  },
  noFiller: true,
  endsConversation: (result) => (result as VoicemailReport).ok === true,
  failed: (result) => (result as VoicemailReport).ok !== true,
  handler(args, context) {
    return context.reportVoicemail(args.reason ?? 'voicemail greeting heard');
  },
};
