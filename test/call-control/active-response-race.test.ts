import { afterEach, describe, expect, it } from 'vitest';
import type { AgentTool } from '../../worker/tools/types.js';
import { agentAudio, received, startCallControlLab, until, type CallControlLab } from './harness.js';

let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('a tool result whose response.create races a response Voice Live started itself', () => {
  it('is answered once that response is done: the refused response.create (conversation_already_has_active_response) is sent again, and not logged as a failure', async () => {
    let startCallerTurn: (() => void) | undefined;
    const lookup: AgentTool = {
      name: 'lookup',
      description: 'Answers just as the caller speaks again.',
      parameters: { type: 'object', properties: {} },
      noFiller: true,
      handler: async () => {
        // The caller spoke again: server VAD starts a response, whose response.created is still on its way
        // when the worker sends the tool output and its response.create.
        startCallerTurn!();
        return { balance: 12 };
      },
    };
    lab = await startCallControlLab({ customTools: [lookup] });
    const call = await lab.startCall();
    const session = call.session;
    let vadReply: Promise<unknown> | undefined;
    startCallerTurn = () => {
      vadReply = session.respondWithAudio(agentAudio(600), { transcript: 'Sorry, could you say that again?', realTime: true });
    };

    await session.callFunction('lookup', {});
    const refused = await session.waitFor('response.create', undefined, 3000);
    expect(refused).toBeDefined();
    await vadReply;
    expect(session.sentEventCounts().error).toBe(1);
    // Once the active response is done, the tool result is asked for again, and this time it is taken.
    await until(() => received(session, 'response.create').length === 2, 3000, 'the response.create sent again');
    const types = session.received.map((r) => r.type);
    expect(types.filter((t) => t === 'conversation.item.create')).toHaveLength(1);
    const problems = lab.logs.filter((l) => (l.level === 'warn' || l.level === 'error') && !String(l.msg).startsWith('MEDIA_AUTH=none'));
    expect(problems).toEqual([]);
  });
});
