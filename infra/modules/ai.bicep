// Foundry (AI Services) resource for Voice Live, with one Foundry project for agent mode. Keys are off: the worker
// authenticates with its identity, which needs the custom subdomain (it cannot be removed once set). "Fully managed"
// Voice Live models need no deployment; an agent lives in the project (created in the Foundry portal or SDK).
param location string
param tags object
param accountName string
param projectName string

resource account 'Microsoft.CognitiveServices/accounts@2025-06-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'AIServices'
  sku: { name: 'S0' }
  // A Foundry account that holds projects needs a managed identity of its own.
  identity: { type: 'SystemAssigned' }
  properties: {
    customSubDomainName: accountName
    disableLocalAuth: true
    allowProjectManagement: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow' }
  }
}

// Always created, even in model mode: an agent must exist in a project before the worker can name it, and an empty
// project costs nothing. Its system identity is what Foundry projects run their agents' tool calls with.
resource project 'Microsoft.CognitiveServices/accounts/projects@2025-06-01' = {
  parent: account
  name: projectName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    displayName: projectName
    description: 'Foundry agents for the phone voice agent (VOICE_LIVE_AGENT_NAME)'
  }
}

output accountName string = account.name
output endpoint string = account.properties.endpoint
output projectName string = project.name
