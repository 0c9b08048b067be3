import type { CallAutomationClient } from '@azure/communication-call-automation';
import { createIdentifierFromRawId, type CommunicationIdentifier } from '@azure/communication-common';

/** What call control asks of ACS for one call (the parts of `CallConnection` it uses). */
export interface CallActions {
  hangUp(callConnectionId: string): Promise<void>;
  transfer(callConnectionId: string, target: string, options: { operationContext: string; reason: string }): Promise<void>;
}

/** `+15551234567` (E.164) or an ACS raw id (`8:acs:...`, `4:+1555...`). */
export function transferTargetIdentifier(target: string): CommunicationIdentifier {
  return target.startsWith('+') ? { phoneNumber: target } : createIdentifierFromRawId(target);
}

/** SIP header values must stay short printable ASCII; the model's words may not be. */
export function headerSafe(text: string, maxLength = 200): string {
  return text.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, maxLength);
}

export function callActionsFrom(client: CallAutomationClient): CallActions {
  return {
    async hangUp(callConnectionId) {
      await client.getCallConnection(callConnectionId).hangUp(true);
    },
    async transfer(callConnectionId, target, { operationContext, reason }) {
      const identifier = transferTargetIdentifier(target);
      const value = headerSafe(reason) || 'caller asked for a person';
      const isPhone = 'phoneNumber' in identifier;
      await client.getCallConnection(callConnectionId).transferCallToParticipant(identifier, {
        operationContext,
        customCallingContext: [isPhone ? { kind: 'sipx', key: 'TransferReason', value } : { kind: 'voip', key: 'TransferReason', value }],
      });
    },
  };
}
