import { randomBytes } from 'node:crypto';
import type { AddressInfo, Server, Socket } from 'node:net';
import { silentLogger, type Logger } from '../../shared/log.js';
import { Broker } from './broker.js';
import type { PeerMessage, QueueOptions } from './queue.js';
import { provisionedQueues } from './provisioned-queues.js';

export type { PeerMessage, QueueOptions } from './queue.js';

export interface ServiceBusPeer {
  readonly port: number;
  /** Works with `new ServiceBusClient(connectionString)` over plain AMQP (`UseDevelopmentEmulator=true`). */
  readonly connectionString: string;
  /** Every message ever accepted (for assertions), in enqueue order. */
  messages(queue: string): PeerMessage[];
  /** Messages still waiting to be received. */
  activeMessages(queue: string): PeerMessage[];
  deadLetters(queue: string): PeerMessage[];
  /** A session's state as last set (null if never set). */
  sessionState(queue: string, sessionId: string): Buffer | null;
  /** The set-session-state operations on a session, in order: their size and when (peer clock, ms). */
  sessionStateWrites(queue: string, sessionId: string): { bytes: number; atMs: number }[];
  /** "Service Bus down": closes the listener and drops every connection; the data is kept. */
  stop(): Promise<void>;
  /** "Back up" on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceBusPeerOptions {
  port?: number;
  host?: string;
  queues?: QueueOptions[];
  /** The key the connection string carries and SAS tokens must be signed with; random by default. */
  sharedAccessKeyName?: string;
  sharedAccessKey?: string;
  logger?: Logger;
}

/**
 * Client retry options for tests against the peer: the SDK's defaults wait 30 s between retries and 60 s
 * per try. Pass as `new ServiceBusClient(peer.connectionString, { retryOptions: testClientRetryOptions })`.
 */
export const testClientRetryOptions = { maxRetries: 0, retryDelayInMs: 20, maxRetryDelayInMs: 100, timeoutInMs: 2000 } as const;

/** The queues infra provisions, with their settings (infra/modules/servicebus-queues.json). */
export const defaultQueues: QueueOptions[] = provisionedQueues;

function snapshot(message: PeerMessage): PeerMessage {
  const { messageId, sessionId, body, applicationProperties, enqueuedAt, deliveryCount, state } = message;
  return { messageId, sessionId, body, applicationProperties: { ...applicationProperties }, enqueuedAt, deliveryCount, state };
}

/**
 * A local AMQP 1.0 peer that the real `@azure/service-bus` client talks to as it would to Service Bus:
 * SASL ANONYMOUS, CBS put-token with SAS verification, queues with sessions, duplicate detection, TTL,
 * peek-lock, dead-lettering and the `$management` operations the client uses in normal work.
 */
export async function startServiceBusPeer(options: ServiceBusPeerOptions = {}): Promise<ServiceBusPeer> {
  const host = options.host ?? '127.0.0.1';
  const keyName = options.sharedAccessKeyName ?? 'RootManageSharedAccessKey';
  const key = options.sharedAccessKey ?? randomBytes(32).toString('base64');
  const logger = options.logger ?? silentLogger;
  const broker = new Broker(options.queues ?? defaultQueues, { keyName, key }, logger);

  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = options.port ?? 0;

  const listen = async (): Promise<void> => {
    const listening = broker.container.listen({ host, port, noDelay: true, tcp_no_delay: true } as never) as unknown as Server;
    listening.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      listening.once('listening', resolve);
      listening.once('error', reject);
    });
    server = listening;
    port = (listening.address() as AddressInfo).port;
  };

  const stop = async (): Promise<void> => {
    const current = server;
    server = undefined;
    if (!current) return;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    broker.dropAllConnections();
    await closed;
  };

  await listen();
  const connectionString = `Endpoint=sb://${host}:${port}/;SharedAccessKeyName=${keyName};SharedAccessKey=${key};UseDevelopmentEmulator=true`;
  let closed = false;

  return {
    port,
    connectionString,
    messages: (queue) => broker.queue(queue).messages().map(snapshot),
    activeMessages: (queue) =>
      broker
        .queue(queue)
        .messages()
        .filter((m) => m.state === 'active')
        .map(snapshot),
    deadLetters: (queue) => broker.queue(queue).deadLetters().map(snapshot),
    sessionState: (queue, sessionId) => broker.queue(queue).getSessionState(sessionId),
    sessionStateWrites: (queue, sessionId) =>
      broker
        .queue(queue)
        .sessionStateWrites.filter((w) => w.sessionId === sessionId)
        .map(({ bytes, atMs }) => ({ bytes, atMs })),
    stop,
    restart: async () => {
      if (closed) throw new Error('the Service Bus test peer is closed');
      if (!server) await listen();
    },
    close: async () => {
      closed = true;
      await stop();
      broker.dispose();
    },
  };
}
