// Service Bus: facts about calls, never audio. Standard tier: Basic has neither sessions nor duplicate detection.
// requiresSession and requiresDuplicateDetection are fixed when a queue is created: changing them later
// needs a new queue name.
param location string
param tags object
param namespaceName string

// Each queue's properties (sessions, duplicate detection window, TTL and dead-lettering on expiry, lock duration,
// maxDeliveryCount): ONE source of truth, which the lab's Service Bus peer reads too (lab/servicebus/provisioned-queues.ts).
// call-events: a call event waits an hour for its worker, then expires (ordinary calls leave some: no dead letter); call-records: 14 days, then dead-lettered.
var queueSettings = loadJsonContent('servicebus-queues.json')

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
  properties: queueSettings['call-events']
}

resource callRecords 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'call-records'
  properties: queueSettings['call-records']
}

// Outbound calls (docs/outbound.md): one message per attempt, messageId <callId>:<attempt> (duplicate detection
// drops a repeated request for a day), scheduled when the request says notBefore.
resource outboundCalls 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'outbound-calls'
  properties: queueSettings['outbound-calls']
}

// No messages: each outbound call's status is the session state of its session (session id = callId).
resource outboundCallStatus 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'outbound-call-status'
  properties: queueSettings['outbound-call-status']
}

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output callEventsQueueName string = callEvents.name
output callRecordsQueueName string = callRecords.name
output outboundCallsQueueName string = outboundCalls.name
output outboundStatusQueueName string = outboundCallStatus.name
