/**
 * What the app may send ACS on a bidirectional media socket, read as strictly as the official clients write it:
 * the JS SDK's camelCase (`createOutboundAudioData` / `createOutboundStopAudioData`:
 * `{"kind":"audioData","audioData":{"data":"<b64>","isSilent":false},"stopAudio":{}}`, `{"kind":"stopAudio","stopAudio":{}}`)
 * or the PascalCase of the Python and .NET samples (`{"Kind":"AudioData","AudioData":{"Data":"<b64>"},"StopAudio":null}`).
 * One casing per message, no other keys, a text frame, well-formed base64 of whole 16-bit samples. How ACS treats
 * anything else is not documented: the lab refuses it (see docs/fidelity/acs.md).
 */
export type OutboundFrame = { kind: 'audio'; pcm: Buffer } | { kind: 'stopAudio' } | { kind: 'invalid'; reason: string };

const CASINGS = [
  { kind: 'kind', audio: 'audioData', stop: 'stopAudio', data: 'data', optional: ['timestamp', 'participant', 'isSilent'], kinds: { audioData: 'audio', stopAudio: 'stopAudio' } },
  { kind: 'Kind', audio: 'AudioData', stop: 'StopAudio', data: 'Data', optional: ['Timestamp', 'Participant', 'IsSilent'], kinds: { AudioData: 'audio', StopAudio: 'stopAudio' } },
] as const;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const invalid = (reason: string): OutboundFrame => ({ kind: 'invalid', reason });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseOutboundFrame(text: string): OutboundFrame {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return invalid('frame is not JSON');
  }
  if (!isObject(message)) return invalid('frame is not a JSON object');
  const casing = CASINGS.find((c) => c.kind in message);
  if (!casing) return invalid('frame has no kind (or Kind)');
  const unknownKeys = Object.keys(message).filter((k) => k !== casing.kind && k !== casing.audio && k !== casing.stop);
  if (unknownKeys.length) return invalid(`unexpected key(s) ${unknownKeys.join(', ')} beside ${casing.kind}`);
  const kindValue = message[casing.kind];
  const kind = typeof kindValue === 'string' ? (casing.kinds as Record<string, 'audio' | 'stopAudio'>)[kindValue] : undefined;
  if (!kind) return invalid(`${casing.kind} ${JSON.stringify(kindValue)?.slice(0, 40)} is not ${Object.keys(casing.kinds).join(' or ')}`);
  const stop = message[casing.stop];
  if (stop !== undefined && stop !== null && !(isObject(stop) && Object.keys(stop).length === 0)) return invalid(`${casing.stop} must be {} or null`);
  const audio = message[casing.audio];
  if (kind === 'stopAudio') {
    if (audio !== undefined && audio !== null) return invalid(`a ${String(kindValue)} frame carries no ${casing.audio}`);
    return { kind: 'stopAudio' };
  }
  if (!isObject(audio)) return invalid(`${casing.audio} must be an object`);
  const extra = Object.keys(audio).filter((k) => k !== casing.data && !(casing.optional as readonly string[]).includes(k));
  if (extra.length) return invalid(`unexpected key(s) ${extra.join(', ')} in ${casing.audio}`);
  const data = audio[casing.data];
  if (typeof data !== 'string' || data.length === 0) return invalid(`${casing.audio}.${casing.data} must be a non-empty base64 string`);
  if (data.length % 4 !== 0 || !BASE64.test(data)) return invalid(`${casing.audio}.${casing.data} is not well-formed base64`);
  const pcm = Buffer.from(data, 'base64');
  if (pcm.length % 2 !== 0) return invalid(`${casing.audio}.${casing.data} holds an odd byte count (${pcm.length}): not 16-bit samples`);
  return { kind: 'audio', pcm };
}
