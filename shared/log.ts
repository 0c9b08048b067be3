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
      formatters: { level: (label) => ({ level: label }), log: (fields) => maskStrings(fields, 0) as Record<string, unknown> },
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

/**
 * Fields carry text from the wire (ACS and Service Bus error messages, Voice Live errors) that can hold a
 * caller's number: every string in them is masked like the message, errors included.
 */
function maskStrings(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskPhoneNumbersIn(value);
  if (typeof value !== 'object' || value === null || depth > 8) return value;
  if (Array.isArray(value)) return value.map((item) => maskStrings(item, depth + 1));
  if (value instanceof Error) {
    const own: Record<string, unknown> = { ...value };
    return maskStrings({ ...own, type: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) }, depth + 1);
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  const masked: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) masked[key] = maskStrings(item, depth + 1);
  return masked;
}

/** A logger that writes nothing, for components built without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
