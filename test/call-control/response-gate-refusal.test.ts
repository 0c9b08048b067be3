import { describe, expect, it } from 'vitest';
import { ResponseGate } from '../../worker/call-control/response-gate.js';
import type { ServerEvent } from '../../worker/voice-live/events.js';

const created = (id: string) => ({ type: 'response.created', response: { id } }) as unknown as ServerEvent;
const done = (id: string) => ({ type: 'response.done', response: { id } }) as unknown as ServerEvent;
const refused = (eventId: string | null) =>
  ({ type: 'error', error: { type: 'invalid_request_error', code: 'conversation_already_has_active_response', message: 'busy', param: null, event_id: eventId } }) as unknown as ServerEvent;

function gate() {
  const sent: { eventId: string; response: Record<string, unknown> | undefined }[] = [];
  let now = 0;
  const sender = {
    isOpen: true,
    createResponse: (response?: Record<string, unknown>) => {
      const eventId = `create_${sent.length + 1}`;
      sent.push({ eventId, response });
      return eventId;
    },
    createConversationItem: () => undefined,
  };
  return { g: new ResponseGate(() => sender, () => now), sent, advance: (ms: number) => (now += ms) };
}

describe('response gate, when Voice Live refuses a response.create because a response is in progress', () => {
  it('sends the refused request again once the response in progress is done', () => {
    const { g, sent } = gate();
    g.request({ instructions: 'speak the tool result' });
    // Server VAD had started a response just before: its response.created, then the refusal of ours.
    g.onEvent(created('vad_reply'));
    g.onEvent(refused('create_1'));
    expect(sent).toHaveLength(1);
    g.onEvent(done('vad_reply'));
    expect(sent.map((s) => s.response)).toEqual([{ instructions: 'speak the tool result' }, { instructions: 'speak the tool result' }]);
  });

  it('takes a refusal naming no event id for the latest request sent within the wait for its response.created', () => {
    const { g, sent } = gate();
    g.request();
    g.onEvent(created('vad_reply'));
    g.onEvent(refused(null));
    g.onEvent(done('vad_reply'));
    expect(sent).toHaveLength(2);
  });

  it('ignores a refusal of a request that was not the gate’s', () => {
    const { g, sent, advance } = gate();
    g.request();
    g.onEvent(created('r1'));
    g.onEvent(done('r1'));
    advance(10_000);
    g.onEvent(refused('create_elsewhere'));
    g.onEvent(refused(null));
    expect(sent).toHaveLength(1);
  });
});
