import { cpus } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { tone } from '../lab/acs/outbound.js';
import { concat, silence } from '../lab/audio/signal.js';
import { startLab, type Lab } from '../lab/lab.js';
import type { CallRecord } from '../shared/call-record.js';

/**
 * `npm run bench:voicemail [-- --write]`: outbound calls answered by the lab's voicemail callee, through the whole lab
 * (POST /api/calls, the queue trigger, the ACS emulator, the worker with the production defaults of
 * OUTBOUND_VOICEMAIL_QUIET_MS, the Voice Live emulator). From each call's record: how long until the voicemail was
 * recognised, until the message started after the beep, and until the worker hung up. RUNS (default 5) calls.
 *
 * What the figures are: the pipeline's. The "model" is the echo agent's rule (a first turn of 3 s or more is a
 * mailbox), so recognition here is the greeting's first part plus the end-of-turn silence plus our own latency; the
 * real model's judgement time is not in it (docs/fidelity/voice-live.md). `--write` puts the table in BENCHMARKS.md.
 */
const RUNS = Number(process.env.RUNS ?? 5);
const FIRST_PART_MS = 3500;
const PAUSE_MS = 700;
const SECOND_PART_MS = 1200;
const BEEP_MS = 400;
const MESSAGE = 'Hello {name}, this is the clinic calling about your appointment tomorrow. Please call us back.';

function greeting(rateHz: number): Int16Array {
  return concat([tone(rateHz, 330, FIRST_PART_MS), silence(PAUSE_MS, rateHz), tone(rateHz, 380, SECOND_PART_MS)]);
}

interface Run {
  /** Media start → report_voicemail. */
  recognisedMs: number;
  /** End of the greeting's first part (the turn the rule judges) → report_voicemail: end of turn + pipeline. */
  afterFirstPartMs: number;
  /** End of the beep → the message's response started (the quiet wait + asking for it). */
  messageAfterBeepMs: number;
  /** Message start → hang-up (the lab message's audio, 0.62 s, played out). */
  hangUpAfterMessageMs: number;
  totalMs: number;
}

async function oneCall(lab: Lab, index: number): Promise<Run> {
  const to = `+1555010${9000 + index}`;
  lab.acs.outbound.script(to, { kind: 'voicemail', answerAfterMs: 100, greeting, beepMs: BEEP_MS, recordForMs: 30_000 });
  const response = await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify({ to, context: { name: 'Ada' } }) });
  if (response.status !== 202) throw new Error(`POST /api/calls answered ${response.status}: ${await response.text()}`);
  const { callId } = (await response.json()) as { callId: string };
  const deadline = Date.now() + 60_000;
  let record: CallRecord | undefined;
  while (!record && Date.now() < deadline) {
    record = lab.serviceBus.messages('call-records').find((m) => (m.body as { callId?: string }).callId === callId)?.body as CallRecord | undefined;
    if (!record) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const outbound = record?.outbound;
  if (!outbound || outbound.outcome !== 'voicemail' || outbound.voicemailMessage !== 'left') throw new Error(`call ${index}: no voicemail left (${JSON.stringify(outbound)})`);
  const { recognisedMs = 0, messageStartedMs = 0, hungUpMs = 0 } = outbound;
  // The greeting starts as media flows, which is where the record's times start (within a few ms in one process).
  const beepEndMs = FIRST_PART_MS + PAUSE_MS + SECOND_PART_MS + BEEP_MS;
  return {
    recognisedMs,
    afterFirstPartMs: recognisedMs - FIRST_PART_MS,
    messageAfterBeepMs: messageStartedMs - beepEndMs,
    hangUpAfterMessageMs: hungUpMs - messageStartedMs,
    totalMs: hungUpMs,
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

async function main(): Promise<void> {
  const lab = await startLab({ logLevel: 'silent', workerEnv: { OUTBOUND_VOICEMAIL_MESSAGE: MESSAGE } });
  const runs: Run[] = [];
  try {
    for (let i = 0; i < RUNS; i++) runs.push(await oneCall(lab, i));
  } finally {
    await lab.close();
  }
  const rows: [string, keyof Run, string][] = [
    ['answered → voicemail recognised', 'recognisedMs', "the greeting's first part (3.5 s) + end of turn + tool call"],
    ['end of first greeting part → recognised', 'afterFirstPartMs', 'end-of-turn silence (500 ms) + the tool call reaching the worker'],
    ['end of beep → message starts', 'messageAfterBeepMs', 'OUTBOUND_VOICEMAIL_QUIET_MS (1500 ms default) + the message response starting'],
    ['message starts → hung up', 'hangUpAfterMessageMs', "the lab's message audio (0.62 s) played out + the hang-up request"],
    ['answered → hung up', 'totalMs', 'the whole voicemail, greeting 5.8 s included'],
  ];
  const table = [
    '| step | median | p95 | what sets it |',
    '|---|---:|---:|---|',
    ...rows.map(([name, key, why]) => {
      const values = runs.map((r) => r[key]);
      return `| ${name} | ${percentile(values, 50)} ms | ${percentile(values, 95)} ms | ${why} |`;
    }),
  ].join('\n');
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}`;
  process.stdout.write(`${RUNS} voicemail calls, ${machine}\n${table}\n`);
  if (process.argv.includes('--write')) writeSection(machine, table);
}

/** Replaces (or appends) the section of BENCHMARKS.md this benchmark owns. */
function writeSection(machine: string, table: string): void {
  const heading = '## Voicemail: how long an outbound call takes to recognise one and leave the message';
  const section = [
    heading,
    '',
    `\`npm run bench:voicemail\`, ${new Date().toISOString().slice(0, 10)}, ${machine}; ${RUNS} outbound calls through the whole lab to the`,
    "voicemail callee (a greeting of 3.5 s, 0.7 s pause, 1.2 s, then a 0.4 s beep), the worker's defaults",
    '(`OUTBOUND_VOICEMAIL_QUIET_MS` 1500). Times from the call record (`outbound`), from the media start. The "model" is the',
    "echo agent's rule (a first turn of 3 s or more), so recognition here is the pipeline's time, not a real model's",
    '(docs/fidelity/voice-live.md).',
    '',
    table,
    '',
  ].join('\n');
  const text = readFileSync('BENCHMARKS.md', 'utf8');
  const start = text.indexOf(heading);
  if (start < 0) return writeFileSync('BENCHMARKS.md', `${text.trimEnd()}\n\n${section}`);
  const next = text.indexOf('\n## ', start + heading.length);
  writeFileSync('BENCHMARKS.md', `${text.slice(0, start)}${section}${next < 0 ? '' : text.slice(next + 1)}`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench:voicemail failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
