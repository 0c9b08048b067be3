import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { logger: createLogger({ component: 'test', destination: stream }), lines };
}

describe('createLogger', () => {
  it('masks phone numbers in the message', () => {
    const { logger, lines } = capture();
    logger.info('call from +14255550123');
    expect(JSON.stringify(lines)).not.toContain('4255550123');
  });

  it('masks phone numbers inside logged fields, nested objects, arrays and errors (messages from the wire)', () => {
    const { logger, lines } = capture();
    logger.warn(
      {
        err: { message: 'Invalid target 4:+14255550123' },
        error: 'transfer to +442071234567 refused',
        reasons: ['caller +33612345678 hung up'],
        cause: new Error('participant +4915112345678 not found'),
      },
      'transfer request refused',
    );
    const text = JSON.stringify(lines);
    for (const digits of ['4255550123', '442071234567', '33612345678', '4915112345678']) expect(text).not.toContain(digits);
    expect(text).toContain('transfer request refused');
    expect(text).toContain('not found');
  });

  it('leaves call ids, numbers and secrets redaction as they were', () => {
    const { logger, lines } = capture();
    logger.info({ callId: '12345678-1234-4234-8234-123456789012', durationMs: 1234567, apiKey: { x: 1 }, config: { apiKey: 'k' } }, 'ok');
    expect(lines[0]).toMatchObject({ callId: '12345678-1234-4234-8234-123456789012', durationMs: 1234567, config: { apiKey: '[redacted]' } });
  });
});
