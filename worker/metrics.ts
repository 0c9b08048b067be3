import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AcsAuthErrorCode } from '../shared/acs-auth.js';
import type { BadInputReason } from './acs-media.js';
import type { ResponseEnd } from './voice-live/events.js';

export type DropReason = BadInputReason | 'discarded_response' | 'voice_live_not_ready' | 'malformed_voice_live_event' | 'oversized';
/** The `reason` label of worker_upgrades_rejected_total; alert rules select on these values (infra/modules/alerts.bicep). */
export type UpgradeRefusalReason = AcsAuthErrorCode | 'unknown_path' | 'unknown_profile' | 'draining' | 'at_capacity';

/** The worker's Prometheus metrics, in a registry of its own (one per server, so tests don't share). */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly activeCalls = new Gauge({ name: 'worker_active_calls', help: 'Calls with an open ACS media socket', registers: [this.registry] });
  readonly callsTotal = new Counter({ name: 'worker_calls_total', help: 'Calls ended, by how they ended', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly framesIn = new Counter({ name: 'worker_acs_frames_in_total', help: 'ACS audio frames received', registers: [this.registry] });
  readonly framesOut = new Counter({ name: 'worker_acs_frames_out_total', help: 'Audio frames sent to ACS', registers: [this.registry] });
  readonly framesDropped = new Counter({
    name: 'worker_frames_dropped_total',
    help: 'Messages or frames dropped, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly bargeIns = new Counter({ name: 'worker_barge_ins_total', help: 'Times a caller interrupted the agent', registers: [this.registry] });
  readonly responses = new Counter({
    name: 'worker_responses_total',
    help: 'Voice Live responses ended (response.done), by status (completed, cancelled, failed, incomplete, other) and reason (a fixed set, else other; none when the service gave none)',
    labelNames: ['status', 'reason'] as const,
    registers: [this.registry],
  });
  readonly responseRetries = new Counter({
    name: 'worker_response_retries_total',
    help: 'Failed Voice Live responses asked for again (at most once in a row, a few times per call)',
    registers: [this.registry],
  });
  readonly voiceLiveReconnects = new Counter({
    name: 'worker_voice_live_reconnects_total',
    help: 'Voice Live sessions replaced after a drop or for renewal',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly voiceLiveAuthFailures = new Counter({
    name: 'worker_voice_live_auth_failures_total',
    help: 'Calls ended at once because no Microsoft Entra token could be had for Voice Live, or Voice Live refused the credential (401/403): settings, not load',
    registers: [this.registry],
  });
  readonly upgradesRejected = new Counter({
    name: 'worker_upgrades_rejected_total',
    help: 'Media WebSocket upgrades refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly relayLatency = new Histogram({
    name: 'worker_relay_latency_seconds',
    help: 'Time a frame spends in the worker (one frame in 32 is sampled): inbound = ACS message to Voice Live append; outbound = Voice Live delta to ACS frame (includes waiting for the playout lead)',
    labelNames: ['direction'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });
  readonly outboundAnswers = new Counter({
    name: 'worker_outbound_answers_total',
    help: 'Outbound calls the agent placed that were answered, at their end: who answered as the worker judged it (human, voicemail) and the voicemail message (left, none, cut; n/a for a person)',
    labelNames: ['outcome', 'voicemail_message'] as const,
    registers: [this.registry],
  });
  readonly voicemailRecognition = new Histogram({
    name: 'worker_voicemail_recognition_seconds',
    help: 'Outbound calls that reached a voicemail: from the answer (media started) to the model reporting the greeting (report_voicemail)',
    buckets: [1, 2, 3, 4, 6, 8, 12, 20, 30],
    registers: [this.registry],
  });
  /** Children resolved once: label lookups stay off the per-frame path. */
  readonly inboundLatency = this.relayLatency.labels('inbound');
  readonly outboundLatency = this.relayLatency.labels('outbound');

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  responseEnded(end: Pick<ResponseEnd, 'status' | 'reasonLabel'>): void {
    this.responses.labels(end.status, end.reasonLabel).inc();
  }

  dropped(reason: DropReason, count = 1): void {
    this.framesDropped.labels(reason).inc(count);
  }
}
