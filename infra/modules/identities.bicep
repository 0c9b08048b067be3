// One user-assigned identity per app, created before the apps so their roles exist when they first start.
param location string
param tags object
param functionsIdentityName string
param workerIdentityName string

resource functionsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: functionsIdentityName
  location: location
  tags: tags
}

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: workerIdentityName
  location: location
  tags: tags
}

output functionsIdentityId string = functionsIdentity.id
output functionsClientId string = functionsIdentity.properties.clientId
output functionsPrincipalId string = functionsIdentity.properties.principalId
output workerIdentityId string = workerIdentity.id
output workerClientId string = workerIdentity.properties.clientId
output workerPrincipalId string = workerIdentity.properties.principalId
