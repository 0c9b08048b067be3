// Every role assignment of the deployment, least privilege, each scoped to the one resource (or queue) it needs.
// Role ids come from the one table below; test/infra checks it against the built-in role list.
param functionsPrincipalId string
param workerPrincipalId string
param appInsightsName string
param storageAccountName string
param registryName string
param serviceBusNamespaceName string
param communicationName string
param aiAccountName string
@description('False when Voice Live uses an existing endpoint (voiceLiveEndpointOverride): the account here is not created, and the deployer grants the roles on that endpoint (docs/deploy.md).')
param grantAiAccess bool
@description('ACS\'s system-assigned identity; empty when calls are not recorded.')
param acsPrincipalId string
param recordingStorageAccountName string
@description('True when this deployment creates the recording storage (recording on, no storage of the deployer\'s own).')
param grantRecordingStorageAccess bool
@description('The alert rules\' identity; empty when alerting is off (no ALERT_EMAIL).')
param alertsPrincipalId string = ''
@description('True when alerting is on: the alert rules\' identity may read (query) the Application Insights resource.')
param grantAlertsQueryAccess bool = false

@description('Built-in Azure role definition ids (MicrosoftDocs built-in-roles). The only role ids in infra/.')
var builtInRoles = {
  // Azure AI User (renamed Foundry User): data actions Microsoft.CognitiveServices/*; Foundry agents in Voice Live.
  azureAiUser: '53ca6127-db72-4b80-b1b0-d745d6d5456d'
  // Pull the worker image with the worker's identity.
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  // Cognitive Services User. NOT 5e0bd9bd-7b93-4f28-af87-19fc36ad61bd, which is Cognitive Services OpenAI User
  // (the official accelerator mislabels it).
  cognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87135dc908'
  // Call Automation with Entra tokens: no narrower built-in role for ACS data-plane calls is documented, so
  // Contributor, scoped to the single ACS resource.
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c'
  // Application Insights ingestion with DisableLocalAuth.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // AzureWebJobsStorage (blob leases, host keys) and the Flex Consumption deployment container. An HTTP-only app
  // uses no queues or tables, so no queue or table role.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // ACS writes call recordings (bring-your-own storage) with its own identity.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Log search alert rules query with their managed identity, which needs Reader on what the query reads.
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource callEvents 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: 'call-events'
}

resource callRecords 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: 'call-records'
}

resource outboundCalls 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: 'outbound-calls'
}

resource outboundCallStatus 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: serviceBus
  name: 'outbound-call-status'
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' existing = {
  name: communicationName
}

// Named even when not created (grantRecordingStorageAccess false), like the AI account below.
resource recordingStorage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: recordingStorageAccountName
}

// Named even when not created (grantAiAccess false): an existing reference is never read, only its id is built.
resource ai 'Microsoft.CognitiveServices/accounts@2025-06-01' existing = {
  name: aiAccountName
}

// ---- Functions app ----

resource functionsStorageBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionsPrincipalId, builtInRoles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataOwner)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsAcs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, functionsPrincipalId, builtInRoles.contributor)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.contributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsCallEventsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(callEvents.id, functionsPrincipalId, builtInRoles.serviceBusDataSender)
  scope: callEvents
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Outbound calls: POST /api/calls sends to outbound-calls and its trigger reads it; the status store is session
// state on outbound-call-status, which accepting a session (Listen) reads and writes.
resource functionsOutboundSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outboundCalls.id, functionsPrincipalId, builtInRoles.serviceBusDataSender)
  scope: outboundCalls
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsOutboundReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outboundCalls.id, functionsPrincipalId, builtInRoles.serviceBusDataReceiver)
  scope: outboundCalls
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataReceiver)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// An outbound call none of whose attempts was answered never reaches the worker: the Functions app writes its record.
resource functionsCallRecordsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(callRecords.id, functionsPrincipalId, builtInRoles.serviceBusDataSender)
  scope: callRecords
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsOutboundStatus 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outboundCallStatus.id, functionsPrincipalId, builtInRoles.serviceBusDataReceiver)
  scope: outboundCallStatus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataReceiver)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionsPrincipalId, builtInRoles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.monitoringMetricsPublisher)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Worker ----

// Voice Live in model and agent mode: both roles on the account, which its projects (and their agents) inherit.
resource workerCognitiveServicesUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantAiAccess) {
  name: guid(ai.id, workerPrincipalId, builtInRoles.cognitiveServicesUser)
  scope: ai
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.cognitiveServicesUser)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerAzureAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantAiAccess) {
  name: guid(ai.id, workerPrincipalId, builtInRoles.azureAiUser)
  scope: ai
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.azureAiUser)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerAcs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, workerPrincipalId, builtInRoles.contributor)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.contributor)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerCallEventsReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(callEvents.id, workerPrincipalId, builtInRoles.serviceBusDataReceiver)
  scope: callEvents
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataReceiver)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerCallRecordsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(callRecords.id, workerPrincipalId, builtInRoles.serviceBusDataSender)
  scope: callRecords
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataSender)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// A voicemail outcome goes into the outbound call's status: session state on outbound-call-status, which accepting
// the call's session (Listen) reads and writes, as for the Functions app.
resource workerOutboundStatusReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outboundCallStatus.id, workerPrincipalId, builtInRoles.serviceBusDataReceiver)
  scope: outboundCallStatus
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.serviceBusDataReceiver)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, workerPrincipalId, builtInRoles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.acrPull)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, workerPrincipalId, builtInRoles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.monitoringMetricsPublisher)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Azure Communication Services ----

// Call recording to our storage. The account holds nothing but the recordings container, so account scope (what
// Microsoft documents for ACS recording storage) reaches no other data.
resource acsRecordingStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantRecordingStorageAccess) {
  name: guid(recordingStorage.id, acsPrincipalId, builtInRoles.storageBlobDataContributor)
  scope: recordingStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataContributor)
    principalId: acsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Alerts (ALERT_EMAIL) ----

// The log search alert rules run their queries as this identity. Reader on the one Application Insights resource
// the rules are scoped to: its query API is a read action, and the workspace behind it is left out (resource-context
// queries read a workspace-based resource's rows with permissions on the resource).
resource alertsAppInsightsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantAlertsQueryAccess) {
  name: guid(appInsights.id, alertsPrincipalId, builtInRoles.reader)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.reader)
    principalId: alertsPrincipalId
    principalType: 'ServicePrincipal'
  }
}
