// Service Bus: facts about calls, never audio. Standard tier: Basic has neither sessions nor duplicate detection.
// requiresSession and requiresDuplicateDetection are fixed when a queue is created: changing them later
// needs a new queue name.
param location string
param tags object
param namespaceName string

@description('How long a call event waits for its worker before it expires (and is dead-lettered).')
param callEventsTimeToLive string = 'PT1H'

@description('How long a call record waits for a consumer before it is dead-lettered.')
param callRecordsTimeToLive string = 'P14D'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

// sessionId = callId keeps one call's events in order and lets the worker holding the call take exactly its
// session; messageId = the source event's id lets duplicate detection drop redeliveries.
resource callEvents 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'call-events'
  properties: {
    requiresSession: true
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    defaultMessageTimeToLive: callEventsTimeToLive
    deadLetteringOnMessageExpiration: true
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
  }
}

resource callRecords 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'call-records'
  properties: {
    requiresSession: false
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    defaultMessageTimeToLive: callRecordsTimeToLive
    deadLetteringOnMessageExpiration: true
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
  }
}

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output callEventsQueueName string = callEvents.name
output callRecordsQueueName string = callRecords.name
