import {
  create_container,
  type Connection,
  type Container,
  type Delivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
} from 'rhea';
import type { Logger } from '../../shared/log.js';
import {
  Condition,
  decodeTransfer,
  deliveredMessage,
  dotNetTicksLong,
  localAttach,
  lockTokenFromTag,
  newDeliveryTag,
  outcome,
  remoteAttach,
} from './amqp.js';
import { answerManagementRequest } from './management.js';
import { QueueEntity, type QueueOptions, type SettleOutcome, type Source } from './queue.js';
import { entityPathOfAudience, verifySasToken, type SasKey } from './sas.js';

/** The longest timer Node keeps (2^31-1 ms); the broker re-arms after it. */
const MAX_TIMER_MS = 2_147_483_647;

/** A client receiver link reading from a queue: it holds the locks of what it was sent. */
interface Consumer {
  readonly link: Sender;
  readonly connection: Connection;
  readonly queue: QueueEntity;
  readonly source: Source;
  readonly receiveAndDelete: boolean;
  readonly deliveries: Map<Delivery, string>;
  /** Handed to rhea but not yet on the wire: they already use up credit. */
  queued: Delivery[];
}

type IncomingRole = { kind: 'cbs' } | { kind: 'entity'; queue: QueueEntity } | { kind: 'management'; queue: QueueEntity };

type Address =
  | { kind: 'cbs' }
  | { kind: 'entity'; queueName: string; deadLetter: boolean }
  | { kind: 'management'; queueName: string }
  | { kind: 'invalid'; address: string };

const sessionFilterKey = 'com.microsoft:session-filter';
const maxMessageSizeBytes = 256 * 1024;

