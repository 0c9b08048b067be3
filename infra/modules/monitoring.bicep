// Log Analytics for the Container Apps environment and Application Insights for both apps (Entra-only ingestion).
param location string
param tags object
param logAnalyticsName string
param appInsightsName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: 30
    sku: { name: 'PerGB2018' }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry only with an Entra token: each app's identity holds Monitoring Metrics Publisher (role-assignments.bicep).
    DisableLocalAuth: true
  }
}

output logAnalyticsName string = logAnalytics.name
output appInsightsName string = appInsights.name
// The connection string is an ingestion address, not a credential, once local auth is off.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
