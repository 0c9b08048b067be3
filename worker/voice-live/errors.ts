export type VoiceLiveErrorCode =
  | 'INVALID_OPTIONS'
  | 'UPGRADE_REJECTED'
  | 'CONNECTION_FAILED'
  | 'CONNECTION_TIMEOUT'
  | 'CONNECTION_CLOSED'
  | 'SESSION_UPDATE_REJECTED'
  | 'AUTH_TOKEN_FAILED'
  | 'ABORTED'
  | 'CLIENT_CLOSED';

/** Every failure of the Voice Live client, with a `code` and whether trying again can help. */
export class VoiceLiveError extends Error {
  readonly code: VoiceLiveErrorCode;
  readonly retryable: boolean;
  /** HTTP status of a refused upgrade. */
  readonly statusCode?: number;
  /** Body of a refused upgrade (truncated). */
  readonly body?: string;
  /** WebSocket close code. */
  readonly closeCode?: number;

  constructor(
    code: VoiceLiveErrorCode,
    message: string,
    details: { retryable?: boolean; statusCode?: number; body?: string; closeCode?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'VoiceLiveError';
    this.code = code;
    this.retryable = details.retryable ?? false;
    if (details.statusCode !== undefined) this.statusCode = details.statusCode;
    if (details.body !== undefined) this.body = details.body;
    if (details.closeCode !== undefined) this.closeCode = details.closeCode;
  }
}

/** Upgrade statuses worth retrying: throttling, timeouts and server faults. 401/403/404 mean bad config. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Close codes that mean the request itself is wrong, so a new session would fail the same way.
 * Voice Live documents no close codes; 1008 is "policy violation" and 4400-4499 mirror HTTP 4xx.
 */
export function isFatalCloseCode(code: number): boolean {
  return code === 1002 || code === 1003 || code === 1007 || code === 1008 || (code >= 4400 && code <= 4499) || code === 4001 || code === 4003;
}

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** Delay before retry `attempt` (1-based): exponential, capped, with jitter in [half, full]. */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponential = options.initialDelayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(options.maxDelayMs, exponential);
  return Math.round(capped / 2 + (capped / 2) * random());
}
