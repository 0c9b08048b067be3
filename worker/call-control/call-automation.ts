import type { CallAutomationClient } from '@azure/communication-call-automation';
import { createIdentifierFromRawId, type CommunicationIdentifier } from '@azure/communication-common';

/** What call control asks of ACS for one call (the parts of `CallConnection` it uses). */
export interface CallActions {
  hangUp(callConnectionId: string): Promise<void>;
  transfer(callConnectionId: string, target: string, options: { operationContext: string; reason: string; summary?: string }): Promise<void>;
}

/** `+15551234567` (E.164) or an ACS raw id (`8:acs:...`, `4:+1555...`). */
export function transferTargetIdentifier(target: string): CommunicationIdentifier {
  return target.startsWith('+') ? { phoneNumber: target } : createIdentifierFromRawId(target);
}

/** VoIP header values: short printable ASCII (the model's words may not be). */
export function headerSafe(text: string, maxLength = 200): string {
  return text.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, maxLength);
}

/** ACS's limit on a custom SIP header value, whose characters must be letters, digits and `=;.!%*_+~-`. */
export const SIP_HEADER_VALUE_MAX = 256;

/**
 * A SIP header value ACS accepts: the text percent-encoded (UTF-8, as `encodeURIComponent` does, plus `'()`),
 * so every character is in ACS's allowed set, cut to 256 characters without splitting an escape. The receiving
 * side reads it back with `decodeURIComponent`.
 */
export function sipHeaderValue(text: string, maxLength = SIP_HEADER_VALUE_MAX): string {
  const encoded = encodeURIComponent(text.replace(/\s+/g, ' ').trim()).replace(/['()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (encoded.length <= maxLength) return encoded;
  let cut = encoded.slice(0, maxLength);
  const escape = cut.lastIndexOf('%');
  if (escape > maxLength - 3) cut = cut.slice(0, escape);
  // Never end inside a multi-byte character: drop trailing escapes that do not decode on their own.
  while (cut.length > 0) {
    try {
      decodeURIComponent(cut);
      return cut;
    } catch {
      cut = cut.slice(0, cut.lastIndexOf('%'));
    }
  }
  return cut;
}

export function callActionsFrom(client: CallAutomationClient): CallActions {
  return {
    async hangUp(callConnectionId) {
      await client.getCallConnection(callConnectionId).hangUp(true);
    },
    async transfer(callConnectionId, target, { operationContext, reason, summary }) {
      const identifier = transferTargetIdentifier(target);
      // A phone number gets SIP headers (X-MS-Custom-...), whose values ACS restricts: percent-encoded. An ACS user gets VoIP headers.
      const sip = 'phoneNumber' in identifier;
      const header = (key: string, text: string) =>
        sip ? ({ kind: 'sipx', key, value: sipHeaderValue(text) } as const) : ({ kind: 'voip', key, value: headerSafe(text, 1000) } as const);
      const headers = [header('TransferReason', reason.trim() || 'caller asked for a person'), ...(summary?.trim() ? [header('TransferSummary', summary)] : [])];
      await client.getCallConnection(callConnectionId).transferCallToParticipant(identifier, { operationContext, customCallingContext: headers });
    },
  };
}
