import { randomBytes } from 'node:crypto';
import { message as rheaMessage, types, type Message } from 'rhea';

/** AMQP error conditions the Azure client maps to its `ServiceBusError` codes. */
export const Condition = {
  notFound: 'amqp:not-found',
  notAllowed: 'amqp:not-allowed',
  notImplemented: 'amqp:not-implemented',
  unauthorized: 'amqp:unauthorized-access',
  internal: 'amqp:internal-error',
  decodeError: 'amqp:decode-error',
  timeout: 'com.microsoft:timeout',
  sessionCannotBeLocked: 'com.microsoft:session-cannot-be-locked',
  sessionLockLost: 'com.microsoft:session-lock-lost',
  messageLockLost: 'com.microsoft:message-lock-lost',
  messageNotFound: 'com.microsoft:message-not-found',
  deadLetter: 'com.microsoft:dead-letter',
} as const;

/** Message format of a batch transfer: one envelope whose data sections are whole encoded messages. */
export const batchMessageFormat = 0x80013700;

const dotNetEpochOffsetTicks = 621355968000000000n;

/** A time as .NET ticks in an AMQP long: how Service Bus sends `com.microsoft:locked-until-utc`. */
export function dotNetTicksLong(timeMs: number): unknown {
  const ticks = BigInt(Math.round(timeMs)) * 10000n + dotNetEpochOffsetTicks;
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(ticks);
  return types.wrap_long(bytes);
}

export function wrapLong(value: number): unknown {
  return types.wrap_long(value);
}

/** 16 random bytes: the delivery tag that the client turns into the message's lock token. */
export function newDeliveryTag(): Buffer {
  return randomBytes(16);
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The lock token string the client derives from a delivery tag (first 8 bytes in .NET GUID order). */
export function lockTokenFromTag(tag: Buffer): string {
  const b = tag;
  const reordered = Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8, 16)]);
  return formatUuid(reordered);
}

/** A lock token as it arrives in a management request (AMQP uuid, decoded by rhea as 16 bytes or a string). */
export function lockTokenFromWire(value: unknown): string | undefined {
  if (Buffer.isBuffer(value) && value.length === 16) return formatUuid(value);
  if (typeof value === 'string') return value.toLowerCase();
  return undefined;
}

/**
 * The messages carried by one transfer: a plain message, or every message inside a batch envelope
 * (rhea hands batch transfers over undecoded).
 */
export function decodeTransfer(payload: Message | Buffer, format: number): Message[] {
  if (format === 0) return [payload as Message];
  if (format !== batchMessageFormat || !Buffer.isBuffer(payload)) {
    throw new Error(`unsupported message format ${format}`);
  }
  const envelope = rheaMessage.decode(payload);
  const body = envelope.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (!body || body.typecode !== 0x75) throw new Error('batch envelope has no data sections');
  const sections = (body.multiple ? body.content : [body.content]) as unknown[];
  return sections.map((section) => {
    if (!Buffer.isBuffer(section)) throw new Error('batch section is not binary');
    return rheaMessage.decode(section) as unknown as Message;
  });
}

/** The body as a test reads it: JSON when the client JSON-encoded it, bytes or value otherwise. */
export function readableBody(message: Message): unknown {
  const body = message.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (body && body.typecode === 0x75 && !body.multiple && Buffer.isBuffer(body.content)) {
    const text = body.content.toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      return body.content;
    }
  }
  if (body && typeof body.typecode === 'number') return body.content;
  return body;
}

export function encodeMessage(message: Message): Buffer {
  return rheaMessage.encode(message);
}

export function stringOrUndefined(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('hex');
  return undefined;
}

/** A stored message as Service Bus delivers it: the sender's sections plus the broker's annotations and delivery count. */
export function deliveredMessage(
  original: Message,
  facts: { sequenceNumber: number; enqueuedAt: Date; deliveryCount: number; lockedUntilMs?: number },
): Message {
  const annotations: Record<string, unknown> = {
    ...(original.message_annotations ?? {}),
    'x-opt-sequence-number': wrapLong(facts.sequenceNumber),
    'x-opt-enqueued-time': facts.enqueuedAt,
  };
  if (facts.lockedUntilMs !== undefined) annotations['x-opt-locked-until'] = new Date(facts.lockedUntilMs);
  return { ...original, message_annotations: annotations, delivery_count: facts.deliveryCount } as Message;
}

/** A long as decoded by rhea (number when small, 8 bytes otherwise) as a number. */
export function longToNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value) && value.length === 8) return Number(value.readBigInt64BE());
  return undefined;
}

/** The attach fields rhea keeps on a link but leaves out of its typings. */
export interface AttachFields {
  name?: string;
  source?: { address?: string; filter?: unknown } | null;
  target?: { address?: string } | null;
  snd_settle_mode?: number;
  rcv_settle_mode?: number;
  max_message_size?: number;
  properties?: Record<string, unknown>;
}

interface LinkInternals {
  remote: { attach?: AttachFields };
  local: { attach: AttachFields };
}

export function remoteAttach(link: object): AttachFields {
  return (link as LinkInternals).remote.attach ?? {};
}

export function localAttach(link: object): AttachFields {
  return (link as LinkInternals).local.attach;
}

type OutcomeFactory = (fields?: Record<string, unknown>) => { described(): unknown };
const outcomes = rheaMessage as unknown as Record<'accepted' | 'rejected' | 'released' | 'modified', OutcomeFactory>;

/** A disposition state to settle a delivery with. */
export function outcome(kind: 'accepted' | 'rejected' | 'released' | 'modified', fields: Record<string, unknown> = {}): unknown {
  return outcomes[kind](fields).described();
}
