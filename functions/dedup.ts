/**
 * What this instance remembers about events it has handled, so a redelivery to the same instance does not
 * repeat side effects. Bounded in size and time: it is an optimisation in front of the guarantees that
 * hold across instances (ACS refusing a second answer, Service Bus duplicate detection).
 */
export interface RecentMapOptions {
  /** How long an entry is remembered. Event Grid retries for up to 24 h, but almost all within minutes. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export class RecentMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: RecentMapOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
    if (!(this.ttlMs > 0)) throw new RangeError('RecentMap: options.ttlMs must be positive');
    if (!(this.maxEntries > 0)) throw new RangeError('RecentMap: options.maxEntries must be positive');
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    // Map keeps insertion order: the first keys are the oldest.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Runs `work` for `key` only once no other work for the same key is running on this instance: a concurrent
 * duplicate delivery waits for the handling in progress, then runs and finds what that handling remembered,
 * rather than repeating its side effects alongside it. Several waiters go on one at a time, even when the
 * work they waited on failed.
 */
export async function runExclusively<T>(inFlight: Map<string, Promise<unknown>>, key: string, work: () => Promise<T>): Promise<T> {
  for (let running = inFlight.get(key); running; running = inFlight.get(key)) {
    await running.catch(() => undefined);
  }
  const started = work();
  inFlight.set(key, started);
  try {
    return await started;
  } finally {
    if (inFlight.get(key) === started) inFlight.delete(key);
  }
}
