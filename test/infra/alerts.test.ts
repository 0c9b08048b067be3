import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metrics as otelMetrics } from '@opentelemetry/api';
import { CredentialUnavailableError } from '@azure/identity';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import { AcsMediaClient, AcsUpgradeError } from '../../lab/acs/media-client.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../../lab/acs-token-issuer.js';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { resolveAgentProfiles } from '../../shared/config/worker.js';
import type { AcsAuthErrorCode } from '../../shared/acs-auth.js';
import { exportPromMetrics } from '../../worker/metrics-export.js';
import { type DropReason, type UpgradeRefusalReason, WorkerMetrics } from '../../worker/metrics.js';
import { RESPONSE_STATUSES } from '../../worker/voice-live/events.js';
import { startWorker, until, workerConfig, type RunningWorker } from '../worker/harness.js';
import { at, bicepFiles, literal, modules, parseBicepFile, properties, repoPath, repoRoot, resources, variable } from './bicep.js';
import { type BicepValue, conditionNode, evaluate, outputNode, templateScope } from './bicep-eval.js';
import { CUSTOM_METRICS_SCHEMA, analyzeKql } from './kql.js';

/**
 * Opt-in alerting: ALERT_EMAIL gives an action group and log search alert rules over the worker's metrics in
 * Application Insights; without it nothing of alerting exists. The templates' own expressions are evaluated per
 * scenario (bicep-eval.ts), each rule's KQL is parsed and bound by Microsoft's Kusto parser against customMetrics
 * (kql.ts), and what each query selects is checked against the metrics a real worker exports and emits.
 */

const infra = (...path: string[]): string => join(repoRoot, 'infra', ...path);
const TOKEN = 'abc123def456g';
const EMAIL = 'ops@contoso.com';
const IDENTITY_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-alerts-x';
const APPI_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/components/appi-x';
const ACTION_GROUP_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ag-x';
const SB_NAME = 'sb-x';
const SB_ID = `/subscriptions/s/resourceGroups/rg/providers/Microsoft.ServiceBus/namespaces/${SB_NAME}`;

/**
 * Microsoft.Insights/metricAlerts@2018-03-01 as the Bicep compiler types it (Azure/bicep-types-az,
 * generated/monitor_1/microsoft.insights/2018-03-01/types.md at 1f896de): what the dead-letter rule may set. The
 * window and frequency values the API takes are not in the types (plain strings): they are those of Microsoft's
 * metric alert templates (azure-docs, articles/azure-monitor/samples/resource-manager-alerts-metric.md, single
 * criterion with a static threshold).
 */
