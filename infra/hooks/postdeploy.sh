#!/bin/sh
# Creates or updates the ACS IncomingCall Event Grid subscription, after the function code is deployed
# (Event Grid validates the webhook when the subscription is written). Idempotent: safe to re-run with
# `azd hooks run postdeploy`. Uses the one system topic Bicep declares for the ACS resource.
# The function key is read here, at hook time, and goes only into the subscription (never into azd outputs).
set -eu

require() {
  eval "value=\${$1:-}"
  if [ -z "$value" ]; then
    echo "postdeploy: $1 is not set; run 'azd provision' first" >&2
    exit 1
  fi
}
for name in AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME FUNCTIONS_BASE_URL ACS_SYSTEM_TOPIC_NAME; do require "$name"; done

rg="$AZURE_RESOURCE_GROUP"
app="$AZURE_FUNCTION_APP_NAME"
topic="$ACS_SYSTEM_TOPIC_NAME"
subscription="${INCOMING_CALL_SUBSCRIPTION_NAME:-incoming-call}"
path="${INCOMING_CALL_PATH:-/api/incomingCall}"
allowed="${CALLED_NUMBERS_ALLOWED:-}"

# A freshly deployed Flex app needs a moment before its host hands out keys.
key=""
attempt=1
while [ "$attempt" -le 20 ]; do
  key=$(az functionapp keys list -g "$rg" -n "$app" --query functionKeys.default -o tsv 2>/dev/null || true)
  [ -n "$key" ] && break
  echo "postdeploy: waiting for the Functions host to start ($attempt/20)"
  attempt=$((attempt + 1))
  sleep 15
done
if [ -z "$key" ]; then
  echo "postdeploy: could not read the function key of $app; retry with: azd hooks run postdeploy" >&2
  exit 1
fi
endpoint="${FUNCTIONS_BASE_URL%/}${path}?code=${key}"

# Filter on the called number only when every configured entry is an exact E.164 number: Event Grid ANDs
# its filters, so prefixes or raw ids are left to the app's own allow list.
filter_values=""
if [ -n "$allowed" ]; then
  exact=true
  for number in $(echo "$allowed" | tr ',' ' '); do
    case "$number" in
      +*[!0-9]*|[!+]*) exact=false ;;
      +*) filter_values="$filter_values $number" ;;
    esac
  done
  [ "$exact" = true ] || filter_values=""
fi

# One event per delivery: the Functions app refuses larger deliveries (functions/incoming-call.ts MAX_EVENTS_PER_DELIVERY).
set -- --endpoint-type webhook --endpoint "$endpoint" \
  --included-event-types Microsoft.Communication.IncomingCall --max-events-per-batch 1
if [ -n "$filter_values" ]; then
  # shellcheck disable=SC2086 # one argument per number
  set -- "$@" --advanced-filter data.to.PhoneNumber.Value StringIn $filter_values
fi

if az eventgrid system-topic event-subscription show -g "$rg" --system-topic-name "$topic" -n "$subscription" >/dev/null 2>&1; then
  action=update
else
  action=create
  # An expired IncomingCall cannot be answered: retry briefly, then drop.
  set -- "$@" --max-delivery-attempts 3 --event-ttl 2
fi

# The first request to a cold instance can miss Event Grid's 30 s validation window: try a few times.
attempt=1
until az eventgrid system-topic event-subscription "$action" -g "$rg" --system-topic-name "$topic" -n "$subscription" "$@" --output none; do
  if [ "$attempt" -ge 3 ]; then
    echo "postdeploy: Event Grid could not validate $FUNCTIONS_BASE_URL$path; retry with: azd hooks run postdeploy" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "postdeploy: retrying the subscription ($attempt/3)"
  sleep 20
done

if [ -n "$filter_values" ]; then
  echo "postdeploy: IncomingCall subscription '$subscription' ${action}d, only for called numbers:$filter_values"
else
  echo "postdeploy: IncomingCall subscription '$subscription' ${action}d for every number of the ACS resource"
fi
echo "postdeploy: calls to the ACS resource's phone numbers now reach the agent (no number yet? README: Deploy to Azure)"
