import { z } from 'zod';
import type { Party } from '../shared/call-metadata.js';

/** ACS's CommunicationIdentifierModel as it appears on the wire (Event Grid and callbacks). */
export const identifierModelSchema = z.object({
  rawId: z.string().min(1),
  kind: z.string().optional(),
  phoneNumber: z.object({ value: z.string().min(1) }).optional(),
  communicationUser: z.object({ id: z.string() }).optional(),
});
export type IdentifierModel = z.infer<typeof identifierModelSchema>;

export function toParty(model: IdentifierModel): Party {
  const phoneNumber = model.phoneNumber?.value ?? (model.rawId.startsWith('4:') ? model.rawId.slice(2) : undefined);
  const kind = model.kind ?? (phoneNumber ? 'phoneNumber' : model.communicationUser ? 'communicationUser' : 'unknown');
  return phoneNumber ? { kind, rawId: model.rawId, phoneNumber } : { kind, rawId: model.rawId };
}
