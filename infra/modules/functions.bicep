// The Functions app on Flex Consumption: answers IncomingCall (Event Grid webhook), handles ACS callbacks and
// publishes call events to Service Bus. Identity-based everything: storage, ACS, Service Bus, App Insights.
param location string
param tags object
param planName string
param appName string
param identityId string
param identityClientId string
param storageBlobEndpoint string
param deploymentContainerName string
param appInsightsConnectionString string
param acsEndpoint string
param acsImmutableResourceId string
param workerMediaUrl string
param serviceBusFullyQualifiedNamespace string
param callEventsQueueName string
param outboundCallsQueueName string
param outboundStatusQueueName string
param callRecordsQueueName string
param eventGridSubscriptionName string
param mediaAudioFormat string
param calledNumbersAllowed string
param calledNumbersDenied string
param callerNumbersAllowed string
param callerNumbersDenied string
param notForUsAction string
param notForUsRedirectTo string
@description('Further app settings by name (recording, publish deadline, log level...); empty values are left unset.')
param settings object

@minValue(0)
param alwaysReadyInstances int

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource functionApp 'Microsoft.Web/sites@2024-11-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'functions' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    // Flex: runtime and package location live here, not in FUNCTIONS_WORKER_RUNTIME / WEBSITE_RUN_FROM_PACKAGE.
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyInstances > 0 ? [{ name: 'http', instanceCount: alwaysReadyInstances }] : []
      }
      runtime: { name: 'node', version: '22' }
    }
  }
}

// Read by the Functions host, not by our code (test/infra lists them as platform settings).
var platformAppSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The outbound-calls queue trigger's connection (connection: 'SERVICEBUS' in functions/index.ts): managed identity.
  SERVICEBUS__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  SERVICEBUS__credential: 'managedidentity'
  SERVICEBUS__clientId: identityClientId
}

// Keys of functionsConfigSchema (test/infra checks both directions).
var requiredAppSettings = {
  ACS_ENDPOINT: acsEndpoint
  ACS_RESOURCE_ID: acsImmutableResourceId
  CALLBACK_BASE_URL: 'https://${functionApp.properties.defaultHostName}'
  WORKER_MEDIA_URL: workerMediaUrl
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: serviceBusFullyQualifiedNamespace
  CALL_EVENTS_QUEUE: callEventsQueueName
  OUTBOUND_CALLS_QUEUE: outboundCallsQueueName
  OUTBOUND_STATUS_QUEUE: outboundStatusQueueName
  CALL_RECORDS_QUEUE: callRecordsQueueName
  EVENTGRID_SUBSCRIPTION_NAMES: eventGridSubscriptionName
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
}

// Set only when not empty, so the app's defaults apply otherwise.
var optionalAppSettings = {
  MEDIA_AUDIO_FORMAT: mediaAudioFormat
  CALLED_NUMBERS_ALLOWED: calledNumbersAllowed
  CALLED_NUMBERS_DENIED: calledNumbersDenied
  CALLER_NUMBERS_ALLOWED: callerNumbersAllowed
  CALLER_NUMBERS_DENIED: callerNumbersDenied
  NOT_FOR_US_ACTION: notForUsAction
  NOT_FOR_US_REDIRECT_TO: notForUsRedirectTo
}

// A child resource (not siteConfig.appSettings) so the callback URL can use the app's real host name.
resource appSettings 'Microsoft.Web/sites/config@2024-11-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(
    platformAppSettings,
    requiredAppSettings,
    toObject(filter(items(optionalAppSettings), setting => !empty(setting.value)), setting => setting.key, setting => setting.value),
    toObject(filter(items(settings), setting => !empty(setting.value)), setting => setting.key, setting => setting.value)
  )
}

output appName string = functionApp.name
output baseUrl string = 'https://${functionApp.properties.defaultHostName}'
