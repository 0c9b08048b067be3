import { describe, expect, it } from 'vitest';
import { readWav, writeWav, WavFormatError } from './wav.js';
import { tone } from './signal.js';

describe('WAV files', () => {
  it('round-trips 16-bit mono PCM through a canonical 44-byte header', () => {
    const samples = tone({ frequencyHz: 440, durationMs: 100, sampleRateHz: 16000 });
    const bytes = writeWav({ sampleRateHz: 16000, samples });
    expect(bytes.length).toBe(44 + samples.length * 2);
    expect(readWav(bytes)).toEqual({ sampleRateHz: 16000, samples });
  });

  it('mixes stereo down to mono and skips unknown chunks', () => {
    const stereo = Buffer.alloc(4 * 2);
    [100, 300, -200, -400].forEach((v, i) => stereo.writeInt16LE(v, i * 2));
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([4, 0, 0, 0]), Buffer.from('INFO')]);
    const fmt = Buffer.alloc(24);
    fmt.write('fmt ', 0);
    fmt.writeUInt32LE(16, 4);
    fmt.writeUInt16LE(1, 8);
    fmt.writeUInt16LE(2, 10);
    fmt.writeUInt32LE(8000, 12);
    fmt.writeUInt32LE(32000, 16);
    fmt.writeUInt16LE(4, 20);
    fmt.writeUInt16LE(16, 22);
    const data = Buffer.concat([Buffer.from('data'), Buffer.from([8, 0, 0, 0]), stereo]);
    const body = Buffer.concat([Buffer.from('WAVE'), fmt, list, data]);
    const file = Buffer.concat([Buffer.from('RIFF'), Buffer.from(Uint32Array.of(body.length).buffer), body]);
    expect(readWav(file)).toEqual({ sampleRateHz: 8000, samples: Int16Array.of(200, -300) });
  });

  it('reads streamed files whose data size was left at 0xFFFFFFFF', () => {
    const bytes = writeWav({ sampleRateHz: 22050, samples: Int16Array.of(1, 2, 3) });
    bytes.writeUInt32LE(0xffffffff, 40);
    expect(readWav(bytes).samples).toEqual(Int16Array.of(1, 2, 3));
  });

  it('refuses what is not 16-bit PCM WAV, saying why', () => {
    expect(() => readWav(Buffer.from('hello world, not a wav'))).toThrow(WavFormatError);
    const float = writeWav({ sampleRateHz: 16000, samples: Int16Array.of(0) });
    float.writeUInt16LE(3, 20);
    expect(() => readWav(float)).toThrow(/only 16-bit integer PCM/);
  });
});
