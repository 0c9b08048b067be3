/**
 * What a callId may be, on both sides: the Functions app refuses any other callback path or IncomingCall
 * correlationId, and the worker names a media socket only with one that passes. ACS's correlation ids are
 * GUIDs; this allows a little more (ids the lab or a test picks) but nothing a URL, a log line or a Service
 * Bus session id would have to escape: no `/`, `..`-only names, spaces, control or bidirectional characters.
 */
export const CALL_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const CALL_ID_RULE = '1 to 128 characters of A-Z a-z 0-9 . _ : -, not only dots';

export function isValidCallId(value: unknown): value is string {
  return typeof value === 'string' && CALL_ID_PATTERN.test(value) && !/^\.+$/.test(value);
}
