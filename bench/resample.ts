/**
 * `npm run bench:resample`: our StreamingResampler against Speex (q5/q7/q10, WASM SIMD) and libsamplerate (WASM),
 * 16k -> 24k and 24k -> 16k, 60 s of audio in 20 ms chunks. Speed is CPU time (process.cpuUsage), the median of
 * several interleaved runs, so other processes on the machine disturb it less than wall time would. Quality is
 * measured from the output samples (least-squares sine fits), the same way for every candidate.
 * Prints the table and writes it into BENCHMARKS.md under "## Resampler".
 */
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fitSines, int16FloorDb, int16Multitone, int16Sine, multitoneFrequencies } from '../shared/audio/resampler/analysis.js';
import { libsamplerate, ours, speex, type Candidate, type CandidateFactory } from './resample-candidates.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = 60;
const DIRECTIONS = [
  [16000, 24000],
  [24000, 16000],
] as const;

type Factory = CandidateFactory & { prepare?(fromRate: number, toRate: number, count: number): Promise<void> };

interface Row {
  name: string;
  cpuUs: number[];
  delayMs: number;
  bytes: number;
  toneSnrMinDb: number;
  toneFloorDb: number;
  multitoneDb: number;
  flatnessDb: number;
  stopbandDb: number;
}

function feed(c: Candidate, x: Int16Array, chunk: number): Int16Array {
  const parts: Int16Array[] = [];
  let total = 0;
  for (let o = 0; o < x.length; o += chunk) {
    const y = c.process(x.subarray(o, Math.min(x.length, o + chunk)));
    parts.push(y);
    total += y.length;
  }
  const out = new Int16Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function mix(a: Int16Array, b: Int16Array): Int16Array {
  return a.map((v, i) => v + b[i]!);
}

function foldHz(f: number, rate: number): number {
  const g = f % rate;
  return g > rate / 2 ? rate - g : g;
}

async function make(f: Factory, from: number, to: number): Promise<Candidate> {
  if (f.prepare) await f.prepare(from, to, 1);
  return f.create(from, to);
}

/** Quality figures, each from a fresh instance fed 1-2 s in 20 ms chunks; analysis skips the start-up. */
async function quality(f: Factory, from: number, to: number): Promise<Omit<Row, 'name' | 'cpuUs' | 'bytes'>> {
  const chunk = from / 50;
  const skip = Math.round(to * 0.02);
  const run = async (x: Int16Array): Promise<Int16Array> => {
    const c = await make(f, from, to);
    const y = feed(c, x, chunk);
    c.dispose();
    return y;
  };

  // Delay: phase lag of a 25.3 Hz tone (40 ms period, so any delay under 40 ms is unambiguous).
  const lowHz = 25.3;
  const lowInput = int16Sine(lowHz, 16384, from, 2 * from);
  const low = await run(lowInput);
  // Samples held back: what a stream of this length should have produced so far minus what came out (before flush).
  const heldMs = ((Math.ceil((lowInput.length * to) / from) - low.length) / to) * 1000;
  const lateSkip = to / 2;
  const lowFit = fitSines(low, [lowHz], to, lateSkip, to);
  const expected = 0.3 + (2 * Math.PI * lowHz * lateSkip) / to;
  const lag = (((expected - lowFit.phases[0]!) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  // A lag just under a full period is an advance (an output time-aligned by holding samples back).
  const lagMs = (lag / (2 * Math.PI * lowHz)) * 1000;
  const delayMs = (lagMs > 20 ? lagMs - 1000 / lowHz : lagMs) + heldMs;

  let toneSnrMinDb = Infinity;
  let flatnessDb = 0;
  for (const hz of [300.7, 997.3, 2001.1, 3999.7, 6000.3]) {
    const y = await run(int16Sine(hz, 16384, from, from));
    const fit = fitSines(y, [hz], to, skip, to / 2);
    toneSnrMinDb = Math.min(toneSnrMinDb, fit.snrDb);
  }
  for (const hz of [100.3, 1000.3, 3000.7, 5000.9, 6500.3, 7000.3]) {
    const y = await run(int16Sine(hz, 16384, from, from));
    const gainDb = 20 * Math.log10(fitSines(y, [hz], to, skip, to / 2).amplitude / 16384);
    if (Math.abs(gainDb) > Math.abs(flatnessDb)) flatnessDb = gainDb;
  }
  const tones = multitoneFrequencies();
  const multi = await run(int16Multitone(tones, 1800, from, from));
  const multitoneDb = fitSines(multi, tones, to, skip, to / 4).snrDb;

  // Stop-band: a -1 dBFS probe plus a small 1 kHz carrier (keeps output rounding noise-like), all fitted together.
  let stopbandDb = Infinity;
  const probes = from > to ? [9000.7, 9500.3, 10000.9, 10999.3] : [1000.3, 3000.7, 5000.9, 6999.3];
  for (const hz of probes) {
    const x = mix(int16Sine(hz, 29000, from, from), int16Sine(1499.7, 2000, from, from, 1.1));
    const y = await run(x);
    const targets = from > to ? [foldHz(hz, to)] : [from - hz, from + hz].map((g) => foldHz(g, to));
    const wanted = from > to ? [1499.7] : [hz, 1499.7];
    const fit = fitSines(y, [...wanted, ...targets], to, skip, to / 2);
    for (const amplitude of fit.amplitudes.slice(wanted.length)) {
      stopbandDb = Math.min(stopbandDb, -20 * Math.log10(amplitude / 29000));
    }
  }
  return { delayMs, toneSnrMinDb, toneFloorDb: int16FloorDb(16384, from, to), multitoneDb, flatnessDb, stopbandDb };
}

function speechLike(rate: number, seconds: number): Int16Array {
  // Multitone with a slow amplitude envelope: content everywhere in the band, no silence shortcuts.
  const tones = multitoneFrequencies(12, 120, 6800);
  const base = int16Multitone(tones, 2500, rate, rate);
  const out = new Int16Array(rate * seconds);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(base[i % base.length]! * (0.55 + 0.45 * Math.sin(i / rate * 5)));
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function load(): string {
  try {
    return execSync('uptime', { encoding: 'utf8' }).trim().replace(/^.*load average:/, 'load average:');
  } catch {
    return 'load unknown';
  }
}

async function main(): Promise<void> {
  const factories: Factory[] = [
    ours('wasm'),
    ours('js'),
    await speex(5),
    await speex(7),
    await speex(10),
    (await libsamplerate(0, 'SINC_BEST')) as Factory,
    (await libsamplerate(1, 'SINC_MEDIUM')) as Factory,
    (await libsamplerate(2, 'SINC_FASTEST')) as Factory,
  ];
  const loadBefore = load();
  const sections: string[] = [];
  for (const [from, to] of DIRECTIONS) {
    const input = speechLike(from, SECONDS);
    const chunk = from / 50;
    const rows: Row[] = [];
    for (const f of factories) {
      const q = await quality(f, from, to);
      let bytes = median([0, 1, 2].map(() => f.bytesPerInstance(from, to)));
      if (Number.isNaN(bytes) && f.prepare) {
        // libsamplerate: each instance instantiates its own wasm module; count heap + external growth.
        const gc = (globalThis as { gc?: () => void }).gc;
        await f.prepare(from, to, 1);
        f.create(from, to).dispose();
        const samples: number[] = [];
        for (let attempt = 0; attempt < 3; attempt++) {
          gc?.();
          gc?.();
          const before = process.memoryUsage();
          await f.prepare(from, to, 3);
          gc?.();
          gc?.();
          const after = process.memoryUsage();
          samples.push((after.heapUsed + after.external - before.heapUsed - before.external) / 3);
          for (let i = 0; i < 3; i++) f.create(from, to).dispose();
        }
        bytes = median(samples);
      }
      rows.push({ name: f.name, cpuUs: [], bytes, ...q });
    }
    for (let run = 0; run < RUNS; run++) {
      for (const [i, f] of factories.entries()) {
        const c = await make(f, from, to);
        feed(c, input.subarray(0, from), chunk); // warm-up (JIT tiers) on a second of audio, then a fresh stream
        c.flush();
        const c2 = await make(f, from, to);
        const start = process.cpuUsage();
        feed(c2, input, chunk);
        const used = process.cpuUsage(start);
        rows[i]!.cpuUs.push(used.user + used.system);
        c.dispose();
        c2.dispose();
      }
    }
    const chunks = input.length / chunk;
    const speex7 = median(rows.find((r) => r.name.startsWith('speex q7'))!.cpuUs);
    const header =
      '| resampler | x realtime (1 call) | µs / 20 ms chunk | vs Speex q7 | delay (ms) | memory / instance | tone SNR min 300 Hz-6 kHz (floor) | multitone SNR | passband 0.1-7 kHz | stop-band |\n' +
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
    const lines = rows.map((r) => {
      const cpu = median(r.cpuUs);
      const mem = r.bytes >= 1e6 ? `${(r.bytes / 1e6).toFixed(1)} MB` : `${(r.bytes / 1024).toFixed(1)} KB`;
      return `| ${r.name} | ${Math.round((SECONDS * 1e6) / cpu).toLocaleString('en-US')} | ${(cpu / chunks).toFixed(2)} | ${(speex7 / cpu).toFixed(2)}x | ${r.delayMs.toFixed(2)} | ${mem} | ${r.toneSnrMinDb.toFixed(1)} dB (${r.toneFloorDb.toFixed(1)}) | ${r.multitoneDb.toFixed(1)} dB | ${r.flatnessDb >= 0 ? '+' : ''}${r.flatnessDb.toFixed(3)} dB | ${r.stopbandDb.toFixed(1)} dB |`;
    });
    const stopNote = from > to ? 'alias of 9-11 kHz tones' : 'worst image of 1-7 kHz tones';
    sections.push(`### ${from / 1000} kHz -> ${to / 1000} kHz (stop-band = ${stopNote})\n\n${header}\n${lines.join('\n')}\n`);
  }
  const loadAfter = load();
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  const date = new Date().toISOString().slice(0, 10);
  const body = [
    `Measured ${date} on ${cpus().length} cores (\`nproc\`), ${cpuModel}, Node ${process.version}. ` +
      `${SECONDS} s of audio in 20 ms chunks, one instance (one call, one direction); CPU time, median of ${RUNS} interleaved runs. ` +
      `Machine load while running: ${loadBefore} (before), ${loadAfter} (after).`,
    '',
    ...sections,
  ].join('\n');
  console.log(body);
  const path = join(__dirname, '..', 'BENCHMARKS.md');
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const marker = '## Resampler';
  const start = existing.indexOf(marker);
  const generated = `${marker}\n\n<!-- resample:generated: npm run bench:resample rewrites this block -->\n${body}\n<!-- resample:end -->\n`;
  let next: string;
  if (start < 0) {
    next = `${existing.trimEnd()}\n\n${generated}`;
  } else {
    const gStart = existing.indexOf('<!-- resample:generated', start);
    const gEnd = existing.indexOf('<!-- resample:end -->', start);
    next =
      gStart >= 0 && gEnd >= 0
        ? `${existing.slice(0, gStart)}${generated.slice(generated.indexOf('<!-- resample:generated'))}${existing.slice(gEnd + '<!-- resample:end -->\n'.length)}`
        : `${existing.slice(0, start)}${generated}${existing.slice(start + marker.length)}`;
  }
  writeFileSync(path, next);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
