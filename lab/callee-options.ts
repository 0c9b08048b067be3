import { UsageError } from './config.js';

/** What the command-line callee does when a call rings it. Times in ms. */
export type CalleePlan =
  | { kind: 'human'; answerAfterMs: number; play: string | undefined; hangUpAfterMs: number | undefined }
  | { kind: 'voicemail'; answerAfterMs: number; greeting: string; recordForMs: number }
  | { kind: 'busy' }
  | { kind: 'decline'; afterMs: number }
  | { kind: 'noAnswer' };

export interface CalleeOptions {
  plan: CalleePlan;
  /** The lab's ACS emulator (default from LAB_HOST / LAB_ACS_PORT, as `npm start`). */
  lab: string | undefined;
  /** The number to answer on; default the next free lab number. */
  number: string | undefined;
  out: string | undefined;
}

export const CALLEE_USAGE = `usage: npm run call -- --answer [--lab http://127.0.0.1:7080] [--number +15550120001] [what the callee does] [--out heard.wav]
A callee for outbound calls, against a running lab (npm start): registers a number and an ACS user id with the lab's
ACS emulator, waits for one call to either (POST /api/calls, npm run calls), does what it is told, prints what
happens, and exits when the call is over.
  --answer-after 2s [--play hello.wav] [--hang-up-after 30s]
                         a person (the default): picks up after 2 s (default 1 s) and says hello.wav (16-bit PCM WAV;
                         default "Hello?" spoken offline), then hangs up once the agent has been quiet 3 s after it, or
                         --hang-up-after the answer
  --voicemail greeting.wav [--answer-after 2s] [--record-for 10s]
                         a mailbox: plays the greeting and a beep, records for 10 s (default), hangs up
  --no-answer            lets it ring until the lab gives up
  --busy                 busy at once
  --decline [--answer-after 2s]   declines after ringing 2 s (default 1 s)`;

const VALUED = ['--lab', '--number', '--answer-after', '--play', '--hang-up-after', '--voicemail', '--record-for', '--out'] as const;
const SWITCHES = ['--answer', '--no-answer', '--busy', '--decline'] as const;

/** `2s`, `1.5s`, `1500ms`. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|ms)$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag}: "${text.slice(0, 20)}" is not a duration such as 2s or 1500ms`);
  const ms = Math.round(Number(match[1]) * (match[2] === 's' ? 1000 : 1));
  if (ms > 3_600_000) throw new UsageError(`${flag}: at most 1 hour`);
  return ms;
}

export function parseCalleeArgs(argv: readonly string[]): CalleeOptions {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if ((SWITCHES as readonly string[]).includes(flag)) {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
      switches.add(flag);
    } else if ((VALUED as readonly string[]).includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`${flag} needs a value`);
      if (values.has(flag)) throw new UsageError(`${flag} given twice`);
      values.set(flag, value);
    } else {
      throw new UsageError(`unknown option ${flag} for --answer (known: ${[...SWITCHES, ...VALUED].join(', ')})`);
    }
  }
  if (!switches.has('--answer')) throw new UsageError('--answer is required to be a callee');

  const modes = [values.has('--voicemail') && '--voicemail', switches.has('--no-answer') && '--no-answer', switches.has('--busy') && '--busy', switches.has('--decline') && '--decline'].filter(
    (m): m is string => typeof m === 'string',
  );
  if (modes.length > 1) throw new UsageError(`choose one of ${modes.join(', ')}`);
  const mode = modes[0] ?? 'person';
  const allowed: Record<string, readonly string[]> = {
    person: ['--answer-after', '--play', '--hang-up-after'],
    '--voicemail': ['--answer-after', '--voicemail', '--record-for'],
    '--no-answer': [],
    '--busy': [],
    '--decline': ['--answer-after'],
  };
  for (const flag of ['--answer-after', '--play', '--hang-up-after', '--record-for']) {
    if (values.has(flag) && !allowed[mode]!.includes(flag)) throw new UsageError(`${flag} does not go with ${mode === 'person' ? 'a person who answers' : mode}`);
  }
  const number = values.get('--number');
  if (number !== undefined && !/^\+\d{6,15}$/.test(number)) throw new UsageError('--number: must be an E.164 number such as +15550120001');
  const lab = values.get('--lab');
  if (lab !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(lab)) throw new UsageError(`--lab: "${lab.slice(0, 40)}" is not an address such as http://127.0.0.1:7080`);
  const after = (fallback: number) => (values.has('--answer-after') ? parseDuration('--answer-after', values.get('--answer-after')!) : fallback);

  let plan: CalleePlan;
  if (mode === '--voicemail') plan = { kind: 'voicemail', answerAfterMs: after(1000), greeting: values.get('--voicemail')!, recordForMs: values.has('--record-for') ? parseDuration('--record-for', values.get('--record-for')!) : 10_000 };
  else if (mode === '--no-answer') plan = { kind: 'noAnswer' };
  else if (mode === '--busy') plan = { kind: 'busy' };
  else if (mode === '--decline') plan = { kind: 'decline', afterMs: after(1000) };
  else plan = { kind: 'human', answerAfterMs: after(1000), play: values.get('--play'), hangUpAfterMs: values.has('--hang-up-after') ? parseDuration('--hang-up-after', values.get('--hang-up-after')!) : undefined };
  return { plan, lab: lab?.replace(/\/$/, ''), number, out: values.get('--out') };
}