const METRIC_ALERT_2018_03_01 = {
  properties: ['actions', 'autoMitigate', 'criteria', 'description', 'enabled', 'evaluationFrequency', 'scopes', 'severity', 'targetResourceRegion', 'targetResourceType', 'windowSize'],
  requiredProperties: ['criteria', 'enabled', 'evaluationFrequency', 'scopes', 'severity', 'windowSize'],
  severities: [0, 1, 2, 3, 4],
  criteriaTypes: ['Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria', 'Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria', 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'],
  // MetricCriteria of SingleResourceMultipleMetricCriteria.allOf.
  criterion: ['criterionType', 'dimensions', 'metricName', 'metricNamespace', 'name', 'operator', 'skipMetricValidation', 'threshold', 'timeAggregation'],
  requiredCriterion: ['criterionType', 'metricName', 'name', 'operator', 'threshold', 'timeAggregation'],
  criterionTypes: ['StaticThresholdCriterion', 'DynamicThresholdCriterion'],
  operators: ['Equals', 'GreaterThan', 'GreaterThanOrEqual', 'LessThan', 'LessThanOrEqual'],
  timeAggregations: ['Average', 'Count', 'Maximum', 'Minimum', 'Total'],
  dimensionOperators: ['Include', 'Exclude'],
  action: ['actionGroupId', 'webHookProperties'],
  windowSizes: ['PT1M', 'PT5M', 'PT15M', 'PT30M', 'PT1H', 'PT6H', 'PT12H', 'PT24H'],
  evaluationFrequencies: ['PT1M', 'PT5M', 'PT15M', 'PT30M', 'PT1H'],
} as const;
/**
 * Service Bus's DeadletteredMessages platform metric (Azure Monitor, supported metrics for
 * Microsoft.ServiceBus/namespaces): the count of messages in an entity's dead-letter sub-queue, a gauge aggregated
 * by Average, Minimum or Maximum (not Total or Count), with the EntityName dimension.
 */
const DEAD_LETTERED_MESSAGES = { namespace: 'Microsoft.ServiceBus/namespaces', name: 'DeadletteredMessages', aggregations: ['Average', 'Minimum', 'Maximum'], dimension: 'EntityName' } as const;
const isoMinutes = (duration: string): number => {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?$/.exec(duration);
  if (!match) throw new Error(`not a PT..H..M duration: ${duration}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
};

interface MetricDimension {
  name: string;
  operator: string;
  values: string[];
}
interface MetricAlert {
  name: string;
  location: string;
  properties: Record<string, unknown> & {
    description: string;
    severity: number;
    enabled: boolean;
    scopes: string[];
    evaluationFrequency: string;
    windowSize: string;
    autoMitigate: boolean;
    criteria: { 'odata.type': string; allOf: (Record<string, unknown> & { metricName: string; metricNamespace: string; timeAggregation: string; operator: string; threshold: number; criterionType: string; dimensions: MetricDimension[] })[] };
    actions: Record<string, unknown>[];
  };
}
/** Whether a metric alert's dimension filter lets a value of that dimension through. */
function dimensionSelects(dimension: MetricDimension, value: string): boolean {
  const listed = dimension.values.includes('*') || dimension.values.includes(value);
  return dimension.operator === 'Include' ? listed : !listed;
}

interface ParametersFile {
  parameters: Record<string, { value: unknown }>;
}
const parametersFile = JSON.parse(readFileSync(infra('main.parameters.json'), 'utf8')) as ParametersFile;
/** `${NAME=default}` -> [NAME, default]. */
function azdValue(parameter: string): [string, string] {
  const match = /^\$\{([A-Z0-9_]+)(?:=([^}]*))?\}$/.exec(String(parametersFile.parameters[parameter]?.value));
  if (!match) throw new Error(`${parameter} is not read from an azd value`);
  return [match[1]!, match[2] ?? ''];
}

const THRESHOLDS = {
  alertResponsesFailedThreshold: { azd: 'ALERT_RESPONSES_FAILED_THRESHOLD', default: 5, moduleParam: 'responsesFailedThreshold' },
  alertCallsFailedThreshold: { azd: 'ALERT_CALLS_FAILED_THRESHOLD', default: 3, moduleParam: 'callsFailedThreshold' },
  alertFramesDroppedThreshold: { azd: 'ALERT_FRAMES_DROPPED_THRESHOLD', default: 50, moduleParam: 'framesDroppedThreshold' },
} as const;

interface AlertCondition {
  query: string;
  timeAggregation: string;
  metricMeasureColumn?: string;
  operator: string;
  threshold: number;
  failingPeriods: { numberOfEvaluationPeriods: number; minFailingPeriodsToAlert: number };
}
interface AlertRule {
  name: string;
  location: string;
  kind: string;
  identity: { type: string; userAssignedIdentities: Record<string, object> };
  properties: {
    displayName: string;
    description: string;
    severity: number;
    enabled: boolean;
    scopes: string[];
    evaluationFrequency: string;
    windowSize: string;
    criteria: { allOf: AlertCondition[] };
    autoMitigate: boolean;
    skipQueryValidation: boolean;
    actions: { actionGroups: string[]; customProperties: Record<string, string> };
  };
}

/** What a rule's query selects: one metric by name, and at most one filter on one label. */
interface Selection {
  metric: string;
  label?: { name: string; op: '==' | 'in' | '!in'; values: string[] };
}
function selection(query: string): Selection {
  const names = [...query.matchAll(/\bname == "([^"]+)"/g)].map((m) => m[1]!);
  if (names.length !== 1) throw new Error(`expected one metric name in ${query}`);
  const filters = [...query.matchAll(/tostring\(customDimensions\.(\w+)\)\s*(==|!in|in)\s*(\([^)]*\)|"[^"]*")/g)];
  if (filters.length > 1) throw new Error(`expected at most one label filter in ${query}`);
  const [filter] = filters;
  if (!filter) return { metric: names[0]! };
  const values = [...filter[3]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  return { metric: names[0]!, label: { name: filter[1]!, op: filter[2] as '==' | 'in' | '!in', values } };
}
const selects = (label: NonNullable<Selection['label']>, value: string | undefined): boolean =>
  label.op === '!in' ? !label.values.includes(value ?? '') : label.values.includes(value ?? '');

// The label values the rules pick, typed by the worker's own unions: renaming one there fails the type check here.
const MEDIA_AUTH_REFUSALS = ['invalid_token', 'expired_token', 'keys_unavailable'] as const satisfies readonly AcsAuthErrorCode[];
const AT_CAPACITY = 'at_capacity' satisfies UpgradeRefusalReason;
const UNKNOWN_PROFILE = 'unknown_profile' satisfies UpgradeRefusalReason;
const DROPS_THAT_ARE_NOT_BAD_INPUT = ['discarded_response', 'voice_live_not_ready'] as const satisfies readonly DropReason[];
const FAILED_RESPONSE_STATUSES = ['failed', 'incomplete'] as const satisfies readonly (typeof RESPONSE_STATUSES)[number][];

describe('alerting under azd (ALERT_EMAIL)', () => {
  let main: Node;
  let alerts: Node;
  let identities: Node;
  let roles: Node;

  beforeAll(async () => {
    main = await parseBicepFile(infra('main.bicep'));
    alerts = await parseBicepFile(infra('modules', 'alerts.bicep'));
    identities = await parseBicepFile(infra('modules', 'identities.bicep'));
    roles = await parseBicepFile(infra('modules', 'role-assignments.bicep'));
  });

  const moduleBody = (symbol: string): Node => modules(main).find((m) => m.symbol === symbol)!.body;

  function mainScope(alertEmail: string): (name: string) => BicepValue {
    const given: Record<string, BicepValue> = { resourceToken: TOKEN, environmentName: 'env', location: 'swedencentral', tags: {}, alertEmail };
    for (const [param, t] of Object.entries(THRESHOLDS)) given[param] = Number(azdValue(param)[1] || t.default);
    given.identities = { outputs: { alertsIdentityId: IDENTITY_ID, alertsPrincipalId: 'p' } };
    given.monitoring = { outputs: { appInsightsName: 'appi-x' } };
    given.serviceBus = { outputs: { namespaceName: SB_NAME } };
    return templateScope(main, given);
  }

  /** The alerts module's parameters as main.bicep passes them with ALERT_EMAIL set. */
  function alertsParams(): Record<string, BicepValue> {
    return evaluate(at(moduleBody('alerts'), 'params')!, mainScope(EMAIL)) as Record<string, BicepValue>;
  }

  /** Every alert rule resource as ARM receives it, from the module's own expressions. */
  function alertRules(): AlertRule[] {
    const given = { ...alertsParams(), appInsights: { id: APPI_ID }, actionGroup: { id: ACTION_GROUP_ID } };
    const scope = templateScope(alerts, given);
    const rules = evaluate(variable(alerts, 'rules')!, scope) as BicepValue[];
    const resource = resources(alerts).find((r) => r.type.startsWith('Microsoft.Insights/scheduledQueryRules@'))!;
    return rules.map((rule) => evaluate(resource.body, (name) => (name === 'rule' ? rule : scope(name))) as unknown as AlertRule);
  }

  const SCENARIOS = [
    { name: 'default deployment (ALERT_EMAIL unset)', email: azdValueDefault('alertEmail'), on: false },
    { name: `ALERT_EMAIL=${EMAIL}`, email: EMAIL, on: true },
  ];
  function azdValueDefault(param: string): string {
    return azdValue(param)[1];
  }

  describe.each(SCENARIOS)('$name', ({ email, on }) => {
    it(`the alerts module, the alert identity and its Reader role are ${on ? 'created' : 'not created'}`, () => {
      const scope = mainScope(email);
      expect(evaluate(conditionNode(main, 'alerts')!, scope)).toBe(on);
      const identityName = evaluate(at(moduleBody('identities'), 'params', 'alertsIdentityName')!, scope);
      expect(identityName).toBe(on ? `id-alerts-${TOKEN}` : '');
      const identityScope = templateScope(identities, { alertsIdentityName: identityName, alertsIdentity: { id: IDENTITY_ID, properties: { principalId: 'p' } } });
      expect(evaluate(conditionNode(identities, 'alertsIdentity')!, identityScope)).toBe(on);
      expect(evaluate(outputNode(identities, 'alertsIdentityId'), identityScope)).toBe(on ? IDENTITY_ID : '');
      const grant = evaluate(at(moduleBody('roles'), 'params', 'grantAlertsQueryAccess')!, scope);
      expect(grant).toBe(on);
      expect(evaluate(conditionNode(roles, 'alertsAppInsightsReader')!, templateScope(roles, { grantAlertsQueryAccess: grant }))).toBe(on);
    });
  });

  it('nothing of alerting exists outside the conditional module, identity and role: the default deployment is unchanged', async () => {
    expect(variable(main, 'alertsOn')!.text).toBe('!empty(alertEmail)');
    expect(modules(main).filter((m) => m.path === 'modules/alerts.bicep').map((m) => m.condition)).toEqual(['alertsOn']);
    expect(azdValue('alertEmail')).toEqual(['ALERT_EMAIL', '']);
    const alertTypes = /^Microsoft\.Insights\/(actionGroups|scheduledQueryRules|metricAlerts|activityLogAlerts)@/;
    for (const file of bicepFiles()) {
      if (repoPath(file) === join('infra', 'modules', 'alerts.bicep')) continue;
      expect(resources(await parseBicepFile(file)).filter((r) => alertTypes.test(r.type)).map((r) => r.symbol), repoPath(file)).toEqual([]);
    }
    // The rules run after the role that lets them read.
    expect(properties(moduleBody('alerts')).get('dependsOn')!.text).toMatch(/\broles\b/);
  });

  it('one action group, emailing the azd value ALERT_EMAIL with the common alert schema', () => {
    const params = alertsParams();
    expect(params.alertEmail).toBe(EMAIL);
    const groups = resources(alerts).filter((r) => r.type.startsWith('Microsoft.Insights/actionGroups@'));
    expect(groups).toHaveLength(1);
    const group = evaluate(groups[0]!.body, templateScope(alerts, params)) as { location: string; properties: { groupShortName: string; enabled: boolean; emailReceivers: unknown[] } };
    expect(group.location).toBe('global');
    expect(group.properties.enabled).toBe(true);
    expect(group.properties.groupShortName.length).toBeLessThanOrEqual(12);
    expect(group.properties.emailReceivers).toEqual([{ name: 'alert-email', emailAddress: EMAIL, useCommonAlertSchema: true }]);
    for (const rule of alertRules()) expect(rule.properties.actions.actionGroups, rule.name).toEqual([ACTION_GROUP_ID]);
  });

  it('thresholds are azd values with defaults (ALERT_RESPONSES_FAILED_THRESHOLD=5, ALERT_CALLS_FAILED_THRESHOLD=3, ALERT_FRAMES_DROPPED_THRESHOLD=50) that reach the rules', () => {
    for (const [param, t] of Object.entries(THRESHOLDS)) {
      expect(azdValue(param), param).toEqual([t.azd, String(t.default)]);
      expect(at(moduleBody('alerts'), 'params', t.moduleParam)!.text).toBe(param);
    }
    const changed = templateScope(alerts, { ...alertsParams(), responsesFailedThreshold: 11, callsFailedThreshold: 12, framesDroppedThreshold: 13 });
    const thresholds = (evaluate(variable(alerts, 'rules')!, changed) as { name: string; condition: { threshold: number } }[]).map((r) => [r.name, r.condition.threshold]);
    expect(thresholds).toEqual([
      ['voice-live-responses-failing', 11],
      ['calls-failing', 12],
      ['media-auth-refused', 0],
      ['frames-dropped', 13],
      ['no-worker', 1],
      ['calls-refused-at-capacity', 0],
      ['unknown-agent-profile', 0],
      ['voice-live-auth-failing', 0],
    ]);
  });

  it('eight rules, each evaluated every 5 minutes over 5 to 15 minutes, with its severity, a clear name and a description pointing at docs/operations.md Troubleshooting', () => {
    const rules = alertRules();
    expect(rules.map((r) => [r.name, r.properties.severity, r.properties.windowSize])).toEqual([
      [`alert-voice-live-responses-failing-${TOKEN}`, 2, 'PT15M'],
      [`alert-calls-failing-${TOKEN}`, 2, 'PT15M'],
      [`alert-media-auth-refused-${TOKEN}`, 1, 'PT5M'],
      [`alert-frames-dropped-${TOKEN}`, 3, 'PT15M'],
      [`alert-no-worker-${TOKEN}`, 1, 'PT15M'],
      [`alert-calls-refused-at-capacity-${TOKEN}`, 2, 'PT15M'],
      [`alert-unknown-agent-profile-${TOKEN}`, 1, 'PT5M'],
      [`alert-voice-live-auth-failing-${TOKEN}`, 1, 'PT5M'],
    ]);
    for (const rule of rules) {
      expect(rule.kind).toBe('LogAlert');
      expect(rule.properties.enabled).toBe(true);
      expect(rule.properties.evaluationFrequency).toBe('PT5M');
      expect(rule.properties.displayName).toMatch(/^Voice agent: /);
      expect(rule.properties.description).toContain('docs/operations.md Troubleshooting');
      expect(rule.properties.description.length).toBeLessThanOrEqual(1024);
      const condition = rule.properties.criteria.allOf;
      expect(condition).toHaveLength(1);
      expect(condition[0]!.failingPeriods).toEqual({ numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 });
    }
    // The descriptions state the thresholds the rules use.
    expect(rules[0]!.properties.description).toMatch(/^More than 5 Voice Live responses/);
    expect(rules[1]!.properties.description).toMatch(/^More than 3 calls/);
    expect(rules[3]!.properties.description).toMatch(/^More than 50 messages or frames/);
  });

  it('each rule queries Application Insights as the alerts identity, is stateful (resolves itself), and skips ARM\'s deploy-time query check (its Reader role is not in effect yet on the first deploy)', () => {
    const resource = resources(alerts).find((r) => r.type.startsWith('Microsoft.Insights/scheduledQueryRules@'))!;
    // Managed identities on log search alerts came with 2023-03-15-preview; 2023-12-01 is the newest stable version.
    expect(resource.type.split('@')[1]).toBe('2023-12-01');
    expect(alertsParams().identityId).toBe(IDENTITY_ID);
    for (const rule of alertRules()) {
      expect(rule.identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [IDENTITY_ID]: {} } });
      expect(rule.properties.scopes).toEqual([APPI_ID]);
      expect(rule.properties.autoMitigate).toBe(true);
      expect(rule.properties.skipQueryValidation).toBe(true);
    }
    // That identity holds Reader on that Application Insights resource, nothing else.
    const reader = resources(roles).find((r) => r.symbol === 'alertsAppInsightsReader')!;
    expect(properties(reader.body).get('scope')!.text).toBe('appInsights');
    expect(at(reader.body, 'properties', 'principalId')!.text).toBe('alertsPrincipalId');
    expect(literal(at(variable(roles, 'builtInRoles'), 'reader'))).toBe('acdd72a7-3385-48ef-bd42-f606fba81ae7');
    expect(at(moduleBody('roles'), 'params', 'alertsPrincipalId')!.text).toBe('identities.outputs.alertsPrincipalId');
    expect(at(moduleBody('alerts'), 'params', 'appInsightsName')!.text).toBe('monitoring.outputs.appInsightsName');
  });

  it('each query parses and binds against Application Insights customMetrics (Kusto.Language), keeping timestamp and its measure column', () => {
    for (const rule of alertRules()) {
      const condition = rule.properties.criteria.allOf[0]!;
      const analysis = analyzeKql(condition.query, { customMetrics: CUSTOM_METRICS_SCHEMA });
      expect(analysis.errors, rule.name).toEqual([]);
      expect(analysis.columns.timestamp, rule.name).toBe('datetime');
      if (condition.timeAggregation === 'Count') {
        expect(condition.metricMeasureColumn).toBeUndefined();
      } else {
        expect(condition.timeAggregation).toBe('Total');
        expect(analysis.columns[condition.metricMeasureColumn!], rule.name).toBe('real');
      }
      expect(selection(condition.query).metric).toMatch(/^worker_/);
      expect(condition.query).toContain('cloud_RoleName == "worker"');
    }
    // The checker is not blind: a wrong column and broken syntax are reported.
    expect(analyzeKql('customMetrics | where cloud_Role == "worker"', { customMetrics: CUSTOM_METRICS_SCHEMA }).errors).toHaveLength(1);
    expect(analyzeKql('customMetrics | where name ==', { customMetrics: CUSTOM_METRICS_SCHEMA }).errors.length).toBeGreaterThan(0);
  });

  it('each query selects a metric the worker exports to Application Insights under that name, by a label that metric has', () => {
    const workerMetrics = new WorkerMetrics();
    const exported = exportPromMetrics(workerMetrics.registry, otelMetrics.getMeter('alerts-test'));
    exported.stop();
    const labelNames = new Map(workerMetrics.registry.getMetricsAsArray().map((m) => [m.name, (m as unknown as { labelNames: string[] }).labelNames]));
    const selections = alertRules().map((r) => selection(r.properties.criteria.allOf[0]!.query));
    expect(selections.map((s) => [s.metric, s.label?.name])).toEqual([
      ['worker_responses_total', 'status'],
      ['worker_calls_total', 'outcome'],
      ['worker_upgrades_rejected_total', 'reason'],
      ['worker_frames_dropped_total', 'reason'],
      ['worker_active_calls', undefined],
      ['worker_upgrades_rejected_total', 'reason'],
      ['worker_upgrades_rejected_total', 'reason'],
      ['worker_voice_live_auth_failures_total', undefined],
    ]);
    for (const s of selections) {
      expect(exported.instrumentNames, s.metric).toContain(s.metric);
      if (s.label) expect(labelNames.get(s.metric), s.metric).toContain(s.label.name);
    }
  });

  it('the label values the rules pick are the worker\'s own (response statuses, auth error codes, drop reasons, the capacity and unknown-profile refusals)', () => {
    const [responses, calls, auth, frames, , capacity, unknownProfile] = alertRules().map((r) => selection(r.properties.criteria.allOf[0]!.query).label!);
    expect(responses).toEqual({ name: 'status', op: 'in', values: [...FAILED_RESPONSE_STATUSES] });
    expect(FAILED_RESPONSE_STATUSES.every((s) => (RESPONSE_STATUSES as readonly string[]).includes(s))).toBe(true);
    expect(calls).toEqual({ name: 'outcome', op: '==', values: ['failed'] });
    // missing_token is left out: anything on the internet that opens /ws without a token would page someone.
    expect(auth).toEqual({ name: 'reason', op: 'in', values: [...MEDIA_AUTH_REFUSALS] });
    expect(frames).toEqual({ name: 'reason', op: '!in', values: [...DROPS_THAT_ARE_NOT_BAD_INPUT] });
    expect(capacity).toEqual({ name: 'reason', op: '==', values: [AT_CAPACITY] });
    expect(unknownProfile).toEqual({ name: 'reason', op: '==', values: [UNKNOWN_PROFILE] });
  });

  it('docs/operations.md (Alerts) documents ALERT_EMAIL, each threshold value with its default, and that nothing is created without it', () => {
    const operations = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
    const section = operations.slice(operations.indexOf('## Alerts'), operations.indexOf('## Troubleshooting'));
    expect(section).toContain(`azd env set ALERT_EMAIL ${EMAIL}`);
    for (const t of Object.values(THRESHOLDS)) expect(section).toContain(`\`${t.azd}\` (default ${t.default})`);
    expect(section).toMatch(/Without `ALERT_EMAIL` \(the default\), none of this is created/);
    for (const rule of alertRules()) expect(section.toLowerCase()).toContain(rule.properties.displayName.replace('Voice agent: ', '').toLowerCase());
  });

  it('each docs/operations.md Troubleshooting row a rule description names is a row of that table', () => {
    const operations = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
    const troubleshooting = operations.slice(operations.indexOf('## Troubleshooting'));
    const symptoms = [...troubleshooting.matchAll(/^\| ([^|]+) \|/gm)].map((m) => m[1]!.replaceAll('`', ''));
    const named = alertRules().flatMap((rule) =>
      [...rule.properties.description.matchAll(/\brows? ("[^"]+"(?:,? (?:and )?"[^"]+")*)/g)].flatMap((m) => [...m[1]!.matchAll(/"([^"]+)"/g)].map((q) => [rule.name, q[1]!])),
    );
    expect(named.map(([name]) => name)).toContain(`alert-calls-refused-at-capacity-${TOKEN}`);
    expect(named.map(([name]) => name)).toContain(`alert-unknown-agent-profile-${TOKEN}`);
    for (const [name, row] of named) expect(symptoms, name).toContain(row);
  });

  describe('dead letters on Service Bus: a metric alert on the namespace', () => {
    const queueSettings = JSON.parse(readFileSync(infra('modules', 'servicebus-queues.json'), 'utf8')) as Record<string, Record<string, unknown>>;

    function deadLetterResource() {
      const found = resources(alerts).filter((r) => r.type.startsWith('Microsoft.Insights/metricAlerts@'));
      expect(found).toHaveLength(1);
      return found[0]!;
    }
    /** The dead-letter rule as ARM receives it, from the module's expressions with main.bicep's parameters. */
    function deadLetterAlert(): MetricAlert {
      const scope = templateScope(alerts, { ...alertsParams(), serviceBusNamespace: { id: SB_ID }, actionGroup: { id: ACTION_GROUP_ID } });
      return evaluate(deadLetterResource().body, scope) as unknown as MetricAlert;
    }

    it.each(SCENARIOS)('$name: the rule is $on (it lives only in the conditional alerts module, with no condition of its own)', ({ email, on }) => {
      expect(evaluate(conditionNode(main, 'alerts')!, mainScope(email))).toBe(on);
      expect(conditionNode(alerts, 'deadLetterAlert')).toBeUndefined();
    });

    it('watches the namespace main.bicep deploys the queues in: scopes = that namespace\'s id', async () => {
      expect(at(moduleBody('alerts'), 'params', 'serviceBusNamespaceName')!.text).toBe('serviceBus.outputs.namespaceName');
      const bus = await parseBicepFile(infra('modules', 'servicebus.bicep'));
      expect(outputNode(bus, 'namespaceName').text).toBe('namespace.name');
      // The namespace the servicebus module creates is the one the alerts module reads back.
      const created = evaluate(at(moduleBody('serviceBus'), 'params', 'namespaceName')!, mainScope(EMAIL));
      expect(created).toBe(`sb-${TOKEN}`);
      const existing = resources(alerts).find((r) => r.symbol === 'serviceBusNamespace')!;
      expect(existing.type).toMatch(/^Microsoft\.ServiceBus\/namespaces@/);
      expect(evaluate(at(existing.body, 'name')!, templateScope(alerts, { ...alertsParams(), serviceBusNamespaceName: created }))).toBe(created);
      expect(alertsParams().serviceBusNamespaceName).toBe(SB_NAME);
      expect(deadLetterAlert().properties.scopes).toEqual([SB_ID]);
      // Every queue is a child of that namespace.
      for (const queue of resources(bus).filter((r) => r.type.startsWith('Microsoft.ServiceBus/namespaces/queues@'))) expect(at(queue.body, 'parent')!.text).toBe('namespace');
    });

    it('fires for any queue holding at least one dead letter: DeadletteredMessages, Maximum > 0, split by EntityName with *, severity 2, emailing the action group, resolving itself', () => {
      const rule = deadLetterAlert();
      expect(rule.name).toBe(`alert-dead-letters-${TOKEN}`);
      expect(rule.location).toBe('global');
      expect(rule.properties).toMatchObject({ severity: 2, enabled: true, autoMitigate: true, evaluationFrequency: 'PT5M', windowSize: 'PT5M' });
      expect(rule.properties.actions).toEqual([{ actionGroupId: ACTION_GROUP_ID }]);
      expect(rule.properties.criteria['odata.type']).toBe('Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria');
      expect(rule.properties.criteria.allOf).toHaveLength(1);
      const [criterion] = rule.properties.criteria.allOf;
      expect(criterion).toMatchObject({
        criterionType: 'StaticThresholdCriterion',
        metricNamespace: DEAD_LETTERED_MESSAGES.namespace,
        metricName: DEAD_LETTERED_MESSAGES.name,
        timeAggregation: 'Maximum',
        operator: 'GreaterThan',
        threshold: 0,
      });
      expect(criterion!.dimensions).toEqual([{ name: DEAD_LETTERED_MESSAGES.dimension, operator: 'Include', values: ['*'] }]);
      // A gauge: Total or Count over the window would add up the same standing dead letters minute after minute.
      expect(DEAD_LETTERED_MESSAGES.aggregations).toContain(criterion!.timeAggregation);
      // At least one dead letter: the smallest count above the threshold is 1.
      const fires = (count: number): boolean => count > criterion!.threshold;
      expect([0, 1, 7].map(fires)).toEqual([false, true, true]);
    });

    it('every property is one the 2018-03-01 API takes, with an allowed value (bicep-types-az)', () => {
      const schema = METRIC_ALERT_2018_03_01;
      expect(deadLetterResource().type).toBe('Microsoft.Insights/metricAlerts@2018-03-01');
      const { properties: p } = deadLetterAlert();
      for (const key of Object.keys(p)) expect(schema.properties, key).toContain(key);
      for (const key of schema.requiredProperties) expect(p, key).toHaveProperty(key);
      expect(schema.severities).toContain(p.severity);
      expect(schema.windowSizes).toContain(p.windowSize);
      expect(schema.evaluationFrequencies).toContain(p.evaluationFrequency);
      expect(isoMinutes(p.windowSize)).toBeGreaterThanOrEqual(isoMinutes(p.evaluationFrequency));
      expect(schema.criteriaTypes).toContain(p.criteria['odata.type']);
      for (const criterion of p.criteria.allOf) {
        for (const key of Object.keys(criterion)) expect(schema.criterion, key).toContain(key);
        for (const key of schema.requiredCriterion) expect(criterion, key).toHaveProperty(key);
        expect(schema.criterionTypes).toContain(criterion.criterionType);
        expect(schema.operators).toContain(criterion.operator);
        expect(schema.timeAggregations).toContain(criterion.timeAggregation);
        expect(Number.isInteger(criterion.threshold)).toBe(true);
        for (const d of criterion.dimensions) {
          expect(Object.keys(d).sort()).toEqual(['name', 'operator', 'values']);
          expect(schema.dimensionOperators).toContain(d.operator);
        }
      }
      for (const action of p.actions) for (const key of Object.keys(action)) expect(schema.action, key).toContain(key);
      expect(p.description.length).toBeLessThanOrEqual(1024);
    });

    it('covers every queue of servicebus-queues.json and of servicebus.bicep, and one added later (no filter leaves one out)', async () => {
      const bus = await parseBicepFile(infra('modules', 'servicebus.bicep'));
      const declared = resources(bus)
        .filter((r) => r.type.startsWith('Microsoft.ServiceBus/namespaces/queues@'))
        .map((q) => literal(properties(q.body).get('name'))!);
      expect(declared.sort()).toEqual(Object.keys(queueSettings).sort());
      const [criterion] = deadLetterAlert().properties.criteria.allOf;
      const entityFilters = criterion!.dimensions.filter((d) => d.name === DEAD_LETTERED_MESSAGES.dimension);
      expect(entityFilters).toHaveLength(1);
      // No other dimension narrows it either.
      expect(criterion!.dimensions).toHaveLength(1);
      for (const queue of [...declared, 'a-queue-added-later']) expect(dimensionSelects(entityFilters[0]!, queue), queue).toBe(true);
      // The check can fail: a filter naming some queues leaves the others out.
      expect(dimensionSelects({ name: 'EntityName', operator: 'Include', values: ['outbound-calls'] }, 'call-events')).toBe(false);
      expect(dimensionSelects({ name: 'EntityName', operator: 'Exclude', values: ['call-events'] }, 'call-events')).toBe(false);
    });

    it('docs/operations.md: an Alerts row, and a Troubleshooting row per queue that the rule\'s description names', () => {
      const operations = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
      const alertsSection = operations.slice(operations.indexOf('## Alerts'), operations.indexOf('## Troubleshooting'));
      expect(alertsSection).toMatch(/^\| dead letters on Service Bus \|/m);
      const troubleshooting = operations.slice(operations.indexOf('## Troubleshooting'));
      const symptoms = [...troubleshooting.matchAll(/^\| ([^|]+) \|/gm)].map((m) => m[1]!.replaceAll('`', '').trim());
      const description = deadLetterAlert().properties.description;
      expect(description).toContain('docs/operations.md Troubleshooting');
      const named = [...description.matchAll(/"(dead letters on [^"]+)"/g)].map((m) => m[1]!);
      expect(named.sort()).toEqual(Object.keys(queueSettings).map((q) => `dead letters on ${q}`).sort());
      for (const row of named) expect(symptoms, row).toContain(row);
      // Each queue's row says how it dead-letters: after maxDeliveryCount deliveries, and on expiry where the queue does.
      for (const [queue, settings] of Object.entries(queueSettings)) {
        const row = troubleshooting.split('\n').find((line) => line.replaceAll('`', '').startsWith(`| dead letters on ${queue} |`))!;
        expect(row, queue).toContain(`${settings.maxDeliveryCount as number} deliveries`);
        expect(row.includes('TTLExpiredException'), queue).toBe(settings.deadLetteringOnMessageExpiration);
        expect(row, queue).toContain('MaxDeliveryCountExceeded');
      }
    });
  });

  it('worker_active_calls, the heartbeat of the no-worker rule, has a value to export at 0 calls', async () => {
    const value = await new WorkerMetrics().activeCalls.get();
    expect(value.values).toEqual([{ value: 0, labels: {} }]);
  });
});

