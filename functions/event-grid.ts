import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';

/**
 * Event Grid and ACS callback envelopes. Event Grid posts arrays in the Event Grid schema (or CloudEvents 1.0
 * when the subscription chose it); ACS posts arrays of CloudEvents. Both arrive here as one normalised shape.
 */
export const SUBSCRIPTION_VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';

/** One event of a delivery, whatever schema it came in. */
export interface DeliveredEvent {
  id: string;
  type: string;
  /** ISO 8601 as sent; falls back to the receive time when the sender omitted it. */
  time: string;
  subject?: string | undefined;
  source?: string | undefined;
  data: unknown;
  schema: 'eventgrid' | 'cloudevents';
}

export type Delivery =
  | { kind: 'validation'; validationCode: string; validationUrl?: string | undefined }
  | { kind: 'events'; events: DeliveredEvent[]; rejected: RejectedEvent[] };

export interface RejectedEvent {
  index: number;
  id?: string | undefined;
  reason: string;
}

export class DeliveryError extends Error {
  readonly code = 'INVALID_DELIVERY';
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryError';
  }
}

const eventGridEvent = z.object({
  id: z.string().min(1),
  eventType: z.string().min(1),
  subject: z.string().optional(),
  eventTime: z.string().optional(),
  topic: z.string().optional(),
  dataVersion: z.string().optional(),
  data: z.unknown(),
});

const cloudEvent = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  type: z.string().min(1),
  source: z.string().min(1),
  subject: z.string().optional(),
  time: z.string().optional(),
  data: z.unknown(),
});

const validationData = z.object({ validationCode: z.string().min(1), validationUrl: z.string().optional() });

/** Largest body accepted: Event Grid batches are capped at about 1 MB; ACS callbacks are small. */
export const MAX_DELIVERY_BYTES = 1_048_576;

/**
 * Parses a delivery body (JSON text): an array of events, or a single CloudEvent object. Throws
 * `DeliveryError` when the body as a whole is unusable; individual bad events are listed in `rejected`.
 */
export function parseDelivery(text: string, now: () => Date = () => new Date()): Delivery {
  if (Buffer.byteLength(text, 'utf8') > MAX_DELIVERY_BYTES) throw new DeliveryError(`body larger than ${MAX_DELIVERY_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DeliveryError('body is not valid JSON');
  }
  const items = Array.isArray(parsed) ? parsed : typeof parsed === 'object' && parsed !== null ? [parsed] : null;
  if (!items) throw new DeliveryError('body must be a JSON array of events or a CloudEvent object');
  if (items.length === 0) throw new DeliveryError('body holds no events');

  const events: DeliveredEvent[] = [];
  const rejected: RejectedEvent[] = [];
  items.forEach((item, index) => {
    const event = normalise(item, now);
    if ('reason' in event) rejected.push({ index, id: event.id, reason: event.reason });
    else events.push(event);
  });

  const validation = events.find((e) => e.type === SUBSCRIPTION_VALIDATION_EVENT);
  if (validation) {
    const data = validationData.safeParse(validation.data);
    if (!data.success) throw new DeliveryError('SubscriptionValidationEvent without data.validationCode');
    return { kind: 'validation', validationCode: data.data.validationCode, validationUrl: data.data.validationUrl };
  }
  return { kind: 'events', events, rejected };
}

function normalise(item: unknown, now: () => Date): DeliveredEvent | { id?: string | undefined; reason: string } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return { reason: 'event is not a JSON object' };
  const record = item as Record<string, unknown>;
  const id = typeof record.id === 'string' ? record.id : undefined;
  if ('specversion' in record) {
    const result = cloudEvent.safeParse(record);
    if (!result.success) return { id, reason: `CloudEvent ${describe(result.error)}` };
    const e = result.data;
    return { id: e.id, type: e.type, time: e.time ?? now().toISOString(), subject: e.subject, source: e.source, data: e.data, schema: 'cloudevents' };
  }
  const result = eventGridEvent.safeParse(record);
  if (!result.success) return { id, reason: `Event Grid event ${describe(result.error)}` };
  const e = result.data;
  return { id: e.id, type: e.eventType, time: e.eventTime ?? now().toISOString(), subject: e.subject, source: e.topic, data: e.data, schema: 'eventgrid' };
}

export const describe = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'value'}: ${i.message}`).join('; ');

/**
 * The CloudEvents webhook abuse-protection handshake (Event Grid with the CloudEvents schema): consent by
 * echoing the requesting origin. Only the origin Event Grid names is allowed, never `*`.
 */
export function cloudEventsHandshake(request: HttpRequest): HttpResponseInit {
  const origin = request.headers.get('webhook-request-origin');
  if (!origin) {
    return { status: 400, jsonBody: { error: 'OPTIONS is only the CloudEvents validation handshake: WebHook-Request-Origin header missing' } };
  }
  return {
    status: 200,
    headers: { 'WebHook-Allowed-Origin': origin, 'WebHook-Allowed-Rate': '*', Allow: 'POST, OPTIONS' },
  };
}

/** Reads the body as text, refusing oversized bodies before reading them when the length is declared. */
export async function readBody(request: HttpRequest): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_DELIVERY_BYTES) throw new DeliveryError(`body larger than ${MAX_DELIVERY_BYTES} bytes`);
  return request.text();
}
