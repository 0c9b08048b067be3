# Creates or updates the ACS IncomingCall Event Grid subscription, after the function code is deployed
# (Event Grid validates the webhook when the subscription is written). Idempotent: safe to re-run with
# `azd hooks run postdeploy`. Uses the one system topic Bicep declares for the ACS resource.
# The function key is read here, at hook time, and goes only into the subscription (never into azd outputs).
$ErrorActionPreference = 'Stop'

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'FUNCTIONS_BASE_URL', 'ACS_SYSTEM_TOPIC_NAME') {
  if (-not [Environment]::GetEnvironmentVariable($name)) {
    Write-Error "postdeploy: $name is not set; run 'azd provision' first"
    exit 1
  }
}

$rg = $env:AZURE_RESOURCE_GROUP
$app = $env:AZURE_FUNCTION_APP_NAME
$topic = $env:ACS_SYSTEM_TOPIC_NAME
$subscription = if ($env:INCOMING_CALL_SUBSCRIPTION_NAME) { $env:INCOMING_CALL_SUBSCRIPTION_NAME } else { 'incoming-call' }
$path = if ($env:INCOMING_CALL_PATH) { $env:INCOMING_CALL_PATH } else { '/api/incomingCall' }
$allowed = "$env:CALLED_NUMBERS_ALLOWED"

# A freshly deployed Flex app needs a moment before its host hands out keys.
$key = ''
for ($attempt = 1; $attempt -le 20; $attempt++) {
  $key = (az functionapp keys list -g $rg -n $app --query functionKeys.default -o tsv 2>$null)
  if ($LASTEXITCODE -eq 0 -and $key) { break }
  Write-Host "postdeploy: waiting for the Functions host to start ($attempt/20)"
  Start-Sleep -Seconds 15
}
if (-not $key) {
  Write-Error "postdeploy: could not read the function key of $app; retry with: azd hooks run postdeploy"
  exit 1
}
$endpoint = "$($env:FUNCTIONS_BASE_URL.TrimEnd('/'))$path`?code=$key"

# Filter on the called number only when every configured entry is an exact E.164 number: Event Grid ANDs
# its filters, so prefixes or raw ids are left to the app's own allow list.
$numbers = @($allowed.Split(',') | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$filterValues = @()
if ($numbers.Count -gt 0 -and -not ($numbers | Where-Object { $_ -notmatch '^\+\d+$' })) { $filterValues = $numbers }

# One event per delivery: the Functions app refuses larger deliveries (functions/incoming-call.ts MAX_EVENTS_PER_DELIVERY).
$arguments = @('--endpoint-type', 'webhook', '--endpoint', $endpoint, '--included-event-types', 'Microsoft.Communication.IncomingCall', '--max-events-per-batch', '1')
if ($filterValues.Count -gt 0) {
  $arguments += @('--advanced-filter', 'data.to.PhoneNumber.Value', 'StringIn') + $filterValues
}

az eventgrid system-topic event-subscription show -g $rg --system-topic-name $topic -n $subscription --output none 2>$null
if ($LASTEXITCODE -eq 0) {
  $action = 'update'
} else {
  $action = 'create'
  # An expired IncomingCall cannot be answered: retry briefly, then drop.
  $arguments += @('--max-delivery-attempts', '3', '--event-ttl', '2')
}

# The first request to a cold instance can miss Event Grid's 30 s validation window: try a few times.
for ($attempt = 1; $attempt -le 3; $attempt++) {
  az eventgrid system-topic event-subscription $action -g $rg --system-topic-name $topic -n $subscription @arguments --output none
  if ($LASTEXITCODE -eq 0) { break }
  if ($attempt -eq 3) {
    Write-Error "postdeploy: Event Grid could not validate $($env:FUNCTIONS_BASE_URL)$path; retry with: azd hooks run postdeploy"
    exit 1
  }
  Write-Host "postdeploy: retrying the subscription ($($attempt + 1)/3)"
  Start-Sleep -Seconds 20
}

if ($filterValues.Count -gt 0) {
  Write-Host "postdeploy: IncomingCall subscription '$subscription' $($action)d, only for called numbers: $($filterValues -join ' ')"
} else {
  Write-Host "postdeploy: IncomingCall subscription '$subscription' $($action)d for every number of the ACS resource"
}
Write-Host "postdeploy: calls to the ACS resource's phone numbers now reach the agent (no number yet? README: Deploy to Azure)"
