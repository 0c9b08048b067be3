import { pino, type Logger, type LoggerOptions } from 'pino';
import { maskPhoneNumbersIn } from './privacy.js';

export type { Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they appear. */
const redactedPaths = [
  '*.apiKey',
  '*.api_key',
  '*.accessKey',
  '*.connectionString',
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.password',
  '*.secret',
  'headers.authorization',
  'headers["api-key"]',
  'req.headers.authorization',
];

export interface CreateLoggerOptions {
  /** The component name on every line: `worker`, `functions`, `lab.acs`, ... */
  component: string;
  level?: LoggerOptions['level'];
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

/**
 * Structured JSON logger. Every call's logs come from `logger.child({ callId })`, so the call id is on
 * every line; phone numbers in messages are masked before they are written.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      base: { component: options.component },
      level: options.level ?? 'info',
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((arg) => (typeof arg === 'string' ? maskPhoneNumbersIn(arg) : arg));
          method.apply(this, masked as Parameters<typeof method>);
        },
      },
    },
    (options.destination ?? process.stdout) as pino.DestinationStream,
  );
}

/** A logger that writes nothing, for components built without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
