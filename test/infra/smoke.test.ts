import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import { type AzRule, runWithFakeAz } from './fake-az.js';

// `npm run smoke` (scripts/smoke.ts) run for real, as a child process, against the lab standing in for a deployment:
// the lab's Functions host and worker by URL, the stand-in az (test/infra/fake-az) for the Event Grid subscription.

const SUBSCRIPTION = '11111111-2222-3333-4444-555555555555';

function runSmoke(env: Record<string, string>, rules: AzRule[]) {
  return runWithFakeAz(['--import', 'tsx', 'scripts/smoke.ts'], rules, env, { timeoutMs: 60_000 });
}

function deploymentEnv(lab: Lab): Record<string, string> {
  return {
    FUNCTIONS_BASE_URL: lab.urls.functions,
    WORKER_MEDIA_URL: `${lab.urls.worker}/ws`,
    AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
    AZURE_RESOURCE_GROUP: 'rg-lab',
    ACS_SYSTEM_TOPIC_NAME: 'acs-lab-topic',
  };
}

function subscriptionRule(lab: Lab, overrides: { provisioningState?: string; endpointBaseUrl?: string } = {}): AzRule {
  return {
    args: ['eventgrid', 'system-topic', 'event-subscription', 'show'],
    replies: [
      {
        stdout: {
          name: 'incoming-call',
          provisioningState: overrides.provisioningState ?? 'Succeeded',
          destination: { endpointType: 'WebHook', endpointBaseUrl: overrides.endpointBaseUrl ?? `${lab.urls.functions}/api/incomingCall` },
          filter: { includedEventTypes: ['Microsoft.Communication.IncomingCall'], advancedFilters: [] },
        },
      },
    ],
  };
}

function line(stdout: string, name: string): string {
  return stdout.split('\n').find((l) => l.includes(`] ${name}:`)) ?? `(no line for ${name})`;
}

