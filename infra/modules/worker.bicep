// Container Apps environment and the media worker: the /ws endpoint ACS streams each call to.
param location string
param tags object
param environmentName string
param appName string
param logAnalyticsName string
param identityId string
param identityClientId string
param registryLoginServer string
param appInsightsConnectionString string
param voiceLiveEndpoint string
@description('Model mode: the model; empty in agent mode (main.bicep decides, the worker refuses both).')
param voiceLiveModel string
param voiceLiveAgentName string
param voiceLiveAgentId string
param voiceLiveAgentProject string
@description('Worker settings by environment variable name (azd values of the same name); empty = not set.')
param settings object
param acsImmutableResourceId string
param acsEndpoint string
param serviceBusFullyQualifiedNamespace string
param callEventsQueueName string
param callRecordsQueueName string
@description('The outbound status queue: the worker writes a voicemail outcome into a call\'s status there.')
param outboundStatusQueueName string
param drainTimeoutSeconds int
param minReplicas int
param maxReplicas int
param concurrentCallsPerReplica int

@description('True once the app exists (azd SERVICE_WORKER_RESOURCE_EXISTS): keep the image azd deployed.')
param workerExists bool

param cpu string = '0.5'
param memory string = '1Gi'

var port = 8080

// SIGTERM starts the worker's drain (DRAIN_TIMEOUT_S); the platform kills the replica this many seconds later.
var terminationGracePeriodSeconds = drainTimeoutSeconds + 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource existingWorker 'Microsoft.App/containerApps@2025-07-01' existing = if (workerExists) {
  name: appName
}

// On `azd provision` of an existing app, reuse the running image instead of resetting it to the placeholder
// (the accelerator's bug). The placeholder only serves the very first provision, before `azd deploy`.
var image = workerExists
  ? existingWorker!.properties.template.containers[0].image
  : 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
    ]
  }
}

// Env entries with a fixed or derived value. Names must be keys of workerConfigSchema (test/infra checks).
var requiredEnv = [
  { name: 'PORT', value: string(port) }
  { name: 'VOICE_LIVE_ENDPOINT', value: voiceLiveEndpoint }
  { name: 'MEDIA_AUTH', value: 'acs' }
  { name: 'ACS_RESOURCE_ID', value: acsImmutableResourceId }
  { name: 'DRAIN_TIMEOUT_S', value: string(drainTimeoutSeconds) }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  { name: 'ACS_ENDPOINT', value: acsEndpoint }
  { name: 'SERVICEBUS_FULLY_QUALIFIED_NAMESPACE', value: serviceBusFullyQualifiedNamespace }
  { name: 'CALL_EVENTS_QUEUE', value: callEventsQueueName }
  { name: 'CALL_RECORDS_QUEUE', value: callRecordsQueueName }
  { name: 'OUTBOUND_STATUS_QUEUE', value: outboundStatusQueueName }
]

// The Voice Live target, decided in main.bicep (model or agent); set only when not empty.
var optionalEnv = [
  { name: 'VOICE_LIVE_MODEL', value: voiceLiveModel }
  { name: 'VOICE_LIVE_AGENT_NAME', value: voiceLiveAgentName }
  { name: 'VOICE_LIVE_AGENT_ID', value: voiceLiveAgentId }
  { name: 'VOICE_LIVE_AGENT_PROJECT', value: voiceLiveAgentProject }
]

// Every tuning setting, name = key: only those with a value, so the worker's own defaults apply otherwise.
var settingsEnv = map(filter(items(settings), setting => !empty(setting.value)), setting => {
  name: setting.key
  value: string(setting.value)
})

resource worker 'Microsoft.App/containerApps@2025-07-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'worker' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      // Exactly one revision serves. A deploy starts the new revision; once it passes its probes, traffic moves to
      // it and the platform deactivates the old one: its replicas get SIGTERM, fail /readyz, refuse new media
      // sockets and let live calls go on for DRAIN_TIMEOUT_S (terminationGracePeriodSeconds below covers it).
      // Multiple mode kept every old revision active with its own minimum replica after each `azd up` (azd moves
      // traffic but never deactivates); deactivating those later drains them the same way, so Single mode loses
      // no call that Multiple mode with a deactivation step would keep (docs/deploy.md, Revisions and drain).
      activeRevisionsMode: 'Single'
      maxInactiveRevisions: 5
      ingress: {
        external: true
        targetPort: port
        // HTTP/1.1 upgrade to WebSocket; 'auto' also accepts HTTP/2 for the probes and /metrics.
        transport: 'auto'
        allowInsecure: false
        traffic: [
          { latestRevision: true, weight: 100 }
        ]
      }
      registries: [
        { server: registryLoginServer, identity: identityId }
      ]
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'worker'
          image: image
          resources: { cpu: json(cpu), memory: memory }
          env: concat(requiredEnv, filter(optionalEnv, entry => !empty(entry.value)), settingsEnv)
          probes: [
            {
              type: 'Startup'
              httpGet: { path: '/healthz', port: port }
              periodSeconds: 2
              failureThreshold: 30
            }
            {
              // Cheap and independent of Voice Live: an upstream outage must not restart replicas holding calls.
              type: 'Liveness'
              httpGet: { path: '/healthz', port: port }
              periodSeconds: 10
              timeoutSeconds: 3
              failureThreshold: 3
            }
            {
              // 503 while draining: no new calls are routed to a replica that is shutting down.
              type: 'Readiness'
              httpGet: { path: '/readyz', port: port }
              periodSeconds: 5
              timeoutSeconds: 3
              failureThreshold: 2
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        // Scale-in cuts no calls by itself, but a removed replica drains: wait before shrinking.
        cooldownPeriod: 600
        rules: [
          {
            // One media WebSocket per call: open connections are the load.
            name: 'concurrent-calls'
            http: { metadata: { concurrentRequests: string(concurrentCallsPerReplica) } }
          }
        ]
      }
    }
  }
}

output appName string = worker.name
output fqdn string = worker.properties.configuration.ingress.fqdn
