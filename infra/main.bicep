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

@description('Voice Live model (model mode). Leave empty and set the agent name and project for agent mode.')
param voiceLiveModel string = 'gpt-realtime-mini'

@description('Foundry agent name (agent mode).')
param voiceLiveAgentName string = ''

@description('Foundry project name of the agent (agent mode).')
param voiceLiveAgentProject string = ''

@description('Voice Live API version; empty = the worker default.')
param voiceLiveApiVersion string = ''

@description('Voice Live voice name; empty = the worker default.')
param voiceLiveVoiceName string = ''

@description('System instructions for the agent (model mode); empty = the worker default.')
param voiceLiveInstructions string = ''

@description('Fixed greeting the agent says when the call connects; empty = none.')
param voiceLiveGreeting string = ''

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

@description('PSTN number or ACS identity (rawId) the agent transfers callers to; empty = transfer disabled.')
param transferTarget string = ''

@description('Where ACS stores data at rest.')
param acsDataLocation string = 'United States'

@allowed(['Basic', 'Standard', 'Premium'])
param containerRegistrySku string = 'Basic'

@description('Name of the IncomingCall Event Grid subscription (created by the postdeploy hook, checked by the app).')
param incomingCallSubscriptionName string = 'incoming-call'

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
  registry: 'cr${resourceToken}'
  serviceBus: 'sb-${resourceToken}'
  communication: 'acs-${resourceToken}'
  ai: 'ais-${resourceToken}'
  containerAppsEnvironment: 'cae-${resourceToken}'
  worker: 'ca-worker-${resourceToken}'
  functionsPlan: 'plan-func-${resourceToken}'
  functions: 'func-${resourceToken}'
}

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

module communication 'modules/communication.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    tags: allTags
    communicationName: names.communication
    dataLocation: acsDataLocation
  }
}

module ai 'modules/ai.bicep' = {
  name: 'ai'
  scope: rg
  params: {
    location: empty(aiLocation) ? location : aiLocation
    tags: allTags
    accountName: names.ai
  }
}

// Before either app is created: the Flex deployment container and the worker's registry pull need their roles.
module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    functionsPrincipalId: identities.outputs.functionsPrincipalId
    workerPrincipalId: identities.outputs.workerPrincipalId
    appInsightsName: monitoring.outputs.appInsightsName
    storageAccountName: storage.outputs.storageAccountName
    registryName: registry.outputs.registryName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    communicationName: communication.outputs.communicationName
    aiAccountName: ai.outputs.accountName
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
    voiceLiveEndpoint: ai.outputs.endpoint
    voiceLiveModel: voiceLiveModel
    voiceLiveAgentName: voiceLiveAgentName
    voiceLiveAgentProject: voiceLiveAgentProject
    voiceLiveApiVersion: voiceLiveApiVersion
    voiceLiveVoiceName: voiceLiveVoiceName
    voiceLiveInstructions: voiceLiveInstructions
    voiceLiveGreeting: voiceLiveGreeting
    acsImmutableResourceId: communication.outputs.immutableResourceId
    acsEndpoint: communication.outputs.endpoint
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    callEventsQueueName: serviceBus.outputs.callEventsQueueName
    callRecordsQueueName: serviceBus.outputs.callRecordsQueueName
    transferTarget: transferTarget
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
    eventGridSubscriptionName: incomingCallSubscriptionName
    mediaAudioFormat: mediaAudioFormat
    calledNumbersAllowed: calledNumbersAllowed
    calledNumbersDenied: calledNumbersDenied
    callerNumbersAllowed: callerNumbersAllowed
    callerNumbersDenied: callerNumbersDenied
    notForUsAction: notForUsAction
    notForUsRedirectTo: notForUsRedirectTo
    alwaysReadyInstances: functionsAlwaysReadyInstances
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
output INCOMING_CALL_SUBSCRIPTION_NAME string = incomingCallSubscriptionName
output VOICE_LIVE_ENDPOINT string = ai.outputs.endpoint
output SERVICEBUS_FULLY_QUALIFIED_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
