// Bring-your-own storage for call recordings (CALL_RECORDING=audio): without it ACS keeps a recording about a day
// in its own storage and nothing here downloads it. Deployed only when recording is on and the deployer named no
// storage of their own (main.bicep).
//
// An account of its own, not a container in the Functions storage account: ACS's identity is granted Storage Blob
// Data Contributor on this account (the scope Microsoft documents for ACS recording storage), which must not reach
// the Functions deployment package; the Functions identity (Blob Data Owner on its account) in turn never reads
// recordings, which are personal data; and the lifecycle policy, one per account, touches recordings only.
param location string
param tags object
param storageAccountName string
@description('Container ACS writes recordings into.')
param containerName string = 'recordings'
@minValue(0)
@description('Days after which a recording moves to the cool tier (cheaper storage, dearer reads); 0 = stays hot.')
param coolAfterDays int
@minValue(0)
@description('Days after which a recording is deleted; 0 = never (retention is the deployer\'s decision).')
param deleteAfterDays int

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    // ACS writes with its managed identity; nobody needs a key or a SAS.
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    // ACS reaches the account over its public endpoint (no private-link path for recording storage).
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: containerName
  properties: { publicAccess: 'None' }
}

var lifecycleActions = union(
  coolAfterDays > 0 ? { tierToCool: { daysAfterModificationGreaterThan: coolAfterDays } } : {},
  deleteAfterDays > 0 ? { delete: { daysAfterModificationGreaterThan: deleteAfterDays } } : {}
)

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-01-01' = if (!empty(lifecycleActions)) {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'recordings-lifecycle'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${containerName}/'] }
            actions: { baseBlob: lifecycleActions }
          }
        }
      ]
    }
  }
}

output storageAccountName string = storage.name
// What CALL_RECORDING_STORAGE_URL expects: https://<account>.blob.core.windows.net/<container>, no SAS.
output containerUrl string = '${storage.properties.primaryEndpoints.blob}${container.name}'
