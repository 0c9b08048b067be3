/** The outcome of one check of a dependency (a Voice Live session opened, a Service Bus link attached), or why not. */
export interface CheckResult {
  ok: boolean;
  /** ISO time the session was tried. */
  checkedAt: string;
  durationMs: number;
  /** Why it failed (the error's code and message; never a credential). */
  error?: string;
}

export interface CachedCheckOptions {
  /** Does the real thing once (opens a session, attaches a link) and cleans up; rejects with why it failed. */
  run: () => Promise<void>;
  /** How long a result is served before another session is opened. Default 60 s. */
  cacheMs?: number;
  nowMs?: () => number;
}

/**
 * A dependency check behind a public route (GET /readyz/voice-live and /readyz/service-bus on the worker, the Service Bus check of /api/health) that must not become a way
 * to load the dependency or burn Voice Live sessions: whatever the number of callers, the real check runs at most once
 * per `cacheMs` (one in flight; every caller in that window gets the same result).
 */
export class CachedCheck {
  private readonly cacheMs: number;
  private readonly nowMs: () => number;
  private last: { result: CheckResult; atMs: number } | undefined;
  private inFlight: Promise<CheckResult> | undefined;

  constructor(private readonly options: CachedCheckOptions) {
    this.cacheMs = options.cacheMs ?? 60_000;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** The cached result while it is fresh, else the result of one new session (shared by concurrent callers). */
  async check(): Promise<CheckResult & { cached: boolean; nextCheckInS: number }> {
    const now = this.nowMs();
    if (this.last && now - this.last.atMs < this.cacheMs) {
      return { ...this.last.result, cached: true, nextCheckInS: Math.ceil((this.last.atMs + this.cacheMs - now) / 1000) };
    }
    this.inFlight ??= this.run().finally(() => (this.inFlight = undefined));
    const result = await this.inFlight;
    return { ...result, cached: false, nextCheckInS: Math.ceil(this.cacheMs / 1000) };
  }

  private async run(): Promise<CheckResult> {
    const startedMs = this.nowMs();
    const checkedAt = new Date(startedMs).toISOString();
    let result: CheckResult;
    try {
      await this.options.run();
      result = { ok: true, checkedAt, durationMs: this.nowMs() - startedMs };
    } catch (error) {
      const code = typeof (error as { code?: unknown }).code === 'string' ? `${(error as { code: string }).code}: ` : '';
      result = { ok: false, checkedAt, durationMs: this.nowMs() - startedMs, error: `${code}${(error as Error).message ?? String(error)}` };
    }
    this.last = { result, atMs: this.nowMs() };
    return result;
  }
}