function parseAddress(raw: unknown): Address {
  const address = typeof raw === 'string' ? raw.replace(/^[a-z]+:\/\/[^/]+\//i, '') : '';
  if (address === '$cbs') return { kind: 'cbs' };
  const parts = address.split('/').filter((p) => p.length > 0);
  const [queueName, second, third] = parts;
  if (!queueName || parts.length > 3 || third !== undefined && third.toLowerCase() !== '$management') return { kind: 'invalid', address };
  const sub = second?.toLowerCase();
  if (sub === undefined) return { kind: 'entity', queueName, deadLetter: false };
  if (sub === '$management' && third === undefined) return { kind: 'management', queueName };
  if (sub === '$deadletterqueue' && third === undefined) return { kind: 'entity', queueName, deadLetter: true };
  return { kind: 'invalid', address };
}

function hasOwn(object: unknown, key: string): boolean {
  return object !== null && typeof object === 'object' && Object.prototype.hasOwnProperty.call(object, key);
}

/**
 * The AMQP side of the peer: claims-based auth on `$cbs`, entity links, delivery with credit and drain,
 * settlement, `$management`, and the one timer that expires locks. Queue semantics live in `QueueEntity`.
 */
export class Broker {
  readonly container: Container;
  private readonly queues = new Map<string, QueueEntity>();
  private readonly consumers = new Set<Consumer>();
  private readonly consumerOfLink = new Map<Sender, Consumer>();
  private readonly roleOfLink = new WeakMap<Receiver, IncomingRole>();
  private readonly grants = new WeakMap<Connection, Map<string, number>>();
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(
    queues: QueueOptions[],
    private readonly key: SasKey,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    for (const options of queues) this.queues.set(options.name.toLowerCase(), new QueueEntity(options, now));
    this.container = create_container({ id: 'servicebus-test-peer', autoaccept: false });
    const c = this.container;
    c.on('receiver_open', (ctx: EventContext) => this.onClientSenderAttached(ctx));
    c.on('sender_open', (ctx: EventContext) => this.onClientReceiverAttached(ctx));
    c.on('message', (ctx: EventContext) => this.onMessage(ctx));
    c.on('sendable', (ctx: EventContext) => this.pumpLink(ctx.sender));
    c.on('sender_draining', (ctx: EventContext) => {
      this.pumpLink(ctx.sender);
      ctx.sender?.set_drained(true);
    });
    for (const event of ['accepted', 'rejected', 'modified', 'released']) {
      c.on(event, (ctx: EventContext) => this.onClientDisposition(ctx));
    }
    c.on('sender_close', (ctx: EventContext) => this.dropConsumer(ctx.sender));
    c.on('connection_close', (ctx: EventContext) => this.dropConnection(ctx.connection));
    c.on('disconnected', (ctx: EventContext) => this.dropConnection(ctx.connection));
    c.on('error', (error: unknown) => this.logger.debug({ err: error }, 'amqp error'));
    for (const event of ['sender_error', 'receiver_error', 'session_error', 'connection_error', 'protocol_error']) {
      c.on(event, (ctx: EventContext) => this.logger.debug({ event, error: ctx.error }, 'amqp error event'));
    }
  }

  queue(name: string): QueueEntity {
    const queue = this.queues.get(name.toLowerCase());
    if (!queue) throw new Error(`the Service Bus test peer has no queue '${name}'`);
    return queue;
  }

  /** Every consumer loses its locks (the connections are gone). */
  dropAllConnections(): void {
    for (const consumer of [...this.consumers]) this.removeConsumer(consumer);
  }

  dispose(): void {
    this.disposed = true;
    this.dropAllConnections();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  // --- attach -------------------------------------------------------------------------------------

  private refuse(link: Sender | Receiver, condition: string, description: string): void {
    this.logger.debug({ link: link.name, condition, description }, 'attach refused');
    link.close({ condition, description });
  }

  private queueFor(link: Sender | Receiver, connection: Connection, queueName: string, entityPath: string): QueueEntity | undefined {
    const queue = this.queues.get(queueName.toLowerCase());
    if (!queue) {
      this.refuse(link, Condition.notFound, `The messaging entity '${entityPath}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.`);
      return undefined;
    }
    if (!this.isAuthorized(connection, entityPath)) {
      this.refuse(link, Condition.unauthorized, `Unauthorized access: no valid token was put on $cbs for '${entityPath}'.`);
      return undefined;
    }
    return queue;
  }

  private onClientSenderAttached(ctx: EventContext): void {
    const link = ctx.receiver!;
    const remote = remoteAttach(link);
    const rawAddress = remote.target?.address;
    const address = parseAddress(rawAddress);
    link.set_target({ address: rawAddress ?? '' });
    if (address.kind === 'cbs') {
      this.roleOfLink.set(link, { kind: 'cbs' });
      return;
    }
    if (address.kind === 'invalid') return this.refuse(link, Condition.notFound, `The messaging entity '${address.address}' could not be found.`);
    if (address.kind === 'entity' && address.deadLetter) {
      return this.refuse(link, Condition.notAllowed, 'Messages cannot be sent to a dead-letter sub-queue.');
    }
    const path = address.kind === 'management' ? `${address.queueName}/$management` : address.queueName;
    const queue = this.queueFor(link, ctx.connection, address.queueName, path);
    if (!queue) return;
    if (remote.source) link.set_source(remote.source as never);
    if (address.kind === 'entity') {
      localAttach(link).max_message_size = maxMessageSizeBytes;
      this.roleOfLink.set(link, { kind: 'entity', queue });
    } else {
      this.roleOfLink.set(link, { kind: 'management', queue });
    }
  }

  private onClientReceiverAttached(ctx: EventContext): void {
    const link = ctx.sender!;
    const remote = remoteAttach(link);
    const rawAddress = remote.source?.address;
    const address = parseAddress(rawAddress);
    if (remote.target) link.set_target(remote.target as never);
    if (address.kind === 'cbs' || address.kind === 'management') {
      // Reply links: found by name when a request names them in reply_to.
      link.set_source({ address: rawAddress ?? '' });
      if (address.kind === 'management' && !this.queueFor(link, ctx.connection, address.queueName, `${address.queueName}/$management`)) return;
      return;
    }
    if (address.kind === 'invalid') return this.refuse(link, Condition.notFound, `The messaging entity '${address.address}' could not be found.`);
    const path = address.deadLetter ? `${address.queueName}/$DeadLetterQueue` : address.queueName;
    const queue = this.queueFor(link, ctx.connection, address.queueName, path);
    if (!queue) return;

    const filter = remote.source?.filter;
    let source: Source;
    if (!address.deadLetter && hasOwn(filter, sessionFilterKey)) {
      const requested = (filter as Record<string, unknown>)[sessionFilterKey];
      const accepted = queue.acceptSession(typeof requested === 'string' ? requested : null, link);
      if (!accepted.ok) return this.refuse(link, accepted.condition, accepted.description);
      source = { kind: 'session', sessionId: accepted.sessionId };
      link.set_source({ address: rawAddress, filter: { [sessionFilterKey]: accepted.sessionId } } as never);
      localAttach(link).properties = {
        'com.microsoft:locked-until-utc': dotNetTicksLong(accepted.lockedUntilMs),
      };
    } else {
      source = address.deadLetter ? { kind: 'deadLetter' } : { kind: 'queue' };
      const refusal = queue.checkPlainReceiver(source);
      if (refusal) return this.refuse(link, refusal.condition, refusal.description);
      link.set_source({ address: rawAddress } as never);
    }
    const attach = localAttach(link);
    attach.snd_settle_mode = remote.snd_settle_mode ?? 0;
    attach.rcv_settle_mode = remote.rcv_settle_mode ?? 0;
    // The link object is the lock holder the queue sees (acceptSession above locked the session for it).
    const consumer: Consumer = {
      link,
      connection: ctx.connection,
      queue,
      source,
      receiveAndDelete: remote.snd_settle_mode === 1,
      deliveries: new Map(),
      queued: [],
    };
    this.consumers.add(consumer);
    this.consumerOfLink.set(link, consumer);
    this.schedule();
  }

  // --- incoming messages ----------------------------------------------------------------------------

  private onMessage(ctx: EventContext): void {
    const link = ctx.receiver!;
    const delivery = ctx.delivery!;
    const role = this.roleOfLink.get(link);
    if (!role) {
      delivery.reject({ condition: Condition.notAllowed, description: 'This link does not accept messages.' });
      return;
    }
    if (role.kind === 'cbs') return this.onPutToken(ctx, ctx.message as Message);
    if (role.kind === 'management') return this.onManagementRequest(ctx, role.queue, ctx.message as Message);

    let messages: Message[];
    try {
      const format = (delivery as unknown as { format?: number }).format ?? 0;
      messages = decodeTransfer(ctx.message as unknown as Message | Buffer, format);
    } catch (error) {
      delivery.reject({ condition: Condition.decodeError, description: (error as Error).message });
      return;
    }
    for (const message of messages) {
      const refusal = role.queue.validate(message);
      if (refusal) {
        delivery.reject({ condition: refusal.condition, description: refusal.description });
        return;
      }
    }
    for (const message of messages) {
      const result = role.queue.enqueue(message);
      if (result.ok && result.duplicate) this.logger.debug({ queue: role.queue.name, messageId: message.message_id }, 'duplicate dropped');
    }
    delivery.accept();
    this.pumpQueue(role.queue);
    // A scheduled message needs the timer to come back when it becomes visible.
    this.schedule();
  }

  private reply(connection: Connection, request: Message, response: { application_properties: Record<string, unknown>; body?: unknown }): void {
    const replyTo = request.reply_to;
    const sender = connection.find_sender(
      (l: Sender) => l.name === replyTo || remoteAttach(l).target?.address === replyTo,
    );
    if (!sender) {
      this.logger.debug({ replyTo }, 'no reply link for request');
      return;
    }
    sender.send({ correlation_id: request.message_id, to: replyTo, ...response } as Message);
  }

  private onPutToken(ctx: EventContext, request: Message): void {
    ctx.delivery!.accept();
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    const audience = typeof props.name === 'string' ? props.name : '';
    const status = (code: number, description: string) => ({ 'status-code': code, 'status-description': description });
    if (props.operation !== 'put-token') {
      return this.reply(ctx.connection, request, { application_properties: status(400, `unsupported operation '${String(props.operation)}'`) });
    }
    if (props.type !== 'servicebus.windows.net:sastoken') {
      return this.reply(ctx.connection, request, {
        application_properties: status(401, `token type '${String(props.type)}' is not accepted by the test peer; use a SAS connection string`),
      });
    }
    const verdict = verifySasToken(String(request.body), this.key, this.now());
    if (!verdict.ok || verdict.audience.toLowerCase() !== audience.toLowerCase()) {
      const reason = verdict.ok ? 'token audience does not match name' : verdict.reason;
      this.logger.debug({ audience, reason }, 'put-token refused');
      return this.reply(ctx.connection, request, { application_properties: status(401, `InvalidSignature: ${reason}`) });
    }
    let grants = this.grants.get(ctx.connection);
    if (!grants) this.grants.set(ctx.connection, (grants = new Map()));
    grants.set(entityPathOfAudience(audience), verdict.expiresAtMs);
    this.reply(ctx.connection, request, { application_properties: status(202, 'Accepted') });
  }

  private isAuthorized(connection: Connection, entityPath: string): boolean {
    const grants = this.grants.get(connection);
    if (!grants) return false;
    const nowMs = this.now();
    const lower = entityPath.toLowerCase();
    for (const path of [lower, '']) {
      const expiresAtMs = grants.get(path);
      if (expiresAtMs !== undefined && expiresAtMs > nowMs) return true;
    }
    return false;
  }

  private onManagementRequest(ctx: EventContext, queue: QueueEntity, request: Message): void {
    ctx.delivery!.accept();
    const response = answerManagementRequest(queue, request, (linkName) => {
      for (const consumer of this.consumers) if (consumer.link.name === linkName) return consumer.link;
      return undefined;
    });
    this.reply(ctx.connection, request, response);
    this.pumpQueue(queue);
    this.schedule();
  }

  // --- delivery and settlement --------------------------------------------------------------------

  private pumpLink(link: Sender | undefined): void {
    const consumer = link ? this.consumerOfLink.get(link) : undefined;
    if (consumer) this.pump(consumer);
  }

  private pumpQueue(queue: QueueEntity): void {
    for (const consumer of this.consumers) if (consumer.queue === queue) this.pump(consumer);
  }

  private pump(consumer: Consumer): void {
    const { link, queue } = consumer;
    // rhea counts credit down only when a transfer is written, so count what is still queued here.
    const nextOnWire = (link.session as unknown as { outgoing: { next_pending_delivery: number } }).outgoing.next_pending_delivery;
    consumer.queued = consumer.queued.filter((d) => (d as unknown as { id: number }).id >= nextOnWire);
    let available = (link as unknown as { credit: number }).credit - consumer.queued.length;
    const source = consumer.source;
    if (source.kind === 'session' && !queue.holdsSession(source.sessionId, link)) return;
    while (!this.disposed && available > 0 && link.is_open()) {
      const stored = queue.nextFor(consumer.source);
      if (!stored) break;
      const tag = newDeliveryTag();
      const token = lockTokenFromTag(tag);
      const lockedUntilMs = queue.lock(stored, link, token, consumer.source);
      const delivery = link.send(
        deliveredMessage(stored.amqp, {
          sequenceNumber: stored.sequenceNumber,
          enqueuedAt: stored.enqueuedAt,
          deliveryCount: stored.deliveryCount,
          lockedUntilMs: consumer.receiveAndDelete ? undefined : lockedUntilMs,
        }),
        tag,
      );
      available -= 1;
      consumer.queued.push(delivery);
      if (consumer.receiveAndDelete) queue.settle(token, link, { kind: 'complete' });
      else consumer.deliveries.set(delivery, token);
    }
    this.schedule();
  }

  private onClientDisposition(ctx: EventContext): void {
    const consumer = ctx.sender ? this.consumerOfLink.get(ctx.sender) : undefined;
    const delivery = ctx.delivery;
    if (!consumer || !delivery) return;
    const token = consumer.deliveries.get(delivery);
    // rhea also reports `modified` as `released`: the first event settles, the second finds nothing.
    if (token === undefined) return;
    consumer.deliveries.delete(delivery);
    const state = delivery.remote_state as { constructor: { composite_type?: string }; error?: { condition?: string; info?: Record<string, unknown> }; undeliverable_here?: boolean } | undefined;
    const kind = state?.constructor?.composite_type;
    let settleAs: SettleOutcome;
    let echo: unknown;
    let notImplemented: string | undefined;
    if (kind === 'accepted') {
      settleAs = { kind: 'complete' };
      echo = outcome('accepted');
    } else if (kind === 'rejected') {
      const info = state?.error?.info ?? {};
      settleAs = {
        kind: 'deadLetter',
        reason: typeof info.DeadLetterReason === 'string' ? info.DeadLetterReason : undefined,
        description: typeof info.DeadLetterErrorDescription === 'string' ? info.DeadLetterErrorDescription : undefined,
      };
      echo = outcome('rejected');
    } else if (kind === 'modified' && state?.undeliverable_here) {
      settleAs = { kind: 'abandon' };
      notImplemented = 'Deferring messages is not implemented by the Service Bus test peer; the message was abandoned.';
    } else {
      settleAs = { kind: 'abandon' };
      echo = kind === 'modified' ? outcome('modified', { undeliverable_here: false }) : outcome('released');
    }
    const result = consumer.queue.settle(token, consumer.link, settleAs);
    if (!result.ok || notImplemented) {
      const error = result.ok
        ? { condition: Condition.notImplemented, description: notImplemented }
        : { condition: result.condition, description: result.description };
      delivery.update(true, outcome('rejected', { error }));
    } else {
      delivery.update(true, echo);
    }
    this.pumpQueue(consumer.queue);
  }

  // --- link loss and lock expiry ------------------------------------------------------------------

  private dropConsumer(link: Sender | undefined): void {
    const consumer = link ? this.consumerOfLink.get(link) : undefined;
    if (consumer) this.removeConsumer(consumer);
  }

  private dropConnection(connection: Connection): void {
    for (const consumer of [...this.consumers]) if (consumer.connection === connection) this.removeConsumer(consumer);
  }

  private removeConsumer(consumer: Consumer): void {
    if (!this.consumers.delete(consumer)) return;
    this.consumerOfLink.delete(consumer.link);
    consumer.queue.releaseHolder(consumer.link);
    this.pumpQueue(consumer.queue);
  }

  private schedule(): void {
    if (this.disposed) return;
    let next: number | undefined;
    for (const queue of this.queues.values()) {
      const deadline = queue.nextLockDeadlineMs();
      if (deadline !== undefined && (next === undefined || deadline < next)) next = deadline;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (next === undefined) return;
    // Node fires a timer longer than 2^31-1 ms at once (TimeoutOverflowWarning): a message scheduled 30 days ahead
    // (an outbound status cleanup) made this a 1 ms loop. A shorter wait just re-arms when it fires.
    this.timer = setTimeout(() => this.expireLocks(), Math.min(MAX_TIMER_MS, Math.max(0, next - this.now()) + 1));
    this.timer.unref();
  }

  private expireLocks(): void {
    this.timer = undefined;
    for (const queue of this.queues.values()) {
      queue.expire();
      queue.showDue();
      for (const holder of queue.takeLostSessionHolders()) {
        const consumer = this.consumerOfLink.get(holder as Sender);
        if (!consumer) continue;
        this.consumers.delete(consumer);
        this.consumerOfLink.delete(consumer.link);
        consumer.link.close({ condition: Condition.sessionLockLost, description: 'The session lock has expired.' });
      }
      this.pumpQueue(queue);
    }
    this.schedule();
  }
}
