import { writeFileSync } from 'node:fs';
import { ConfigError } from '../shared/config/env.js';
import { flagsToEnv, loadLabConfig, UsageError } from './config.js';
import { startLab } from './lab.js';
import { runScriptedCall } from './scripted-call.js';
import { formatTurnLatencies } from './call-analysis.js';
import { renderCallReport } from './call-report.js';
import { writeWav, type Pcm16Audio } from './audio/wav.js';
import { InputFileError, prepareOutputFile, readCallerRecording } from './input-file.js';
import { sampleCallerRecording } from './sample-caller.js';
import { parseDtmfSchedule, pressKeysOnSchedule, type KeyPress } from './dtmf-schedule.js';
import { CalleeRunError, runCallee } from './callee.js';
import { CALLEE_USAGE } from './callee-options.js';

const USAGE = `usage: npm run call [-- --audio caller.wav] [--out agent.wav] [--report reports/call-report.html] [--from +15550100001] [--audio-format pcm16KMono|pcm24KMono] [--dtmf "1@3.5s,0@9s"]
A scripted call through the local lab (no browser, no npm start needed: it starts its own lab): plays caller.wav
(16-bit PCM WAV; without --audio, a sample caller made offline with eSpeak NG) as the caller from the moment media
starts, records what the caller hears, prints the timeline, time to first agent audio per turn and barge-in reactions.
--dtmf presses keys (0-9 * #) at those times after media starts: the emulator sends them as DtmfData frames
(the lab answers with DTMF on); with the default DTMF_TRANSFER_KEY, 0 transfers the call.
With VOICE_LIVE_ENDPOINT (+ VOICE_LIVE_API_KEY or an Azure login) set, the agent is the real Voice Live.

${CALLEE_USAGE}`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // The other side of an outbound call: a callee against a running lab, not a caller through a lab of its own.
  if (argv.includes('--answer')) return runCallee(argv);
  let flags: Record<string, string>;
  let keyPresses: KeyPress[] = [];
  try {
    flags = flagsToEnv(argv, { '--audio': 'audio', '--out': 'out', '--report': 'report', '--from': 'from', '--audio-format': 'MEDIA_AUDIO_FORMAT', '--dtmf': 'dtmf' });
    keyPresses = flags.dtmf === undefined ? [] : parseDtmfSchedule(flags.dtmf);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const config = loadLabConfig({ ...process.env, ...(flags.MEDIA_AUDIO_FORMAT ? { MEDIA_AUDIO_FORMAT: flags.MEDIA_AUDIO_FORMAT } : {}), LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' });
  const outPath = flags.out === undefined ? undefined : prepareOutputFile(flags.out, '--out file');
  const reportPath = prepareOutputFile(flags.report ?? 'reports/call-report.html', 'report');
  let audio: Pcm16Audio;
  let callerLabel: string;
  if (flags.audio !== undefined) {
    audio = readCallerRecording(flags.audio);
    callerLabel = `caller: ${flags.audio}`;
  } else {
    const sample = await sampleCallerRecording();
    audio = sample;
    const samplePath = prepareOutputFile('reports/sample-caller.wav', 'sample recording');
    writeFileSync(samplePath, writeWav(sample));
    callerLabel = `caller: the sample recording (${sample.source === 'espeak-ng' ? `eSpeak NG: "${sample.turns.join('" … "')}"` : 'chimes: eSpeak NG could not run'}), saved as ${samplePath}; use --audio your.wav for your own`;
  }

  const lab = await startLab({ audioFormat: config.MEDIA_AUDIO_FORMAT, workerEnv: config.passThrough, logLevel: config.LOG_LEVEL });
  try {
    let cancelKeys = () => {};
    const placeCall = async (o?: Parameters<typeof lab.placeCall>[0]) => {
      const placed = await lab.placeCall(o);
      if (keyPresses.length) cancelKeys = pressKeysOnSchedule(placed, keyPresses);
      return placed;
    };
    const result = await runScriptedCall(placeCall, { caller: audio, ...(flags.from ? { from: flags.from } : {}) }).finally(() => cancelKeys());
    const { call, analysis } = result;
    await call.timeline.waitFor((e) => e.type === 'call.disconnected', 3000, 'call.disconnected on the bus').catch(() => undefined);

    const out: string[] = [`call ${call.callId} (${result.sampleRateHz} Hz, ${config.passThrough.VOICE_LIVE_ENDPOINT ? 'real Voice Live' : 'Voice Live emulator'})`, callerLabel, '', 'timeline'];
    for (const e of call.timeline.entries) {
      const detail = e.detail ? ` ${JSON.stringify(e.detail)}` : '';
      out.push(`  ${(e.atMs / 1000).toFixed(3).padStart(8)} s  ${e.source.padEnd(10)} ${e.type}${detail.length > 110 ? `${detail.slice(0, 110)}…` : detail}`);
    }
    out.push('', 'time to first agent audio');
    out.push(...formatTurnLatencies(analysis.turns));
    out.push('', 'barge-ins (caller speech onset → detected / → StopAudio, unplayed agent audio)');
    if (analysis.bargeIns.length === 0) out.push('  none');
    for (const b of analysis.bargeIns) out.push(`  at ${(b.atMs / 1000).toFixed(3)} s: ${b.detectMs ?? '?'} ms / ${b.reactionMs ?? '?'} ms, ${b.droppedMs ?? '?'} ms dropped`);

    if (outPath) {
      writeFileSync(outPath, writeWav({ sampleRateHz: result.sampleRateHz, samples: result.heard }));
      out.push('', `what the caller heard: ${outPath}`);
    }
    writeFileSync(
      reportPath,
      renderCallReport({
        title: `Call ${call.callId}`,
        sampleRateHz: result.sampleRateHz,
        caller: result.caller,
        callerStartMs: result.callerStartMs,
        agent: result.heard,
        agentStartMs: result.heardStartMs,
        timeline: call.timeline.entries,
        analysis,
      }),
    );
    out.push(`report: ${reportPath}`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await lab.close();
  }
}

main().catch((error: Error) => {
  if (error instanceof InputFileError || error instanceof UsageError) {
    process.stderr.write(`npm run call: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof CalleeRunError) {
    process.stderr.write(`npm run call: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(error instanceof ConfigError ? `${error.message}\n` : `call failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
