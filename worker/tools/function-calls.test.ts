import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.js';
import { ResponseGate } from '../call-control/response-gate.js';
import type { ServerEvent } from '../voice-live/events.js';
import { FunctionCallRunner } from './function-calls.js';
import { ToolRegistry } from './registry.js';
import type { ToolContext } from './types.js';

const ev = (e: Record<string, unknown>) => e as unknown as ServerEvent;

function setup(handler: () => unknown) {
  const sent: { kind: 'item' | 'response'; value: unknown }[] = [];
  const sender = {
    createResponse: (r?: Record<string, unknown>) => void sent.push({ kind: 'response', value: r }),
    createConversationItem: (item: Record<string, unknown>) => void sent.push({ kind: 'item', value: item }),
  };
  const gate = new ResponseGate(() => sender);
  const registry = new ToolRegistry();
  registry.register({ name: 'lookup', description: 'd', parameters: { type: 'object', properties: {} }, handler });
  const used: string[] = [];
  const runner = new FunctionCallRunner({
    registry,
    gate,
    voiceLive: () => sender,
    context: (abortSignal) => ({ abortSignal }) as unknown as ToolContext,
    timeoutMs: 1000,
    fillerAfterMs: 10_000,
    fillerText: 'One moment.',
    isAgentAudible: () => false,
    logger: silentLogger,
    onToolUsed: (u) => void used.push(`${u.name}:${u.status}`),
  });
  const onEvent = (e: ServerEvent) => {
    gate.onEvent(e);
    runner.onEvent(e);
  };
  return { sent, onEvent, used, runner };
}

const until = async (condition: () => boolean) => {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > 2000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('function-call loop', () => {
  it('gives the output only after the requesting response is done, then asks for a response; the name comes from the item', async () => {
    const { sent, onEvent, used } = setup(() => ({ answer: 42 }));
    onEvent(ev({ type: 'response.created', response: { id: 'r1' } }));
    onEvent(ev({ type: 'response.output_item.added', response_id: 'r1', output_index: 0, item: { type: 'function_call', name: 'lookup', call_id: 'c1' } }));
    onEvent(ev({ type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'i1', output_index: 0, call_id: 'c1', arguments: '{}' }));
    await until(() => used.length === 1);
    expect(sent).toEqual([]);
    onEvent(ev({ type: 'response.done', response: { id: 'r1' } }));
    await until(() => sent.length === 2);
    expect(sent).toEqual([
      { kind: 'item', value: { type: 'function_call_output', call_id: 'c1', output: '{"answer":42}' } },
      { kind: 'response', value: undefined },
    ]);
  });

  it('runs a call once even if its arguments.done is repeated, and tells the model about unknown tools and bad JSON', async () => {
    const { sent, onEvent, used } = setup(() => 'ok');
    const call = (callId: string, name: string, args: string) =>
      onEvent(ev({ type: 'response.function_call_arguments.done', response_id: 'r9', item_id: 'i', output_index: 0, call_id: callId, name, arguments: args }));
    onEvent(ev({ type: 'response.done', response: { id: 'r9' } }));
    call('c1', 'lookup', '{}');
    call('c1', 'lookup', '{}');
    call('c2', 'nope', '{}');
    call('c3', 'lookup', '{oops');
    await until(() => used.length === 3);
    expect(used.sort()).toEqual(['lookup:invalid_arguments', 'lookup:ok', 'nope:unknown_tool']);
    await until(() => sent.filter((s) => s.kind === 'item').length === 3);
    const outputs = sent.filter((s) => s.kind === 'item').map((s) => JSON.parse((s.value as { output: string }).output));
    expect(outputs).toContainEqual({ ok: false, error: 'There is no tool named nope.' });
    expect(outputs).toContainEqual({ ok: false, error: 'Invalid arguments: arguments are not valid JSON' });
  });

  it('reports a tool that throws as failed, with its message', async () => {
    const { sent, onEvent } = setup(() => {
      throw new Error('backend down');
    });
    onEvent(ev({ type: 'response.done', response: { id: 'r1' } }));
    onEvent(ev({ type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'i', output_index: 0, call_id: 'c1', name: 'lookup', arguments: '' }));
    await until(() => sent.length > 0);
    expect(JSON.parse((sent[0]!.value as { output: string }).output)).toEqual({ ok: false, error: 'The lookup tool failed: backend down' });
  });
});
