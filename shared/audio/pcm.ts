/** 16-bit little-endian mono PCM helpers. Views, not copies, wherever the alignment allows. */

const base64Shape = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Bytes a base64 string decodes to, or -1 when it is not canonical padded base64.
 * Checks the text only, so audio can be relayed without decoding it.
 */
export function base64DecodedLength(base64: string): number {
  const length = base64.length;
  if (length % 4 !== 0 || !base64Shape.test(base64)) return -1;
  if (length === 0) return 0;
  const padding = base64.charCodeAt(length - 1) === 61 ? (base64.charCodeAt(length - 2) === 61 ? 2 : 1) : 0;
  return (length / 4) * 3 - padding;
}

/** A view of the bytes as samples; copies only when the bytes start at an odd offset. */
export function bytesToInt16(bytes: Uint8Array): Int16Array {
  const count = bytes.byteLength >> 1;
  if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, count);
  const copy = new Int16Array(count);
  new Uint8Array(copy.buffer).set(bytes.subarray(0, count * 2));
  return copy;
}

/** Decodes base64 PCM16 into samples (one decode; a trailing odd byte is ignored). */
export function base64ToInt16(base64: string): Int16Array {
  return bytesToInt16(Buffer.from(base64, 'base64'));
}

/** The samples' bytes as a Buffer view (no copy). */
export function int16ToBytes(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

export function int16ToBase64(samples: Int16Array): string {
  return int16ToBytes(samples).toString('base64');
}

/** Bytes of 16-bit mono PCM per 20 ms frame at a rate: 640 at 16 kHz, 960 at 24 kHz. */
export function frameBytes(rateHz: number, frameMs = 20): number {
  return ((rateHz * frameMs) / 1000) * 2;
}

/** Milliseconds of audio in a byte count of 16-bit mono PCM at a rate. */
export function bytesToMs(byteCount: number, rateHz: number): number {
  return (byteCount / 2 / rateHz) * 1000;
}
