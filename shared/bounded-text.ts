/**
 * Text that comes from the model (tool names and arguments, transcripts, reasons it gives) is as long as the model
 * makes it. Wherever it reaches a log line, a reply or a record it is cut to a bound, visibly: the kept start, then
 * a marker saying how much was left out.
 */
export function boundText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let kept = text.slice(0, maxChars);
  // Never end on half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1);
  return `${kept}… [${text.length - kept.length} more characters]`;
}

/** A WebSocket close frame's reason: at most 123 bytes of UTF-8 (the protocol's limit), cut on a character boundary and marked. */
export function closeFrameReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 120);
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Tool names are at most 64 characters (the registry's rule), so a longer one is never a real tool. */
export const MAX_TOOL_NAME_CHARS = 64;
/** A reason the model gives (end_call, transfer) in logs and the call record. */
export const MAX_REASON_CHARS = 500;
/** One transcript entry in the call record, and a transcript in a debug log line. */
export const MAX_TRANSCRIPT_ENTRY_CHARS = 4000;
/** A message about a tool failure or invalid arguments, told to the model and logged. */
export const MAX_TOOL_MESSAGE_CHARS = 500;
