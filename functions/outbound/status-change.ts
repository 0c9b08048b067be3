import type { CallAutomationClient } from '@azure/communication-call-automation';
import { restErrorOf, type CallLog, type FunctionsDependencies } from '../context.js';
import { applyOutboundStatus } from './callbacks.js';
import type { StatusChangeMessage } from './status-change-message.js';

/**
 * Applies a status change taken off the queue. Anyone with Send rights on the queue could write one, and an
 * ending (CreateCallFailed, CallDisconnected) gives a concurrency slot back and may schedule a retry, so an ending
 * is applied only when ACS agrees the call is over: its connection is gone (404) or disconnected. A `connected`
 * frees nothing and is applied as it comes. Throws while the change cannot be applied: the message comes back.
 */
export async function runStatusChange(deps: FunctionsDependencies, message: StatusChangeMessage, log: CallLog): Promise<void> {
  const outbound = deps.outbound;
  if (!outbound) throw new Error('outbound calling is not configured on this app');
  if (message.statusChange !== 'connected') {
    const status = await outbound.status.get(message.callId);
    if (!status) {
      log.warn('queued status change for a call with no status: ignored', { statusChange: message.statusChange });
      return;
    }
    if (status.callConnectionId) {
      const state = await callConnectionState(deps.callAutomation, status.callConnectionId);
      if (state !== 'gone' && state !== 'disconnected') {
        log.warn('queued status change refused: ACS says the call is not over', { statusChange: message.statusChange, callConnectionState: state });
        return;
      }
    }
  }
  await applyOutboundStatus(deps, message.callId, message.statusChange, message, log);
  log.info('queued outbound status change applied', { statusChange: message.statusChange });
}

async function callConnectionState(client: CallAutomationClient, callConnectionId: string): Promise<string> {
  try {
    const properties = await client.getCallConnection(callConnectionId).getCallConnectionProperties();
    return properties.callConnectionState ?? 'unknown';
  } catch (error) {
    if (restErrorOf(error).status === 404) return 'gone';
    throw error;
  }
}
