/** The outcome of one Voice Live check: a session was opened with the worker's credential and configured, or why not. */
export interface VoiceLiveCheckResult {
  ok: boolean;
  /** ISO time the session was tried. */
  checkedAt: string;
  durationMs: number;
  /** Why it failed (the client's error code and message; never a credential). */
  error?: string;
}

export interface VoiceLiveReadinessOptions {
  /** Opens one Voice Live session as a call would, waits until it is configured, then closes it. */
  openSession: () => Promise<void>;
  /** How long a result is served before another session is opened. Default 60 s. */
  cacheMs?: number;
  nowMs?: () => number;
}

/**
 * GET /readyz/voice-live: can this replica open a Voice Live session with its own identity and configuration?
 * It must not become a way to burn sessions: whatever the number of callers, at most one session is opened per
 * `cacheMs` (one in flight, every caller in that minute gets the same result). The session carries no audio and
 * asks for no response, and is closed as soon as the service has accepted its configuration.
 */
export class VoiceLiveReadiness {
  private readonly cacheMs: number;
  private readonly nowMs: () => number;
  private last: { result: VoiceLiveCheckResult; atMs: number } | undefined;
  private inFlight: Promise<VoiceLiveCheckResult> | undefined;

  constructor(private readonly options: VoiceLiveReadinessOptions) {
    this.cacheMs = options.cacheMs ?? 60_000;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** The cached result while it is fresh, else the result of one new session (shared by concurrent callers). */
  async check(): Promise<VoiceLiveCheckResult & { cached: boolean; nextCheckInS: number }> {
    const now = this.nowMs();
    if (this.last && now - this.last.atMs < this.cacheMs) {
      return { ...this.last.result, cached: true, nextCheckInS: Math.ceil((this.last.atMs + this.cacheMs - now) / 1000) };
    }
    this.inFlight ??= this.run().finally(() => (this.inFlight = undefined));
    const result = await this.inFlight;
    return { ...result, cached: false, nextCheckInS: Math.ceil(this.cacheMs / 1000) };
  }

  private async run(): Promise<VoiceLiveCheckResult> {
    const startedMs = this.nowMs();
    const checkedAt = new Date(startedMs).toISOString();
    let result: VoiceLiveCheckResult;
    try {
      await this.options.openSession();
      result = { ok: true, checkedAt, durationMs: this.nowMs() - startedMs };
    } catch (error) {
      const code = typeof (error as { code?: unknown }).code === 'string' ? `${(error as { code: string }).code}: ` : '';
      result = { ok: false, checkedAt, durationMs: this.nowMs() - startedMs, error: `${code}${(error as Error).message ?? String(error)}` };
    }
    this.last = { result, atMs: this.nowMs() };
    return result;
  }
}
