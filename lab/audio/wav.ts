/** WAV (RIFF) reading and writing for the lab: 16-bit PCM in, 16-bit mono PCM out. */

export interface Pcm16Audio {
  readonly sampleRateHz: number;
  /** Mono samples (multi-channel files are averaged down on read). */
  readonly samples: Int16Array;
}

export class WavFormatError extends Error {
  readonly code = 'WAV_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'WavFormatError';
  }
}

/** Parses a RIFF/WAVE file holding 16-bit integer PCM (any channel count, mixed to mono). */
export function readWav(bytes: Uint8Array): Pcm16Audio {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < 12 || data.toString('ascii', 0, 4) !== 'RIFF' || data.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  let format: { audioFormat: number; channels: number; sampleRateHz: number; bitsPerSample: number } | undefined;
  let offset = 12;
  while (offset + 8 <= data.length) {
    const id = data.toString('ascii', offset, offset + 4);
    const declared = data.readUInt32LE(offset + 4);
    const start = offset + 8;
    // Streaming writers (espeak among them) leave 0 or 0xFFFFFFFF in the data size: take what is there.
    const size = id === 'data' && (declared === 0 || start + declared > data.length) ? data.length - start : declared;
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError('fmt chunk is too short');
      format = {
        audioFormat: data.readUInt16LE(start),
        channels: data.readUInt16LE(start + 2),
        sampleRateHz: data.readUInt32LE(start + 4),
        bitsPerSample: data.readUInt16LE(start + 14),
      };
      // WAVE_FORMAT_EXTENSIBLE carries the real format in its sub-format GUID's first two bytes.
      if (format.audioFormat === 0xfffe && size >= 26) format.audioFormat = data.readUInt16LE(start + 24);
    } else if (id === 'data') {
      if (!format) throw new WavFormatError('data chunk before fmt chunk');
      if (format.audioFormat !== 1 || format.bitsPerSample !== 16) {
        throw new WavFormatError(`only 16-bit integer PCM is supported (format ${format.audioFormat}, ${format.bitsPerSample} bits)`);
      }
      if (format.channels < 1) throw new WavFormatError('channel count is 0');
      if (format.sampleRateHz < 1000 || format.sampleRateHz > 192000) throw new WavFormatError(`implausible sample rate ${format.sampleRateHz}`);
      const frameCount = Math.floor(size / (2 * format.channels));
      const samples = new Int16Array(frameCount);
      for (let frame = 0; frame < frameCount; frame++) {
        let sum = 0;
        for (let channel = 0; channel < format.channels; channel++) {
          sum += data.readInt16LE(start + (frame * format.channels + channel) * 2);
        }
        samples[frame] = Math.round(sum / format.channels);
      }
      return { sampleRateHz: format.sampleRateHz, samples };
    }
    offset = start + size + (size % 2);
  }
  throw new WavFormatError(format ? 'no data chunk' : 'no fmt chunk');
}

/** A canonical 44-byte-header mono 16-bit PCM WAV file. */
export function writeWav(audio: Pcm16Audio): Buffer {
  const dataBytes = audio.samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(audio.sampleRateHz, 24);
  out.writeUInt32LE(audio.sampleRateHz * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < audio.samples.length; i++) out.writeInt16LE(audio.samples[i]!, 44 + i * 2);
  return out;
}