describe('a real worker emits the rows each counter rule selects', () => {
  const audience = '6d5a3b2c-1111-4222-8333-444455556666';
  let issuer: AcsTokenIssuer | undefined;
  let peer: VoiceLivePeer | undefined;
  const workers: RunningWorker[] = [];
  const clients: AcsMediaClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.terminate();
    for (const w of workers.splice(0)) await w.close();
    await peer?.close();
    await issuer?.close();
    peer = issuer = undefined;
  });

  async function refusal(worker: RunningWorker, token: string): Promise<void> {
    await expect(AcsMediaClient.connect({ url: `${worker.url}/ws/refused`, token })).rejects.toBeInstanceOf(AcsUpgradeError);
  }

  it('refused tokens, unreachable signing keys, a call refused at capacity, a call to an unknown agent profile, bad input, a failed response, a failed call and a Voice Live authentication failure all match a rule', async () => {
    issuer = await startAcsTokenIssuer({ audience });
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    const worker = await startWorker(workerConfig(peer.url, { mediaAuth: { mode: 'acs', audience, issuer: issuer.issuer, jwksUrl: issuer.jwksUrl } }));
    workers.push(worker);
    await refusal(worker, 'not.a.jwt');
    await refusal(worker, await issuer.issue({ expiresInSeconds: -600 }));

    // A worker whose key endpoint does not answer (a closed port).
    const gone = await startAcsTokenIssuer({ audience });
    const goneKeys = gone.jwksUrl;
    const token = await gone.issue();
    await gone.close();
    const keyless = await startWorker(workerConfig(peer.url, { mediaAuth: { mode: 'acs', audience, issuer: gone.issuer, jwksUrl: goneKeys } }));
    workers.push(keyless);
    await refusal(keyless, token);

    // A call: a message that is not JSON, a failed response, then Voice Live gone for good.
    const client = await AcsMediaClient.connect({ url: `${worker.url}/ws/call-1`, token: await issuer.issue() });
    clients.push(client);
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await session.waitFor('session.update');
    client.socket.send('this is not json');
    session.send({ type: 'response.created', response: { id: 'resp_1', object: 'realtime.response', status: 'in_progress', output: [] } });
    session.send({
      type: 'response.done',
      response: { id: 'resp_1', object: 'realtime.response', status: 'failed', status_details: { type: 'failed', error: { type: 'server_error', code: 'internal_error' } }, output: [] },
    });
    for (let waited = 0; !(await worker.server.metrics.registry.metrics()).includes('worker_responses_total{status="failed"'); waited += 10) {
      if (waited > 3000) throw new Error('the failed response was not counted');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    peer.refuseNextUpgrades(503, 10);
    session.drop(1011, 'gone');
    expect((await client.closed).code).toBe(1011);
    await until(() => worker.server.calls.size === 0, 3000, 'call ended');

    // A worker holding MAX_CALLS=1 calls: the next call is refused.
    const capped = await startWorker(workerConfig(peer.url, { maxCalls: 1 }));
    workers.push(capped);
    clients.push(await AcsMediaClient.connect({ url: `${capped.url}/ws/held` }));
    await until(() => capped.server.calls.size === 1, 3000, 'the held call');
    await expect(AcsMediaClient.connect({ url: `${capped.url}/ws/one-too-many` })).rejects.toMatchObject({ status: 503 });

    // A worker with only the profile "sales": a call routed to "marketing" is refused.
    const defaults = workerConfig(peer.url);
    const profiled = await startWorker(workerConfig(peer.url, { agentProfiles: resolveAgentProfiles({ sales: { instructions: 'Sales line.' } }, defaults.voiceLive) }));
    workers.push(profiled);
    await expect(AcsMediaClient.connect({ url: `${profiled.url}/ws/call-2/marketing` })).rejects.toMatchObject({ status: 404 });

    // A worker whose identity gets no token: its call ends at once.
    const unauthenticated = await startWorker(workerConfig(peer.url, {}, { apiKey: undefined }), {
      credential: {
        getToken: async () => {
          throw new CredentialUnavailableError('ManagedIdentityCredential: no identity assigned');
        },
      },
    });
    workers.push(unauthenticated);
    const denied = await AcsMediaClient.connect({ url: `${unauthenticated.url}/ws/call-3` });
    clients.push(denied);
    denied.sendMetadata(16000);
    expect((await denied.closed).code).toBe(1011);

    const emitted = new Map<string, { labels: Record<string, string | number>; value: number }[]>();
    for (const w of workers) {
      for (const metric of await w.server.metrics.registry.getMetricsAsJSON()) {
        emitted.set(metric.name, [...(emitted.get(metric.name) ?? []), ...(metric.values as { labels: Record<string, string | number>; value: number }[])]);
      }
    }
    const alertsRoot = await parseBicepFile(infra('modules', 'alerts.bicep'));
    const rulesScope = templateScope(alertsRoot, { responsesFailedThreshold: 5, callsFailedThreshold: 3, framesDroppedThreshold: 50 });
    const rules = evaluate(variable(alertsRoot, 'rules')!, rulesScope) as { name: string; condition: { query: string } }[];
    const selected = (query: string, value?: string): number => {
      const s = selection(query);
      return (emitted.get(s.metric) ?? [])
        .filter((row) => !s.label || selects(s.label, String(row.labels[s.label.name])))
        .filter((row) => value === undefined || row.labels[s.label!.name] === value)
        .reduce((sum, row) => sum + row.value, 0);
    };
    const query = (name: string): string => rules.find((r) => r.name === name)!.condition.query;
    expect(selected(query('voice-live-responses-failing'), 'failed')).toBe(1);
    // Voice Live gone for good, and the call without a token.
    expect(selected(query('calls-failing'))).toBe(2);
    expect(selected(query('voice-live-auth-failing'))).toBe(1);
    for (const reason of MEDIA_AUTH_REFUSALS) expect(selected(query('media-auth-refused'), reason), reason).toBe(1);
    expect(selected(query('frames-dropped'), 'not_json')).toBe(1);
    // Only the refusal at capacity, none of the token refusals above.
    expect(selected(query('calls-refused-at-capacity'))).toBe(1);
    expect(selected(query('calls-refused-at-capacity'), AT_CAPACITY)).toBe(1);
    expect(selected(query('media-auth-refused'))).toBe(MEDIA_AUTH_REFUSALS.length);
    // Only the refusal for the unknown profile, none of the refusals above; and no refusal row is picked by two rules.
    expect(selected(query('unknown-agent-profile'))).toBe(1);
    expect(selected(query('unknown-agent-profile'), UNKNOWN_PROFILE)).toBe(1);
    const refusalRules = rules.map((r) => selection(r.condition.query)).filter((s) => s.metric === 'worker_upgrades_rejected_total');
    expect(refusalRules).toHaveLength(3);
    const refusalRows = emitted.get('worker_upgrades_rejected_total') ?? [];
    expect(refusalRows.map((row) => String(row.labels.reason)).sort()).toEqual([...MEDIA_AUTH_REFUSALS, AT_CAPACITY, UNKNOWN_PROFILE].sort());
    for (const row of refusalRows) {
      const reason = String(row.labels.reason);
      expect(refusalRules.filter((s) => selects(s.label!, reason)), reason).toHaveLength(1);
    }
  });
});
