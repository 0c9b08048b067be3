// Everything `azd up` provisions for the phone voice agent. Subscription scope: azd creates the resource group.
// Every setting the code reads is wired here from resource references; nothing is typed by hand after deploy
// except the phone number (Bicep cannot buy one; see README "Deploy to Azure").
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; prefixes the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for every regional resource.')
param location string

@description('Region of the AI Services resource for Voice Live (gpt-realtime models are only in some regions, README); empty = location.')
param aiLocation string = ''

@description('Set by azd (SERVICE_WORKER_RESOURCE_EXISTS): true once the worker app exists, so provisioning keeps its image.')
param workerExists bool = false

@description('Voice Live model (model mode). Ignored in agent mode (an agent name or id is set): the worker takes one or the other.')
param voiceLiveModel string = 'gpt-realtime-mini'

@description('Foundry agent name (agent mode).')
param voiceLiveAgentName string = ''

@description('Classic Foundry agent id (agent mode, instead of the name).')
param voiceLiveAgentId string = ''

@description('Foundry project of the agent; empty in agent mode = the project this deployment creates.')
param voiceLiveAgentProject string = ''

@description('Name of the Foundry project created in the new AI Services account; empty = proj-<token>.')
param aiProjectName string = ''

@description('Existing Foundry / AI Services endpoint for Voice Live; when set no AI account or project is created, and the worker identity needs Cognitive Services User and Azure AI User there (README).')
param voiceLiveEndpointOverride string = ''

@description('Worker settings by environment variable name (keys of workerConfigSchema), one azd value of the same name each (main.parameters.json); empty values are not set, so the worker defaults apply.')
param workerSettings object = {}

@description('Seconds a draining worker lets live calls go on after SIGTERM. The replica grace period is this plus 30 s.')
@minValue(0)
@maxValue(570)
param drainTimeoutSeconds int = 540

@minValue(1)
@description('Worker replicas kept running; at least 1, ACS dials into the worker.')
param workerMinReplicas int = 1

@minValue(1)
param workerMaxReplicas int = 5

@minValue(1)
@description('Concurrent connections (calls) per worker replica before the HTTP scale rule adds a replica.')
param workerConcurrentCallsPerReplica int = 50

@description('Where ACS stores data at rest.')
param acsDataLocation string = 'United States'

@allowed(['Basic', 'Standard', 'Premium'])
param containerRegistrySku string = 'Basic'

@description('Name of the IncomingCall Event Grid subscription (created by the postdeploy hook, checked by the app).')
param incomingCallSubscriptionName string = 'incoming-call'

@description('Functions app settings, each from the azd value of the same name (main.parameters.json); empty = the app default. CALL_RECORDING=audio without CALL_RECORDING_STORAGE_URL also creates the recording storage.')
param functionsSettings object = {}

@minValue(0)
@description('Recording storage created here (CALL_RECORDING=audio): days before a recording moves to the cool tier; 0 = stays hot.')
param recordingCoolAfterDays int = 30

@minValue(0)
@description('Recording storage created here: days before a recording is deleted; 0 = kept until deleted by hand.')
param recordingDeleteAfterDays int = 0

@allowed(['', 'pcm16KMono', 'pcm24KMono'])
@description('Media streaming PCM format ACS sends the worker; empty = the app default.')
param mediaAudioFormat string = ''

@description('Comma-separated called numbers the agent answers (E.164, or prefix ending in *); empty = all. Exact numbers also filter the Event Grid subscription.')
param calledNumbersAllowed string = ''

param calledNumbersDenied string = ''
param callerNumbersAllowed string = ''
param callerNumbersDenied string = ''

@allowed(['', 'reject', 'redirect'])
@description('What happens to a call the lists exclude; empty = the app default (reject).')
param notForUsAction string = ''

@description('E.164 number excluded calls are redirected to when notForUsAction is redirect.')
param notForUsRedirectTo string = ''

@minValue(0)
@description('Always-ready Functions instances (removes cold start on IncomingCall, billed while idle).')
param functionsAlwaysReadyInstances int = 0

@description('Email address alerts go to (azd ALERT_EMAIL). Empty = no alerting: no action group, alert rule or alert identity is created.')
param alertEmail string = ''

@minValue(0)
@description('Alert when more than this many Voice Live responses end failed or incomplete in 15 minutes.')
param alertResponsesFailedThreshold int = 5

@minValue(0)
@description('Alert when more than this many calls end with outcome failed in 15 minutes.')
param alertCallsFailedThreshold int = 3

@minValue(0)
@description('Alert when more than this many frames are dropped for bad input in 15 minutes.')
param alertFramesDroppedThreshold int = 50

@description('Optional tags added to every resource.')
param tags object = {}

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var allTags = union(tags, { 'azd-env-name': environmentName })

