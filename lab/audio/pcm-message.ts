import type { RawData } from 'ws';

/**
 * A binary WebSocket message of 16-bit PCM (the softphone's and the scripted callee's microphone) as samples;
 * undefined for an odd byte count, which is no whole number of samples.
 */
export function pcmSamplesOf(data: RawData): Int16Array | undefined {
  const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  if (bytes.length % 2 !== 0) return undefined;
  const samples = new Int16Array(bytes.length / 2);
  new Uint8Array(samples.buffer).set(bytes);
  return samples;
}
