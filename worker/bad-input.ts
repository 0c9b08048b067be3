import type { Logger } from '../shared/log.js';
import type { DropReason, WorkerMetrics } from './metrics.js';

/**
 * Counts malformed input of one call by reason (in metrics, at once) and warns about it at most once per
 * interval, with the counts since the last warning, so a flood of junk cannot flood the logs.
 */
export class BadInputReporter {
  private pending = new Map<DropReason, number>();
  private lastWarnAt = -Infinity;
  private readonly intervalMs: number;

  constructor(
    private readonly metrics: WorkerMetrics,
    private readonly logger: Logger,
    options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    if (options.now) this.now = options.now;
  }

  private now: () => number = () => performance.now();

  report(reason: DropReason, detail?: string): void {
    this.metrics.dropped(reason);
    this.pending.set(reason, (this.pending.get(reason) ?? 0) + 1);
    const now = this.now();
    if (now - this.lastWarnAt < this.intervalMs) return;
    this.lastWarnAt = now;
    const counts = Object.fromEntries(this.pending);
    this.pending = new Map();
    this.logger.warn({ dropped: counts, ...(detail ? { detail: detail.slice(0, 120) } : {}) }, `dropped bad input: ${reason}`);
  }
}
