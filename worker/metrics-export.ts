import type { Attributes, Meter, Observable, BatchObservableCallback } from '@opentelemetry/api';
import { Counter, Gauge, Histogram, Summary, type Registry } from 'prom-client';
import type { Logger } from '../shared/log.js';

export interface PromMetricsExportOptions {
  /** Which prom metrics are exported, by name. Default: {@link isExportedWorkerMetric}. */
  include?: (name: string) => boolean;
  /** Where a metric that cannot be read is reported (once per metric). */
  logger?: Logger;
}

export interface PromMetricsExport {
  /** The OpenTelemetry instrument names registered (a histogram gives `<name>_count` and `<name>_sum`). */
  readonly instrumentNames: readonly string[];
  /** Stops reading the registry at collections. */
  stop(): void;
}

/**
 * The worker's own metrics and the event-loop p99: CPU and memory already reach Application Insights as its
 * performance counters, and the other default metrics (heap spaces, GC buckets…) would be rows nobody reads.
 */
export function isExportedWorkerMetric(name: string): boolean {
  return name.startsWith('worker_') || name === 'nodejs_eventloop_lag_p99_seconds';
}

type Reading = { kind: 'value'; instrument: Observable } | { kind: 'count' | 'sum'; instrument: Observable };

/**
 * Mirrors a prom-client registry into OpenTelemetry observable instruments, read at each collection of the
 * meter's provider (with Azure Monitor: each export interval, and `flushAzureMonitor`). Names and descriptions
 * are the prom ones and labels become attributes, so a new metric in the registry is exported as it is.
 *
 * Counters are ObservableCounters observed with their cumulative prom value; the SDK turns them into whatever
 * temporality the exporter asks for (Azure Monitor asks for delta: each row is the increase over the interval).
 * Gauges are ObservableGauges. A histogram (or summary) gives `<name>_count` and `<name>_sum` counters, so a mean
 * over any window is sum/count. Its `_bucket` series are left out on purpose: Application Insights stores every
 * metric point as its own `customMetrics` row with no notion of buckets, so each `le` would be another row per
 * label set per interval (24 a minute for the relay latency alone) and a percentile would need hand-written
 * interpolation over cumulative buckets in KQL; where a tail matters, a gauge (the event-loop p99) reads better.
 *
 * The instruments are those of the metrics in the registry now; metrics registered later are not exported.
 */
export function exportPromMetrics(registry: Registry, meter: Meter, options: PromMetricsExportOptions = {}): PromMetricsExport {
  const include = options.include ?? isExportedWorkerMetric;
  const readings = new Map<string, Reading[]>();
  for (const metric of registry.getMetricsAsArray()) {
    const { name, help: description } = metric;
    if (!include(name)) continue;
    if (metric instanceof Counter) {
      readings.set(name, [{ kind: 'value', instrument: meter.createObservableCounter(name, { description }) }]);
    } else if (metric instanceof Gauge) {
      readings.set(name, [{ kind: 'value', instrument: meter.createObservableGauge(name, { description }) }]);
    } else if (metric instanceof Histogram || metric instanceof Summary) {
      readings.set(name, [
        { kind: 'count', instrument: meter.createObservableCounter(`${name}_count`, { description: `${description} (number of observations)` }) },
        { kind: 'sum', instrument: meter.createObservableCounter(`${name}_sum`, { description: `${description} (sum of observations)` }) },
      ]);
    }
  }

  const failed = new Set<string>();
  const callback: BatchObservableCallback = async (result) => {
    try {
      // Every metric is read, in registration order, as a scrape of /metrics does: some collectors set their
      // siblings' values (prom-client's event-loop-lag collector sets the p99 gauge, and resets its window).
      const metrics = registry.getMetricsAsArray();
      const settled = await Promise.allSettled(metrics.map(readPoints));
      settled.forEach((outcome, index) => {
        const name = metrics[index]!.name;
        const metricReadings = readings.get(name);
        if (!metricReadings) return;
        if (outcome.status === 'rejected') {
          reportOnce(name, outcome.reason);
          return;
        }
        for (const point of outcome.value) {
          const reading = metricReadings.find((r) => r.kind === 'value' || point.metricName === `${name}_${r.kind}`);
          if (reading && Number.isFinite(point.value)) result.observe(reading.instrument, point.value, withoutUndefined(point.labels));
        }
      });
    } catch (error) {
      reportOnce('(registry)', error);
    }
  };
  const observables = [...readings.values()].flat().map((r) => r.instrument);
  meter.addBatchObservableCallback(callback, observables);

  function reportOnce(metric: string, error: unknown): void {
    if (failed.has(metric)) return;
    failed.add(metric);
    options.logger?.warn({ metric, err: { message: error instanceof Error ? error.message : String(error) } }, 'metric not exported: reading it failed (reported once)');
  }

  return {
    instrumentNames: [...readings.entries()].flatMap(([name, rs]) => rs.map((r) => (r.kind === 'value' ? name : `${name}_${r.kind}`))),
    stop: () => meter.removeBatchObservableCallback(callback, observables),
  };
}

interface PromPoint {
  value: number;
  labels: Attributes;
  /** For a histogram or summary: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  metricName?: string;
}

/** prom-client's own read of a metric (its collect function, then its values), as a scrape of /metrics does. */
async function readPoints(metric: object): Promise<PromPoint[]> {
  if (metric instanceof Counter || metric instanceof Gauge || metric instanceof Histogram || metric instanceof Summary) {
    return (await metric.get()).values;
  }
  throw new Error('not a prom-client Counter, Gauge, Histogram or Summary');
}

function withoutUndefined(labels: Attributes): Attributes {
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(labels)) if (value !== undefined) attributes[key] = value;
  return attributes;
}
