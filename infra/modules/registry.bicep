// Registry for the worker image. azd pushes (or builds remotely with ACR Tasks) as the deploying user;
// the worker pulls with its own identity (AcrPull), so the admin user stays off.
param location string
param tags object
param registryName string
param sku string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: { name: sku }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

output registryName string = registry.name
output loginServer string = registry.properties.loginServer
