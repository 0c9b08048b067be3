import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readWav, WavFormatError, type Pcm16Audio } from './audio/wav.js';

/** A user's file the command cannot use: the message is one line that says what to do; the CLI exits 2. */
export class InputFileError extends Error {
  readonly code = 'INPUT_FILE';
  constructor(message: string) {
    super(message);
    this.name = 'InputFileError';
  }
}

const CONVERT_HINT = 'convert it with e.g. `ffmpeg -i in.m4a -ac 1 -ar 24000 -c:a pcm_s16le caller.wav`';

/** Reads a caller recording for a lab command: a 16-bit PCM WAV file with some audio in it. */
export function readCallerRecording(path: string): Pcm16Audio {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new InputFileError(`${path} is a directory, not a WAV file`);
    bytes = readFileSync(path);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFileError(
      code === 'ENOENT' ? `no such file: ${path}` : code === 'EACCES' ? `cannot read ${path}: permission denied` : `cannot read ${path}: ${(error as Error).message}`,
    );
  }
  let audio: Pcm16Audio;
  try {
    audio = readWav(bytes);
  } catch (error) {
    if (!(error instanceof WavFormatError)) throw error;
    const what = error.message === 'not a RIFF/WAVE file' ? 'is not a WAV file' : `is a WAV file this command cannot use (${error.message})`;
    throw new InputFileError(`${path} ${what}: the caller recording must be 16-bit PCM WAV; ${CONVERT_HINT}`);
  }
  if (audio.samples.length === 0) throw new InputFileError(`${path} holds no audio (its data chunk is empty)`);
  return audio;
}

/**
 * Checks, before any work, that a command can write `path` (creating its folder): a folder in the way, or one it may
 * not create, is the user's mistake and gets one line. Returns the absolute path.
 */
export function prepareOutputFile(path: string, what: string): string {
  const absolute = resolve(path);
  try {
    if (existsSync(absolute) && statSync(absolute).isDirectory()) throw new InputFileError(`${what} ${path} is a directory: give a file name`);
    mkdirSync(dirname(absolute), { recursive: true });
    accessSync(dirname(absolute), constants.W_OK);
    if (existsSync(absolute)) accessSync(absolute, constants.W_OK);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(`cannot write the ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return absolute;
}
