// AI Services (Foundry) resource for Voice Live. Keys are off: the worker authenticates with its identity, which
// needs the custom subdomain (it cannot be removed once set). "Fully managed" Voice Live models need no deployment.
param location string
param tags object
param accountName string

resource account 'Microsoft.CognitiveServices/accounts@2025-06-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'AIServices'
  sku: { name: 'S0' }
  properties: {
    customSubDomainName: accountName
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow' }
  }
}

output accountName string = account.name
output endpoint string = account.properties.endpoint
