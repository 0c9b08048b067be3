import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { metrics } from '@opentelemetry/api';
import { flushAzureMonitor } from 'applicationinsights';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../shared/log.js';
import { setupTelemetry } from '../shared/telemetry.js';
import { exportPromMetrics } from './metrics-export.js';
import { WorkerMetrics } from './metrics.js';

/** What the exporter sends (`MetricData` envelopes carry one `MetricsData` point each). */
interface Envelope {
  name: string;
  iKey?: string;
  tags?: Record<string, string>;
  data: { baseType: string; baseData: { metrics?: { name: string; value: number; count?: number }[]; properties?: Record<string, string> } };
}

interface IngestionPeer {
  connectionString: string;
  /** PEM file of the peer's self-signed certificate, for `NODE_EXTRA_CA_CERTS`. */
  certificateFile: string;
  envelopes: Envelope[];
  /** The metric points received so far, one per envelope: name, value, custom dimensions. */
  points(): { name: string; value: number; dimensions: Record<string, string> }[];
  close(): Promise<void>;
}

/**
 * A local Application Insights ingestion endpoint: `POST /v2.1/track` with a JSON array of envelopes (gzipped or
 * not). Over TLS, because the exporter rewrites an `http://` IngestionEndpoint to `https://`; the certificate is
 * made by the openssl CLI for 127.0.0.1.
 */
