import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCallRecord, CallRecordError, callRecordSchema, parseCallRecord, toCallRecordBusMessage, type CallRecordInput } from './call-record.js';

const input: CallRecordInput = {
  callId: 'call-1',
  from: '+44********67',
  startedAt: '2026-01-05T10:00:00.000Z',
  endedAt: '2026-01-05T10:01:00.000Z',
  durationMs: 60_000,
  outcome: { kind: 'completed', reason: 'caller is done' },
  transcript: [{ role: 'caller', text: 'hi', at: '2026-01-05T10:00:01.000Z' }],
  turns: [{ callerStoppedAt: '2026-01-05T10:00:02.000Z', timeToFirstAgentAudioMs: 640 }],
  tools: [],
  bargeIns: 0,
  voiceLiveReconnects: 0,
  framesIn: 3000,
  framesOut: 1200,
  framesDropped: 0,
  usage: { responses: 1, audioTokensIn: 10, textTokensIn: 0, cachedTokensIn: 0, audioTokensOut: 20, textTokensOut: 0, totalTokens: 30 },
  cost: {
    currency: 'USD',
    tokens: 0.001,
    callMinutes: 1,
    minutes: 0.01,
    total: 0.011,
    rates: { audioInputPer1M: 40, audioOutputPer1M: 80, textInputPer1M: 5, textOutputPer1M: 20, cachedInputPer1M: 2.5, callPerMinute: 0.01 },
  },
};

describe('call record schema', () => {
  it('builds a versioned record and round-trips it through JSON', () => {
    const record = buildCallRecord(input);
    expect(record.schemaVersion).toBe(1);
    expect(parseCallRecord(JSON.stringify(record))).toEqual({ ok: true, record });
  });

  it('refuses a bad record before it is published, naming the field', () => {
    expect(() => buildCallRecord({ ...input, outcome: { kind: 'exploded' as never, reason: '' } })).toThrow(CallRecordError);
    expect(() => buildCallRecord({ ...input, durationMs: -1 })).toThrow(/durationMs/);
  });

  it('carries failed/incomplete responses as an optional field of version 1: records without it still parse', () => {
    const failedResponses = { count: 1, list: [{ at: '2026-01-05T10:00:30.000Z', status: 'failed' as const, reason: 'internal_error' }] };
    const record = buildCallRecord({ ...input, failedResponses });
    expect(record.schemaVersion).toBe(1);
    expect(parseCallRecord(JSON.stringify(record))).toEqual({ ok: true, record });
    const older = buildCallRecord(input);
    expect(older).not.toHaveProperty('failedResponses');
    expect(parseCallRecord(JSON.stringify(older))).toEqual({ ok: true, record: older });
    expect(() => buildCallRecord({ ...input, failedResponses: { count: 1, list: [{ ...failedResponses.list[0]!, status: 'cancelled' as never }] } })).toThrow(
      /failedResponses\.list\.0\.status/,
    );
    const many = Array.from({ length: 21 }, () => failedResponses.list[0]!);
    expect(() => buildCallRecord({ ...input, failedResponses: { count: 21, list: many } })).toThrow(/failedResponses\.list/);
  });

  it('reports a newer schema version as such', () => {
    expect(parseCallRecord({ ...buildCallRecord(input), schemaVersion: 2 })).toEqual({ ok: false, reason: 'unsupported schemaVersion 2' });
    expect(parseCallRecord('{')).toEqual({ ok: false, reason: 'body is not JSON' });
  });

  it('is one Service Bus message per call: messageId <callId>:record', () => {
    const message = toCallRecordBusMessage(buildCallRecord(input));
    expect(message).toMatchObject({ messageId: 'call-1:record', subject: 'call.record', applicationProperties: { schemaVersion: 1, outcome: 'completed' } });
  });
});

describe('docs/call-metadata.md', () => {
  it('shows a call record that the schema accepts, with every field the schema knows', () => {
    const page = readFileSync(join(__dirname, '../docs/call-metadata.md'), 'utf8');
    const example = [...page.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.includes('"schemaVersion"') && block.includes('"cost"'));
    expect(example).toBeDefined();
    const record = JSON.parse(example!) as Record<string, unknown>;
    expect(parseCallRecord(record)).toMatchObject({ ok: true });
    // A field absent from almost every record is described in the table, not shown in the example.
    const documentedElsewhere = { trimmed: 'docs/call-metadata.md' } as const;
    const shown = new Set(Object.keys(record));
    for (const [field, page] of Object.entries(documentedElsewhere)) {
      if (shown.has(field)) continue;
      expect(readFileSync(join(__dirname, '..', page), 'utf8'), field).toContain(`\`${field}\``);
      shown.add(field);
    }
    expect([...shown].sort()).toEqual(Object.keys(callRecordSchema.shape).sort());
  });
});
