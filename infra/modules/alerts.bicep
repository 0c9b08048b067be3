// Opt-in alerting (azd value ALERT_EMAIL; main.bicep deploys this module only when it is set): one action group that
// emails the address, log search alert rules over the worker's metrics in Application Insights (table
// customMetrics: prom name in `name`, labels in customDimensions, a counter's row = its increase over the export
// interval, so failures are summed with valueSum), and a metric alert on Service Bus dead letters. Every rule is
// evaluated every 5 minutes and names the docs/operations.md row to read when it fires.
param location string
param tags object
param appInsightsName string
param actionGroupName string
@description('Where alerts are emailed.')
param alertEmail string
@description('Resource id of the user-assigned identity the rules query with (Reader on Application Insights, role-assignments.bicep).')
param identityId string
@description('Appended to each rule name, so rule names stay unique per environment like every other resource name.')
param nameSuffix string
@description('The Service Bus namespace whose queues the dead-letter alert watches.')
param serviceBusNamespaceName string
@minValue(0)
param responsesFailedThreshold int
@minValue(0)
param callsFailedThreshold int
@minValue(0)
param framesDroppedThreshold int

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource serviceBusNamespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'voiceagent'
    enabled: true
    emailReceivers: [
      {
        name: 'alert-email'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// One entry per rule. `condition` is the rule's criterion as the API takes it: `Total` of a measure column for the
// counters (the rule sums it over the window), `Count` of rows for the heartbeat. Queries keep `timestamp`, which the
// rule bins on.
var rules = [
  {
    name: 'voice-live-responses-failing'
    displayName: 'Voice agent: Voice Live responses failing'
    description: 'More than ${responsesFailedThreshold} Voice Live responses ended failed or incomplete in 15 minutes (worker_responses_total, status failed/incomplete): callers get no or cut-off answers. Split by the reason label (docs/worker.md, Metrics): rate_limit_exceeded or insufficient_quota = the model deployment\'s quota; server_error = the service; max_output_tokens or content_filter = instructions or model. Then docs/operations.md Troubleshooting.'
    severity: 2
    windowSize: 'PT15M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_responses_total"
| where tostring(customDimensions.status) in ("failed", "incomplete")
| project timestamp, failedResponses = valueSum
'''
      timeAggregation: 'Total'
      metricMeasureColumn: 'failedResponses'
      operator: 'GreaterThan'
      threshold: responsesFailedThreshold
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
  {
    name: 'calls-failing'
    displayName: 'Voice agent: calls failing'
    description: 'More than ${callsFailedThreshold} calls ended with outcome failed in 15 minutes (worker_calls_total): the worker closed the call on an error, e.g. Voice Live unreachable after its retries, or Voice Live authentication failing (its own rule). Search the worker log for the calls\' callId: docs/operations.md Troubleshooting, rows "call started but the caller hears nothing" and "the agent stops answering mid-call".'
    severity: 2
    windowSize: 'PT15M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_calls_total"
| where tostring(customDimensions.outcome) == "failed"
| project timestamp, failedCalls = valueSum
'''
      timeAggregation: 'Total'
      metricMeasureColumn: 'failedCalls'
      operator: 'GreaterThan'
      threshold: callsFailedThreshold
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
  {
    name: 'media-auth-refused'
    displayName: 'Voice agent: media socket authentication refused'
    description: 'The worker refused media WebSocket upgrades for their token in the last 5 minutes (worker_upgrades_rejected_total, reason invalid_token, expired_token or keys_unavailable). If these are ACS\'s, every call is answered and then silent: a wrong ACS_RESOURCE_ID (the immutable GUID, not the ARM path) or ACS\'s signing keys not reachable from the worker. docs/operations.md Troubleshooting, row "answered, then silence, then the call drops"; worker log line "media upgrade refused".'
    severity: 1
    windowSize: 'PT5M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_upgrades_rejected_total"
| where tostring(customDimensions.reason) in ("invalid_token", "expired_token", "keys_unavailable")
| project timestamp, refusedUpgrades = valueSum
'''
      timeAggregation: 'Total'
      metricMeasureColumn: 'refusedUpgrades'
      operator: 'GreaterThan'
      threshold: 0
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
  {
    name: 'frames-dropped'
    displayName: 'Voice agent: audio frames dropped for bad input'
    description: 'More than ${framesDroppedThreshold} messages or frames were dropped in 15 minutes for bad input (worker_frames_dropped_total; discarded_response, normal after a barge-in, and voice_live_not_ready, counted during a Voice Live reconnect, are left out). Callers may hear choppy audio. The reason label names the fault (docs/worker.md, Metrics, with KQL per reason); docs/operations.md Troubleshooting, row "choppy or robotic audio".'
    severity: 3
    windowSize: 'PT15M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_frames_dropped_total"
| where tostring(customDimensions.reason) !in ("discarded_response", "voice_live_not_ready")
| project timestamp, droppedFrames = valueSum
'''
      timeAggregation: 'Total'
      metricMeasureColumn: 'droppedFrames'
      operator: 'GreaterThan'
      threshold: framesDroppedThreshold
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
  {
    name: 'no-worker'
    displayName: 'Voice agent: no worker reporting'
    description: 'No worker replica exported worker_active_calls for 15 minutes (every replica exports it each minute, also at 0 calls): the worker is down, crash-looping, or cannot send telemetry, and calls cannot be answered. Check the container app\'s replicas and revisions and the first lines of the worker log (docs/operations.md Troubleshooting, row "the worker or Functions app will not start"), and that its identity still holds Monitoring Metrics Publisher on Application Insights.'
    severity: 1
    windowSize: 'PT15M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_active_calls"
| project timestamp
'''
      timeAggregation: 'Count'
      operator: 'LessThan'
      threshold: 1
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
  // Any refusal: the cap is twice what a replica is scaled for, so a right-sized deployment never reaches it, and
  // each refusal is a caller whose media failed at least once. 15 minutes, so one burst is one email, not several.
  {
    name: 'calls-refused-at-capacity'
    displayName: 'Voice agent: calls refused at capacity'
    description: 'The worker refused new calls in the last 15 minutes because the replica they reached held MAX_CALLS calls (worker_upgrades_rejected_total, reason at_capacity; worker log line "at capacity (MAX_CALLS)", /readyz answers "at capacity"). ACS reports the failed media and the Functions app restarts it on another replica; when every replica is full, the call is hung up after MEDIA_RESTART_MAX_ATTEMPTS. At WORKER_MAX_REPLICAS replicas: raise it. Fewer replicas (a burst faster than scale-out): raise WORKER_MIN_REPLICAS. Raise WORKER_CALLS_PER_REPLICA (MAX_CALLS is twice it unless set) or MAX_CALLS only if the replicas have CPU to spare (nodejs_eventloop_lag_p99_seconds, worker_relay_latency_seconds). docs/operations.md Troubleshooting, row "calls refused: replicas at capacity".'
    severity: 2
    windowSize: 'PT15M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_upgrades_rejected_total"
| where tostring(customDimensions.reason) == "at_capacity"
| project timestamp, refusedCalls = valueSum
'''
      timeAggregation: 'Total'
      metricMeasureColumn: 'refusedCalls'
      operator: 'GreaterThan'
      threshold: 0
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
  // Any refusal: it is a settings mismatch, not load, so no retry or scale-out helps, and every call to that number
  // fails until someone fixes it.
  {
    name: 'unknown-agent-profile'
    displayName: 'Voice agent: calls to an unknown agent profile'
    description: 'The worker refused media WebSocket upgrades in the last 5 minutes because their path named an agent profile it does not have (worker_upgrades_rejected_total, reason unknown_profile): the Functions app\'s AGENT_PROFILE_BY_NUMBER maps a number to a profile the worker\'s AGENT_PROFILES lacks. Every call to that number is answered, then silent (each media restart is refused again) until it is hung up after MEDIA_RESTART_MAX_ATTEMPTS. The worker log line "media upgrade refused: unknown agent profile" names the profile. Fix: make AGENT_PROFILE_BY_NUMBER on the Functions app and AGENT_PROFILES on the worker name the same profiles (azd env set both, then azd provision). docs/operations.md Troubleshooting, row "answered, then silence: unknown agent profile".'
    severity: 1
    windowSize: 'PT5M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_upgrades_rejected_total"
| where tostring(customDimensions.reason) == "unknown_profile"
| project timestamp, refusedCalls = valueSum
'''
      timeAggregation: 'Total'
      metricMeasureColumn: 'refusedCalls'
      operator: 'GreaterThan'
      threshold: 0
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
  // Any failure: a credential does not heal by itself, and every call fails at once until someone fixes it.
  {
    name: 'voice-live-auth-failing'
    displayName: 'Voice agent: Voice Live authentication failing'
    description: 'Calls ended at once in the last 5 minutes because the worker could not authenticate to Voice Live (worker_voice_live_auth_failures_total): no Microsoft Entra token for its identity (AZURE_CLIENT_ID not assigned to the container app, CredentialUnavailableError), or Voice Live refused it with 401/403 (the identity lacks Cognitive Services User, or Azure AI User for an agent). Every call is answered and then ends. The worker log line "Voice Live authentication failed" gives the whole reason, as does each call record\'s outcome. docs/operations.md Troubleshooting, row "the call ends at once: Voice Live authentication failed".'
    severity: 1
    windowSize: 'PT5M'
    condition: {
      query: '''
customMetrics
| where cloud_RoleName == "worker" and name == "worker_voice_live_auth_failures_total"
| project timestamp, authFailures = valueSum
'''
      timeAggregation: 'Total'
      metricMeasureColumn: 'authFailures'
      operator: 'GreaterThan'
      threshold: 0
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
    }
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: 'alert-${rule.name}-${nameSuffix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  // The query runs as this identity, not as whoever last deployed: the rules keep working when people change.
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [appInsights.id]
    evaluationFrequency: 'PT5M'
    windowSize: rule.windowSize
    criteria: {
      allOf: [rule.condition]
    }
    // Stateful: one email when a rule fires and one when it resolves, not one every 5 minutes while it lasts.
    autoMitigate: true
    // Not validated on deploy: ARM runs that check as the rules' identity, whose Reader role on Application Insights
    // is written seconds earlier in the same deployment and takes minutes to take effect, so the first `azd up` failed
    // at random (first-deploy race). Each query is parsed and bound against the customMetrics schema offline instead
    // (test/infra/alerts.test.ts, Kusto.Language), and a rule whose query cannot run shows it in its evaluation state.
    skipQueryValidation: true
    actions: {
      actionGroups: [actionGroup.id]
      customProperties: {
        runbook: 'docs/operations.md, Troubleshooting'
      }
    }
  }
}]

// Each dead letter is lost work: a message Service Bus gave up on (MaxDeliveryCountExceeded after maxDeliveryCount
// deliveries, or TTLExpiredException on a queue that dead-letters on expiry). DeadletteredMessages is a gauge (the
// number of messages in an entity's dead-letter sub-queue; Average, Minimum or Maximum), so the rule fires while a
// queue holds any and resolves once it is emptied. Split by EntityName with '*': one alert per queue, naming it,
// for every queue of the namespace, also one added later.
resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-dead-letters-${nameSuffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus queue holds dead-lettered messages (DeadletteredMessages > 0; the alert names the queue in EntityName): each one is a message Service Bus gave up on, lost work until someone looks. Peek the queue\'s dead-letter sub-queue (Service Bus Explorer in the portal) and read DeadLetterReason: MaxDeliveryCountExceeded = its consumer failed it every delivery; TTLExpiredException = nobody took it in time. docs/operations.md Troubleshooting, rows "dead letters on call-events", "dead letters on call-records", "dead letters on outbound-calls", "dead letters on outbound-call-status". The alert resolves once the sub-queue is empty.'
    severity: 2
    enabled: true
    scopes: [serviceBusNamespace.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered-messages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: ['*']
            }
          ]
          timeAggregation: 'Maximum'
          operator: 'GreaterThan'
          threshold: 0
        }
      ]
    }
    // Stateful like the log rules: one email when a queue gets its first dead letter, one when its sub-queue is emptied.
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

output actionGroupName string = actionGroup.name
