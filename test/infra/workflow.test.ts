import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from './bicep.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
  needs?: string;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: { workflow_dispatch?: { inputs?: Record<string, { type?: string; default?: unknown }> } };
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflow = parseYaml(readFileSync(join(repoRoot, '.github', 'workflows', 'azure.yml'), 'utf8')) as Workflow;
const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');
const CONFIGURED = /vars\.AZURE_CLIENT_ID != '' && vars\.AZURE_TENANT_ID != '' && vars\.AZURE_SUBSCRIPTION_ID != ''/;

describe('.github/workflows/azure.yml', () => {
  it('may ask GitHub for an OIDC token (federated credentials, no stored secret) and reads nothing else', () => {
    expect(workflow.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    expect(readFileSync(join(repoRoot, '.github', 'workflows', 'azure.yml'), 'utf8')).not.toMatch(/secrets\./);
  });

  it('skips every job when the Azure variables are not configured', () => {
    expect(Object.keys(workflow.jobs).sort()).toEqual(['preview', 'scratch-deploy']);
    for (const [name, job] of Object.entries(workflow.jobs)) expect(job.if, name).toMatch(CONFIGURED);
  });

  it('signs az and azd in with the federated credential of the configured app', () => {
    for (const job of Object.values(workflow.jobs)) {
      const login = job.steps.find((s) => s.uses?.startsWith('azure/login@'))!;
      expect(login.with).toEqual({ 'client-id': '${{ vars.AZURE_CLIENT_ID }}', 'tenant-id': '${{ vars.AZURE_TENANT_ID }}', 'subscription-id': '${{ vars.AZURE_SUBSCRIPTION_ID }}' });
      expect(runs(job)).toContain('azd auth login --client-id "$AZURE_CLIENT_ID" --federated-credential-provider github');
    }
  });

  it('compiles and lints infra/main.bicep, then previews the deployment', () => {
    const preview = runs(workflow.jobs.preview!);
    const build = preview.indexOf('az bicep build --file infra/main.bicep');
    const lint = preview.indexOf('az bicep lint --file infra/main.bicep');
    const what = preview.indexOf('azd provision --preview --no-prompt');
    expect(build).toBeGreaterThanOrEqual(0);
    expect(lint).toBeGreaterThan(build);
    expect(what).toBeGreaterThan(lint);
  });

  it('deploys to a scratch environment only when asked, smoke-checks it, and always tears it down', () => {
    expect(workflow.on.workflow_dispatch?.inputs?.deploy).toMatchObject({ type: 'boolean', default: false });
    const job = workflow.jobs['scratch-deploy']!;
    expect(job.if).toContain("github.event_name == 'workflow_dispatch' && inputs.deploy");
    expect(job.env?.AZURE_ENV_NAME).toBe('scratch-${{ github.run_id }}');
    const order = ['azd up --no-prompt', 'npm run smoke', 'azd down --force --purge --no-prompt'].map((command) => job.steps.findIndex((s) => s.run?.includes(command)));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(job.steps[order[2]!]!.if).toBe('${{ always() }}');
  });
});