describe('npm run smoke against the lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ greeting: false });
  }, 60_000);
  afterAll(async () => {
    await lab?.close();
  });

  it('reports every check ok when the deployment can take a call, asking Event Grid in the azd subscription', async () => {
    const sessionsBefore = lab.voiceLive!.sessions.length;
    const run = await runSmoke(deploymentEnv(lab), [subscriptionRule(lab)]);
    expect(run.stderr).toBe('');
    expect(line(run.stdout, 'Functions app health')).toMatch(/^\[ok {2}\] .*configuration valid/);
    expect(line(run.stdout, 'Outbound calls')).toMatch(/^\[ok {2}\] Outbound calls: POST \/api\/calls takes the function key; (\d+ destination prefix(es)? allowed|no destination allowed)/);
    expect(line(run.stdout, 'IncomingCall Event Grid subscription')).toContain(`[ok  ] IncomingCall Event Grid subscription: validated, delivers to ${lab.urls.functions}/api/incomingCall`);
    expect(line(run.stdout, 'Worker readiness (public ingress)')).toMatch(/^\[ok {2}\]/);
    expect(line(run.stdout, 'Voice Live session with the worker identity')).toBe('[ok  ] Voice Live session with the worker identity: session opened and configured');
    expect(line(run.stdout, 'Service Bus (worker identity)')).toBe('[ok  ] Service Bus (worker identity): the worker attached to the call-records queue');
    expect(run.stdout).toContain('smoke: the deployment can take a call');
    expect(run.code).toBe(0);
    const show = run.calls.find((c) => c.includes('show'))!;
    expect(show[show.indexOf('--subscription') + 1]).toBe(SUBSCRIPTION);
    expect(show[show.indexOf('--system-topic-name') + 1]).toBe('acs-lab-topic');
    // The worker really opened (and closed) one Voice Live session for it.
    expect(lab.voiceLive!.sessions.length).toBe(sessionsBefore + 1);
  });

  it('the worker opens at most one Voice Live session per minute for its check, however often it is asked', async () => {
    const worker = lab.urls.worker.replace(/^ws/, 'http');
    await fetch(`${worker}/readyz/voice-live`);
    const sessionsBefore = lab.voiceLive!.sessions.length;
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${worker}/readyz/voice-live`).then((r) => r.json() as Promise<{ voiceLive: { cached: boolean; ok: boolean } }>)));
    expect(answers.every((a) => a.voiceLive.ok && a.voiceLive.cached)).toBe(true);
    expect(lab.voiceLive!.sessions.length).toBe(sessionsBefore);
  });

  it('fails with the fix when the IncomingCall subscription is missing, not validated, or points elsewhere', async () => {
    const missing = await runSmoke(deploymentEnv(lab), [
      { args: ['event-subscription', 'show'], replies: [{ stderr: "ERROR: (ResourceNotFound) The Resource 'incoming-call' was not found.", code: 3 }] },
    ]);
    expect(missing.code).toBe(1);
    expect(line(missing.stdout, 'IncomingCall Event Grid subscription')).toContain("[FAIL] IncomingCall Event Grid subscription: subscription 'incoming-call' does not exist on acs-lab-topic");
    expect(missing.stdout).toContain('fix: Create it: azd hooks run postdeploy');

    const pending = await runSmoke(deploymentEnv(lab), [subscriptionRule(lab, { provisioningState: 'AwaitingManualAction' })]);
    expect(pending.code).toBe(1);
    expect(pending.stdout).toContain('provisioningState is AwaitingManualAction: Event Grid has not validated the webhook');

    const elsewhere = await runSmoke(deploymentEnv(lab), [subscriptionRule(lab, { endpointBaseUrl: 'https://func-old.azurewebsites.net/api/incomingCall' })]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toContain(`it delivers to https://func-old.azurewebsites.net/api/incomingCall, not to ${lab.urls.functions}/api/incomingCall`);
  });

  it('fails the worker checks with what to do when the worker does not answer', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const run = await runSmoke({ ...deploymentEnv(lab), WORKER_MEDIA_URL: `ws://127.0.0.1:${closed}/ws` }, [subscriptionRule(lab)]);
    expect(run.code).toBe(1);
    expect(line(run.stdout, 'Worker readiness (public ingress)')).toContain(`[FAIL] Worker readiness (public ingress): http://127.0.0.1:${closed}/readyz did not answer (ECONNREFUSED)`);
    expect(run.stdout).toContain('fix: Check the worker revision: az containerapp revision list');
    expect(line(run.stdout, 'Functions app health')).toMatch(/^\[ok/);
  });

  it('names each invalid setting when the Functions app reports its configuration invalid', async () => {
    // A stand-in for the Functions host answering the health contract's 503.
    const server: Server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' }).end(
        JSON.stringify({ status: 'misconfigured', problems: [{ variable: 'WORKER_MEDIA_URL', message: 'must be a wss:// URL' }] }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const run = await runSmoke({ ...deploymentEnv(lab), FUNCTIONS_BASE_URL: base }, [subscriptionRule(lab, { endpointBaseUrl: `${base}/api/incomingCall` })]);
      expect(run.code).toBe(1);
      expect(line(run.stdout, 'Functions app health')).toBe('[FAIL] Functions app health: the app runs but its configuration is invalid: WORKER_MEDIA_URL: must be a wss:// URL');
      expect(run.stdout).toContain('fix: Set WORKER_MEDIA_URL (azd env set NAME value, then azd provision).');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('tells the user to give the values when neither azd nor the variables are there', async () => {
    const run = await runSmoke({ PATH: '/nonexistent' }, []);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('could not read the azd environment (azd env get-values)');
  });
});

describe('npm run smoke when the worker\'s dependencies refuse it', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ greeting: false });
  }, 60_000);
  afterAll(async () => {
    await lab?.close();
  });

  // One run: the worker caches each check's result for a minute.
  it('fails the Voice Live and Service Bus checks with the service\'s refusal and the roles to grant', async () => {
    lab.voiceLive!.refuseNextUpgrades(401);
    await lab.serviceBus.stop();
    try {
      const run = await runSmoke(deploymentEnv(lab), [subscriptionRule(lab)]);
      expect(run.code).toBe(1);
      expect(line(run.stdout, 'Voice Live session with the worker identity')).toMatch(/^\[FAIL\] Voice Live session with the worker identity: Voice Live refused the worker's session: .*401/);
      expect(run.stdout).toContain('fix: The worker identity needs Cognitive Services User and Azure AI User on the AI Services account');
      expect(line(run.stdout, 'Service Bus (worker identity)')).toMatch(/^\[FAIL\] Service Bus \(worker identity\): the worker could not attach to Service Bus: /);
      expect(run.stdout).toContain('fix: The worker identity needs Azure Service Bus Data Sender on call-records');
      expect(line(run.stdout, 'Service Bus (Functions identity)')).toMatch(/^\[FAIL\] Service Bus \(Functions identity\): not reachable: /);
      expect(line(run.stdout, 'Functions app health')).toMatch(/^\[ok +\] .*configuration valid \(a dependency failed/);
      expect(line(run.stdout, 'Worker readiness (public ingress)')).toMatch(/^\[ok/);
      expect(run.stdout).toContain('smoke: 3 check(s) failed');
    } finally {
      await lab.serviceBus.restart();
    }
  }, 40_000);
});