var names = {
  resourceGroup: 'rg-${environmentName}'
  logAnalytics: 'log-${resourceToken}'
  appInsights: 'appi-${resourceToken}'
  functionsIdentity: 'id-func-${resourceToken}'
  workerIdentity: 'id-worker-${resourceToken}'
  storage: 'st${resourceToken}'
  recordingStorage: 'strec${resourceToken}'
  registry: 'cr${resourceToken}'
  serviceBus: 'sb-${resourceToken}'
  communication: 'acs-${resourceToken}'
  ai: 'ais-${resourceToken}'
  aiProject: empty(aiProjectName) ? 'proj-${resourceToken}' : aiProjectName
  containerAppsEnvironment: 'cae-${resourceToken}'
  worker: 'ca-worker-${resourceToken}'
  functionsPlan: 'plan-func-${resourceToken}'
  functions: 'func-${resourceToken}'
  alertsIdentity: 'id-alerts-${resourceToken}'
  actionGroup: 'ag-${resourceToken}'
}

var alertsOn = !empty(alertEmail)

resource rg 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: names.resourceGroup
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: allTags
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
  }
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    location: location
    tags: allTags
    functionsIdentityName: names.functionsIdentity
    workerIdentityName: names.workerIdentity
    alertsIdentityName: alertsOn ? names.alertsIdentity : ''
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: allTags
    storageAccountName: names.storage
    deploymentContainerName: 'app-package-${take(names.functions, 32)}'
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: allTags
    registryName: names.registry
    sku: containerRegistrySku
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    location: location
    tags: allTags
    namespaceName: names.serviceBus
  }
}

// Call recording: ACS writes each recording to blob storage with its own (system-assigned) identity. Storage is
// created here unless the deployer names their own container, who then grants ACS's identity the role there.
var callRecordingOn = (functionsSettings.?CALL_RECORDING ?? '') == 'audio'
var deployerRecordingStorageUrl = functionsSettings.?CALL_RECORDING_STORAGE_URL ?? ''
var createRecordingStorage = callRecordingOn && empty(deployerRecordingStorageUrl)

module communication 'modules/communication.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    tags: allTags
    communicationName: names.communication
    dataLocation: acsDataLocation
    systemAssignedIdentity: callRecordingOn
  }
}

module recordingStorage 'modules/recording-storage.bicep' = if (createRecordingStorage) {
  name: 'recording-storage'
  scope: rg
  params: {
    location: location
    tags: allTags
    storageAccountName: names.recordingStorage
    coolAfterDays: recordingCoolAfterDays
    deleteAfterDays: recordingDeleteAfterDays
  }
}

// The Functions settings, with our container as the recording storage when this deployment creates it.
var functionsSettingsWithRecordingStorage = createRecordingStorage
  ? union(functionsSettings, { CALL_RECORDING_STORAGE_URL: recordingStorage!.outputs.containerUrl })
  : functionsSettings

// The worker's settings, with a per-replica call cap (MAX_CALLS) of twice the scale rule's calls per replica unless
// the deployer set one: headroom while scale-out catches up with a burst, but no replica takes calls without bound.
var workerSettingsWithCallCap = empty(workerSettings.?MAX_CALLS ?? '')
  ? union(workerSettings, { MAX_CALLS: string(workerConcurrentCallsPerReplica * 2) })
  : workerSettings

// Voice Live: a new Foundry account with a project, unless an existing endpoint is named.
var createAi = empty(voiceLiveEndpointOverride)

module ai 'modules/ai.bicep' = if (createAi) {
  name: 'ai'
  scope: rg
  params: {
    location: empty(aiLocation) ? location : aiLocation
    tags: allTags
    accountName: names.ai
    projectName: names.aiProject
  }
}

var voiceLiveEndpoint = createAi ? ai!.outputs.endpoint : voiceLiveEndpointOverride
var agentMode = !empty(voiceLiveAgentName) || !empty(voiceLiveAgentId)
// An agent without a named project is looked up in the project created here.
var voiceLiveAgentProjectOrDefault = !empty(voiceLiveAgentProject)
  ? voiceLiveAgentProject
  : (agentMode && createAi ? names.aiProject : '')

// Before either app is created: the Flex deployment container and the worker's registry pull need their roles.
module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  // The AI account and the recording storage are passed by name (below), so the dependencies are stated.
  dependsOn: [ai, recordingStorage]
  params: {
    functionsPrincipalId: identities.outputs.functionsPrincipalId
    workerPrincipalId: identities.outputs.workerPrincipalId
    appInsightsName: monitoring.outputs.appInsightsName
    storageAccountName: storage.outputs.storageAccountName
    registryName: registry.outputs.registryName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    communicationName: communication.outputs.communicationName
    // By name, not the module's output: with an existing endpoint that module is not deployed and nothing is granted.
    aiAccountName: names.ai
    grantAiAccess: createAi
    acsPrincipalId: communication.outputs.principalId
    recordingStorageAccountName: names.recordingStorage
    grantRecordingStorageAccess: createRecordingStorage
    alertsPrincipalId: identities.outputs.alertsPrincipalId
    grantAlertsQueryAccess: alertsOn
  }
}

