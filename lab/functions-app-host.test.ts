import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareFunctionsAppProcess, type FunctionsAppProcess } from './functions-app-process.js';
import { startServiceBusPeer, type ServiceBusPeer } from './servicebus/peer.js';

/**
 * A small Functions app (plain JavaScript with `@azure/functions`, as a built app is) loaded by the lab's Functions host
 * in its own process: its Service Bus queue trigger is resolved from the app settings as the host resolves it, fed by
 * a peek-lock receiver on the Service Bus peer, and invoked through the library's own invocation model.
 */
const fixtureApp = `
const { app } = require('@azure/functions');
const seen = [];
const failedOnce = new Set();
app.serviceBusQueue('jobs', {
  connection: 'JOBS_BUS',
  queueName: '%JOBS_QUEUE%',
  handler: async (message, context) => {
    seen.push({ message, type: typeof message, functionName: context.functionName, triggerMetadata: context.triggerMetadata });
    if (message && message.failFirst && !failedOnce.has(context.triggerMetadata.messageId)) {
      failedOnce.add(context.triggerMetadata.messageId);
      throw new Error('first delivery fails');
    }
    if (message && message.failAlways) throw new Error('always fails');
  },
});
app.serviceBusQueue('sessions', { connection: 'JOBS_BUS', queueName: 'lab-jobs', isSessionsEnabled: true, handler: async () => {} });
app.timer('tick', { schedule: '0 */5 * * * *', handler: async () => {} });
app.http('seen', { route: 'seen', methods: ['GET'], authLevel: 'anonymous', handler: async () => ({ jsonBody: seen }) });
`;

interface Seen {
  message: unknown;
  type: string;
  functionName: string;
  triggerMetadata: Record<string, unknown>;
}

describe("the lab's Functions host runs an app's Service Bus queue trigger as the host does", () => {
  let folder: string;
  let peer: ServiceBusPeer;
  let app: FunctionsAppProcess;
  let client: ServiceBusClient;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'functions-app-'));
    writeFileSync(join(folder, 'package.json'), JSON.stringify({ name: 'fixture-app', main: 'index.js' }));
    writeFileSync(join(folder, 'index.js'), fixtureApp);
    mkdirSync(join(folder, 'node_modules', '@azure'), { recursive: true });
    symlinkSync(resolve(__dirname, '..', 'node_modules', '@azure', 'functions'), join(folder, 'node_modules', '@azure', 'functions'), 'dir');
    peer = await startServiceBusPeer({ queues: [{ name: 'lab-jobs', maxDeliveryCount: 2 }] });
    client = new ServiceBusClient(peer.connectionString);
    app = await prepareFunctionsAppProcess({ appRoot: folder, host: '127.0.0.1' });
    // The connection under the AzureWebJobs prefix, the queue name's setting in another case: both as the host reads them.
    await app.start({ AzureWebJobsJOBS_BUS: peer.connectionString, jobs_queue: 'lab-jobs', LOG_LEVEL: 'silent' });
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await app?.close();
    await peer?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const seen = async () => (await (await fetch(app.urlOf('seen'))).json()) as Seen[];

  it('reports the trigger it listens for, and refuses by name what it cannot run as Azure does', () => {
    expect(app.triggers).toEqual([
      { name: 'jobs', type: 'serviceBusTrigger', queueName: 'lab-jobs', connection: 'JOBS_BUS', connectionSetting: 'AzureWebJobsJOBS_BUS', connectionKind: 'connectionString', listening: true },
    ]);
    expect(app.functionErrors).toEqual([
      { function: 'sessions', message: expect.stringContaining('session-enabled Service Bus triggers (isSessionsEnabled)') as unknown as string },
      { function: 'tick', message: expect.stringContaining('not timerTrigger') as unknown as string },
    ]);
    expect(app.registered.map((f) => f.name)).toEqual(['seen']);
  });

  it('hands the handler the body as the host does (JSON parsed, other text as text) and the message metadata in context.triggerMetadata', async () => {
    const sender = client.createSender('lab-jobs');
    await sender.sendMessages({ body: { hello: 'world' }, messageId: 'json-1', subject: 'greeting', correlationId: 'c-1', applicationProperties: { tenant: 'a' } });
    await sender.sendMessages({ body: Buffer.from('plain text'), messageId: 'text-1' });
    await sender.close();
    await expect.poll(async () => (await seen()).length, { timeout: 10_000 }).toBe(2);
    const [json, text] = await seen();
    expect(json).toMatchObject({
      message: { hello: 'world' },
      functionName: 'jobs',
      triggerMetadata: { messageId: 'json-1', deliveryCount: 1, label: 'greeting', subject: 'greeting', correlationId: 'c-1', userProperties: { tenant: 'a' }, applicationProperties: { tenant: 'a' } },
    });
    expect(Date.parse(json!.triggerMetadata.enqueuedTimeUtc as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(text).toMatchObject({ message: 'plain text', type: 'string', triggerMetadata: { messageId: 'text-1', deliveryCount: 1 } });
    await expect.poll(() => peer.messages('lab-jobs').map((m) => m.state), { timeout: 5000 }).toEqual(['completed', 'completed']);
  });

  it('abandons a message whose handler throws: delivered again (deliveryCount 2), then dead-lettered at maxDeliveryCount', async () => {
    const sender = client.createSender('lab-jobs');
    await sender.sendMessages({ body: { failFirst: true }, messageId: 'retry-1' });
    await sender.sendMessages({ body: { failAlways: true }, messageId: 'poison-1' });
    await sender.close();
    const deliveries = async (id: string) => (await seen()).filter((s) => s.triggerMetadata.messageId === id).map((s) => s.triggerMetadata.deliveryCount);
    await expect.poll(() => deliveries('retry-1'), { timeout: 10_000 }).toEqual([1, 2]);
    await expect.poll(() => peer.messages('lab-jobs').find((m) => m.messageId === 'retry-1')?.state, { timeout: 5000 }).toBe('completed');
    await expect.poll(() => peer.deadLetters('lab-jobs').map((m) => m.messageId), { timeout: 10_000 }).toEqual(['poison-1']);
    expect(await deliveries('poison-1')).toEqual([1, 2]);
  });
});