async function startIngestionPeer(): Promise<IngestionPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'ingestion-'));
  const certificateFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certificateFile], { stdio: 'ignore' });
  const envelopes: Envelope[] = [];
  const server: Server = createServer({ cert: readFileSync(certificateFile), key: readFileSync(keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v2.1/track') {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
      const received = JSON.parse(text) as Envelope[];
      envelopes.push(...received);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: received.length, itemsAccepted: received.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${port}/`,
    certificateFile,
    envelopes,
    points: () =>
      envelopes
        .filter((e) => e.data.baseType === 'MetricData')
        .flatMap((e) => (e.data.baseData.metrics ?? []).map((m) => ({ name: m.name, value: m.value, dimensions: e.data.baseData.properties ?? {} }))),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Keeps the SDK offline: no live metrics or self-telemetry (statsbeat) connections to Azure. */
const offline = { APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true', APPLICATIONINSIGHTS_CONFIGURATION_CONTENT: '{"enableLiveMetrics":false}' };

function logCapture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { logger: createLogger({ component: 'test', destination: stream }), lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// Runs first, while this process has no OpenTelemetry provider: the exporting describe below installs one for good.
describe('without a connection string', () => {
  it('installs no meter provider, so an exported registry is never read', async () => {
    const stop = await setupTelemetry({ connectionString: undefined, roleName: 'worker' });
    let reads = 0;
    const registry = new Registry();
    new Gauge({ name: 'worker_probe', help: 'counts its reads', registers: [registry], collect: () => void reads++ });
    const exported = exportPromMetrics(registry, metrics.getMeter('worker'));
    await flushAzureMonitor();
    await stop();
    expect(exported.instrumentNames).toEqual(['worker_probe']);
    expect(reads).toBe(0);
  });
});

describe('worker metrics through the real Azure Monitor exporter', () => {
  let peer: IngestionPeer;
  let stopTelemetry: () => Promise<void>;
  const worker = new WorkerMetrics({ defaultMetrics: true });

  beforeAll(async () => {
    peer = await startIngestionPeer();
    Object.assign(process.env, offline);
    // Node 20 cannot add a CA at run time (NODE_EXTRA_CA_CERTS is read at start-up, as the process test below
    // does), so this test process, which runs this file alone, accepts the peer's self-signed certificate.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    stopTelemetry = await setupTelemetry({ connectionString: peer.connectionString, roleName: 'worker' });
    exportPromMetrics(worker.registry, metrics.getMeter('worker'));
  });
  afterAll(async () => {
    await stopTelemetry?.();
    await peer?.close();
    delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  });

  /** Flushes the SDK (collect + export) and returns the points of that export alone. */
  async function exportNow() {
    peer.envelopes.length = 0;
    await flushAzureMonitor();
    return peer.points();
  }

  it('sends counters, gauges and histogram count/sum as custom metrics under their prom names, labels as dimensions', async () => {
    worker.dropped('not_json', 3);
    worker.dropped('oversized');
    worker.bargeIns.inc(2);
    worker.activeCalls.set(4);
    worker.responseEnded({ status: 'failed', reasonLabel: 'server_error' });
    worker.inboundLatency.observe(0.002);
    worker.inboundLatency.observe(0.004);

    const points = await exportNow();
    expect(points).toContainEqual({ name: 'worker_frames_dropped_total', value: 3, dimensions: { reason: 'not_json' } });
    expect(points).toContainEqual({ name: 'worker_frames_dropped_total', value: 1, dimensions: { reason: 'oversized' } });
    expect(points).toContainEqual({ name: 'worker_barge_ins_total', value: 2, dimensions: {} });
    expect(points).toContainEqual({ name: 'worker_active_calls', value: 4, dimensions: {} });
    expect(points).toContainEqual({ name: 'worker_responses_total', value: 1, dimensions: { status: 'failed', reason: 'server_error' } });
    expect(points).toContainEqual({ name: 'worker_relay_latency_seconds_count', value: 2, dimensions: { direction: 'inbound' } });
    const sum = points.find((p) => p.name === 'worker_relay_latency_seconds_sum' && p.dimensions.direction === 'inbound');
    expect(sum?.value).toBeCloseTo(0.006, 9);
    expect(points.some((p) => p.name.endsWith('_bucket') || 'le' in p.dimensions)).toBe(false);

    const envelope = peer.envelopes.find((e) => e.data.baseData.metrics?.[0]?.name === 'worker_barge_ins_total');
    expect(envelope?.name).toBe('Microsoft.ApplicationInsights.Metric');
    expect(envelope?.tags?.['ai.cloud.role']).toBe('worker');
  });

  it('sends each counter as its increase since the previous export (Azure Monitor asks for delta temporality)', async () => {
    await exportNow();
    worker.dropped('not_json', 2);
    const points = await exportNow();
    expect(points).toContainEqual({ name: 'worker_frames_dropped_total', value: 2, dimensions: { reason: 'not_json' } });
    expect(points).toContainEqual({ name: 'worker_frames_dropped_total', value: 0, dimensions: { reason: 'oversized' } });
    expect(points).toContainEqual({ name: 'worker_barge_ins_total', value: 0, dimensions: {} });
    expect(points).toContainEqual({ name: 'worker_active_calls', value: 4, dimensions: {} });
  });

  it('sends the event-loop p99, computed afresh at each export by its sibling collector, and no other process metric', async () => {
    // A few of the delay monitor's 10 ms samples; the p99 gauge stays 0 until the lag collector sets it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const points = await exportNow();
    const p99 = points.find((p) => p.name === 'nodejs_eventloop_lag_p99_seconds');
    expect(p99?.value).toBeGreaterThan(0);
    expect(points.filter((p) => !p.name.startsWith('worker_')).map((p) => p.name)).toEqual(['nodejs_eventloop_lag_p99_seconds']);
  });

  it('reports a metric that cannot be read once, not at every export, and still exports the others', async () => {
    const { logger, lines } = logCapture();
    const registry = new Registry();
    new Gauge({ name: 'worker_test_broken', help: 'throws when read', registers: [registry], collect: () => { throw new Error('sensor gone'); } });
    const ok = new Counter({ name: 'worker_test_ok_total', help: 'fine', registers: [registry] });
    const exported = exportPromMetrics(registry, metrics.getMeter('worker-test'), { logger });
    ok.inc(5);
    const first = await exportNow();
    ok.inc();
    const second = await exportNow();
    exported.stop();
    expect(first).toContainEqual({ name: 'worker_test_ok_total', value: 5, dimensions: {} });
    expect(second).toContainEqual({ name: 'worker_test_ok_total', value: 1, dimensions: {} });
    expect([...first, ...second].some((p) => p.name === 'worker_test_broken')).toBe(false);
    const warnings = lines().filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ metric: 'worker_test_broken', err: { message: 'sensor gone' } });
  });
});

describe('the worker process', () => {
  it('with APPLICATIONINSIGHTS_CONNECTION_STRING set, sends its worker_* metrics to Application Insights (flushed at shutdown)', async () => {
    const peer = await startIngestionPeer();
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          HOST: '127.0.0.1',
          VOICE_LIVE_ENDPOINT: 'http://127.0.0.1:9',
          VOICE_LIVE_API_KEY: 'k',
          VOICE_LIVE_MODEL: 'gpt-realtime',
          MEDIA_AUTH: 'none',
          DRAIN_TIMEOUT_S: '5',
          APPLICATIONINSIGHTS_CONNECTION_STRING: peer.connectionString,
          NODE_EXTRA_CA_CERTS: peer.certificateFile,
          ...offline,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const start = Date.now();
      while (!/worker listening/.test(out)) {
        if (Date.now() - start > 30_000) throw new Error(`worker did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(out).toContain('worker metrics exported to Application Insights');
      const port = /"address":"127\.0\.0\.1:(\d+)"/.exec(out)![1];
      const refused = new WebSocket(`ws://127.0.0.1:${port}/not-a-media-path`);
      await new Promise((resolve) => refused.on('error', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const points = peer.points();
      expect(points).toContainEqual({ name: 'worker_upgrades_rejected_total', value: 1, dimensions: { reason: 'unknown_path' } });
      expect(points).toContainEqual({ name: 'worker_active_calls', value: 0, dimensions: {} });
    } finally {
      await peer.close();
    }
    // Starting a worker process with the Azure Monitor exporter loaded takes seconds on a loaded two-core machine.
  }, 45_000);
});
