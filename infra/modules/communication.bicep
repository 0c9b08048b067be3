// Azure Communication Services and its one Event Grid system topic. The IncomingCall subscription is NOT here:
// Event Grid validates a webhook when the subscription is created, which needs the function code deployed,
// so infra/hooks/postdeploy.* creates it after `azd deploy`. Only one system topic may exist per source: the
// hook reuses this one and never creates another.
param tags object
param communicationName string
param dataLocation string
@description('True when calls are recorded (CALL_RECORDING=audio): ACS writes recordings to blob storage with this identity.')
param systemAssignedIdentity bool

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: communicationName
  location: 'global'
  tags: tags
  // null = no identity property at all, so a deployment without recording sends what it always did.
  identity: systemAssignedIdentity ? { type: 'SystemAssigned' } : null
  properties: {
    dataLocation: dataLocation
    // Both apps call ACS with Entra tokens; no code reads a connection string.
    disableLocalAuth: true
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: '${communicationName}-events'
  location: 'global'
  tags: tags
  properties: {
    source: communication.id
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

output communicationName string = communication.name
output resourceId string = communication.id
// The audience of the JWTs ACS signs for callbacks and the media WebSocket.
output immutableResourceId string = communication.properties.immutableResourceId
output endpoint string = 'https://${communication.properties.hostName}/'
output systemTopicName string = systemTopic.name
// Empty without the identity; the principal that needs Storage Blob Data Contributor on recording storage.
output principalId string = systemAssignedIdentity ? communication.identity.principalId : ''
