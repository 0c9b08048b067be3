// One user-assigned identity per app, created before the apps so their roles exist when they first start; and one
// for the alert rules' queries when alerting is on, so its read role exists before the first evaluation.
param location string
param tags object
param functionsIdentityName string
param workerIdentityName string
@description('Identity the log search alert rules query with; empty = alerting off, not created.')
param alertsIdentityName string = ''

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

resource alertsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (!empty(alertsIdentityName)) {
  name: alertsIdentityName
  location: location
  tags: tags
}

output functionsIdentityId string = functionsIdentity.id
output functionsClientId string = functionsIdentity.properties.clientId
output functionsPrincipalId string = functionsIdentity.properties.principalId
output workerIdentityId string = workerIdentity.id
output workerClientId string = workerIdentity.properties.clientId
output workerPrincipalId string = workerIdentity.properties.principalId
// Empty when alerting is off.
output alertsIdentityId string = !empty(alertsIdentityName) ? alertsIdentity!.id : ''
output alertsPrincipalId string = !empty(alertsIdentityName) ? alertsIdentity!.properties.principalId : ''
