/** What happened in one call, with times relative to the moment the call was placed. */
export interface TimelineEntry {
  /** Milliseconds since the call was placed. */
  atMs: number;
  /** Who produced it: the ACS emulator, a callback delivery, the media socket, Voice Live, Service Bus. */
  source: 'acs' | 'eventgrid' | 'callback' | 'media' | 'voice-live' | 'bus' | 'caller';
  type: string;
  detail?: Record<string, unknown>;
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly listeners = new Set<(entry: TimelineEntry) => void>();

  constructor(
    readonly startedAtMs: number = performance.now(),
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(source: TimelineEntry['source'], type: string, detail?: Record<string, unknown>): TimelineEntry {
    const entry: TimelineEntry = { atMs: Math.round((this.now() - this.startedAtMs) * 10) / 10, source, type, ...(detail ? { detail } : {}) };
    this.entries.push(entry);
    for (const listener of this.listeners) listener(entry);
    return entry;
  }

  subscribe(listener: (entry: TimelineEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  elapsedMs(): number {
    return this.now() - this.startedAtMs;
  }

  /** Resolves with the first entry (already there or still to come) that matches. */
  waitFor(predicate: (entry: TimelineEntry) => boolean, timeoutMs = 10_000, description = 'timeline entry'): Promise<TimelineEntry> {
    const found = this.entries.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}; saw: ${this.entries.map((e) => `${e.source}:${e.type}`).join(', ')}`));
      }, timeoutMs);
      const unsubscribe = this.subscribe((entry) => {
        if (!predicate(entry)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(entry);
      });
    });
  }
}
