import { EventGridDeserializer, isSystemEvent } from '@azure/eventgrid';
import { parseCallAutomationEvent, StreamingData } from '@azure/communication-call-automation';
import type { WireJudge } from './wire-judge.js';

/**
 * The official Azure SDK parsers as judges of what the ACS emulator sends: `@azure/eventgrid`'s
 * `EventGridDeserializer` and `isSystemEvent` on every Event Grid delivery, `parseCallAutomationEvent` on every
 * event of every callback, `StreamingData.parse` on every media message. A payload they cannot read, or read
 * as something else, is a failure (the emulator would be lying to our tests); nothing is thrown at the emulator.
 */
export interface JudgeFailure {
  parser: 'EventGridDeserializer' | 'isSystemEvent' | 'parseCallAutomationEvent' | 'StreamingData.parse';
  reason: string;
  /** The start of the payload, for the failure message. */
  payload: string;
}

export interface OfficialJudge extends WireJudge {
  readonly failures: readonly JudgeFailure[];
  /** How many payloads of each kind were judged (a judge that saw nothing proves nothing). */
  readonly counts: { eventGrid: number; callbacks: number; mediaFrames: number };
  /** Resolves once every asynchronous check has finished. */
  settled(): Promise<void>;
}

/** What `StreamingData.parse` returns for each kind, checked beyond "did not throw". */
const MEDIA_FIELDS: Record<string, (parsed: Record<string, unknown>) => boolean> = {
  AudioMetadata: (p) => typeof p.subscriptionId === 'string' && typeof p.sampleRate === 'number' && typeof p.channels === 'number' && p.encoding === 'PCM',
  AudioData: (p) => typeof p.data === 'string' && typeof p.timestamp === 'string' && typeof p.isSilent === 'boolean',
  DtmfData: (p) => typeof p.data === 'string' && p.data.length > 0,
};

export function createOfficialJudge(): OfficialJudge {
  const failures: JudgeFailure[] = [];
  const counts = { eventGrid: 0, callbacks: 0, mediaFrames: 0 };
  const pending = new Set<Promise<void>>();
  const deserializer = new EventGridDeserializer();
  const fail = (parser: JudgeFailure['parser'], reason: string, payload: string): void => {
    failures.push({ parser, reason, payload: payload.slice(0, 300) });
  };

  return {
    failures,
    counts,
    eventGridDelivery(body, eventType) {
      counts.eventGrid++;
      const check = deserializer.deserializeEventGridEvents(body).then(
        (events) => {
          if (events.length !== 1) fail('EventGridDeserializer', `expected one event per delivery, got ${events.length}`, body);
          for (const event of events) {
            if (!isSystemEvent(eventType as Parameters<typeof isSystemEvent>[0], event)) fail('isSystemEvent', `not a ${eventType} system event`, body);
            if (!(event.eventTime instanceof Date) || Number.isNaN(event.eventTime.getTime())) fail('EventGridDeserializer', 'eventTime did not parse as a date', body);
          }
        },
        (error: Error) => fail('EventGridDeserializer', error.message, body),
      );
      pending.add(check);
      void check.finally(() => pending.delete(check));
    },
    callback(body) {
      counts.callbacks++;
      let events: unknown;
      try {
        events = JSON.parse(body);
      } catch (error) {
        return fail('parseCallAutomationEvent', `not JSON: ${(error as Error).message}`, body);
      }
      // The SDK reads only the first event of an array: judge each on its own.
      for (const event of Array.isArray(events) ? events : [events]) {
        try {
          const parsed = parseCallAutomationEvent(event as Record<string, unknown>) as unknown as Record<string, unknown>;
          const type = (event as { type?: string }).type ?? '';
          if (`Microsoft.Communication.${String(parsed.kind)}` !== type) fail('parseCallAutomationEvent', `kind ${String(parsed.kind)} for type ${type}`, JSON.stringify(event));
          if (typeof parsed.callConnectionId !== 'string' || typeof parsed.correlationId !== 'string') {
            fail('parseCallAutomationEvent', 'callConnectionId or correlationId missing after parsing', JSON.stringify(event));
          }
        } catch (error) {
          fail('parseCallAutomationEvent', (error as Error).message, JSON.stringify(event));
        }
      }
    },
    mediaFrame(text) {
      counts.mediaFrames++;
      try {
        const parsed = StreamingData.parse(text) as unknown as Record<string, unknown>;
        const kind = StreamingData.getStreamingKind() as unknown as string;
        const check = MEDIA_FIELDS[kind];
        if (!check) fail('StreamingData.parse', `unexpected kind ${kind}`, text);
        else if (!check(parsed)) fail('StreamingData.parse', `${kind} parsed without its fields: ${JSON.stringify(parsed).slice(0, 200)}`, text);
      } catch (error) {
        fail('StreamingData.parse', (error as Error).message, text);
      }
    },
    async settled() {
      await Promise.all([...pending]);
    },
  };
}