// Alerting, only with ALERT_EMAIL: after the roles, so the rules' identity can read Application Insights from the
// first evaluation.
module alerts 'modules/alerts.bicep' = if (alertsOn) {
  name: 'alerts'
  scope: rg
  dependsOn: [roles]
  params: {
    location: location
    tags: allTags
    appInsightsName: monitoring.outputs.appInsightsName
    actionGroupName: names.actionGroup
    alertEmail: alertEmail
    identityId: identities.outputs.alertsIdentityId
    nameSuffix: resourceToken
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    responsesFailedThreshold: alertResponsesFailedThreshold
    callsFailedThreshold: alertCallsFailedThreshold
    framesDroppedThreshold: alertFramesDroppedThreshold
  }
}

module worker 'modules/worker.bicep' = {
  name: 'worker'
  scope: rg
  dependsOn: [roles]
  params: {
    location: location
    tags: allTags
    environmentName: names.containerAppsEnvironment
    appName: names.worker
    workerExists: workerExists
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    identityId: identities.outputs.workerIdentityId
    identityClientId: identities.outputs.workerClientId
    registryLoginServer: registry.outputs.loginServer
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    voiceLiveEndpoint: voiceLiveEndpoint
    voiceLiveModel: agentMode ? '' : voiceLiveModel
    voiceLiveAgentName: voiceLiveAgentName
    voiceLiveAgentId: voiceLiveAgentId
    voiceLiveAgentProject: voiceLiveAgentProjectOrDefault
    settings: workerSettingsWithCallCap
    acsImmutableResourceId: communication.outputs.immutableResourceId
    acsEndpoint: communication.outputs.endpoint
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    callEventsQueueName: serviceBus.outputs.callEventsQueueName
    callRecordsQueueName: serviceBus.outputs.callRecordsQueueName
    outboundStatusQueueName: serviceBus.outputs.outboundStatusQueueName
    drainTimeoutSeconds: drainTimeoutSeconds
    minReplicas: workerMinReplicas
    maxReplicas: workerMaxReplicas
    concurrentCallsPerReplica: workerConcurrentCallsPerReplica
  }
}

module functions 'modules/functions.bicep' = {
  name: 'functions'
  scope: rg
  dependsOn: [roles]
  params: {
    location: location
    tags: allTags
    planName: names.functionsPlan
    appName: names.functions
    identityId: identities.outputs.functionsIdentityId
    identityClientId: identities.outputs.functionsClientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    acsEndpoint: communication.outputs.endpoint
    acsImmutableResourceId: communication.outputs.immutableResourceId
    workerMediaUrl: 'wss://${worker.outputs.fqdn}/ws'
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    callEventsQueueName: serviceBus.outputs.callEventsQueueName
    outboundCallsQueueName: serviceBus.outputs.outboundCallsQueueName
    outboundStatusQueueName: serviceBus.outputs.outboundStatusQueueName
    callRecordsQueueName: serviceBus.outputs.callRecordsQueueName
    eventGridSubscriptionName: incomingCallSubscriptionName
    mediaAudioFormat: mediaAudioFormat
    calledNumbersAllowed: calledNumbersAllowed
    calledNumbersDenied: calledNumbersDenied
    callerNumbersAllowed: callerNumbersAllowed
    callerNumbersDenied: callerNumbersDenied
    notForUsAction: notForUsAction
    notForUsRedirectTo: notForUsRedirectTo
    alwaysReadyInstances: functionsAlwaysReadyInstances
    settings: functionsSettingsWithRecordingStorage
  }
}

// Read by azd (registry endpoint) and by the postdeploy hook; none of them is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.registryName
output AZURE_FUNCTION_APP_NAME string = functions.outputs.appName
output FUNCTIONS_BASE_URL string = functions.outputs.baseUrl
output WORKER_APP_NAME string = worker.outputs.appName
output WORKER_MEDIA_URL string = 'wss://${worker.outputs.fqdn}/ws'
output ACS_NAME string = communication.outputs.communicationName
output ACS_ENDPOINT string = communication.outputs.endpoint
output ACS_RESOURCE_ID string = communication.outputs.immutableResourceId
output ACS_ARM_RESOURCE_ID string = communication.outputs.resourceId
output ACS_SYSTEM_TOPIC_NAME string = communication.outputs.systemTopicName
// Empty unless calls are recorded: the identity to grant Storage Blob Data Contributor on your own recording storage.
output ACS_PRINCIPAL_ID string = communication.outputs.principalId
// Where recordings go ('' when recording is off). Not named CALL_RECORDING_STORAGE_URL: azd would feed it back as the
// deployer's own storage on the next provision.
output RECORDING_CONTAINER_URL string = createRecordingStorage ? recordingStorage!.outputs.containerUrl : (callRecordingOn ? deployerRecordingStorageUrl : '')
output INCOMING_CALL_SUBSCRIPTION_NAME string = incomingCallSubscriptionName
output VOICE_LIVE_ENDPOINT string = voiceLiveEndpoint
output AZURE_AI_PROJECT_NAME string = createAi ? ai!.outputs.projectName : ''
output WORKER_PRINCIPAL_ID string = identities.outputs.workerPrincipalId
output SERVICEBUS_FULLY_QUALIFIED_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
