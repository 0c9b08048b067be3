import type { TokenPrices } from '../../shared/config/call-control.js';
import {
  type CallRecording,
  RECORDING_STATES,
  MAX_LISTED_FAILED_RESPONSES,
  buildCallRecord,
  fitCallRecord,
  type CallOutcomeKind,
  type CallRecord,
  type FailedResponses,
  type Usage,
} from '../../shared/call-record.js';
import { boundText, MAX_REASON_CHARS, MAX_TOOL_NAME_CHARS, MAX_TRANSCRIPT_ENTRY_CHARS } from '../../shared/bounded-text.js';
import { maskPhoneNumber } from '../../shared/privacy.js';
import { responseEnd, type ServerEvent } from '../voice-live/events.js';
import { addUsage, emptyUsage, priceCall } from './cost.js';

export interface CallRecordCollectorOptions {
  callId: string;
  /** The call's agent profile, if its line has one. */
  profile?: string;
  recordTranscripts: boolean;
  prices: TokenPrices;
  /** Wall clock (epoch ms); injected by tests. */
  now?: () => number;
}

export interface CallEndFacts {
  reason: string;
  framesIn: number;
  framesOut: number;
  bargeIns: number;
  voiceLiveReconnects: number;
  framesDropped: number;
  callConnectionId?: string | undefined;
}

interface Entry {
  role: 'caller' | 'agent';
  text: string;
  atMs: number;
  interrupted?: boolean;
  heardMs?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const MAX_TRANSCRIPT_ENTRIES = 2000;

/**
 * Gathers what one call's record says, from Voice Live events and call-control facts, and builds the
 * record at the end. Nothing here does I/O.
 */
export class CallRecordCollector {
  readonly usage: Usage = emptyUsage();
  private readonly now: () => number;
  private readonly startedAtMs: number;
  private from: string | undefined;
  private to: string | undefined;
  private outcome: { kind: CallOutcomeKind; reason: string } | undefined;
  private capReached: 'minutes' | 'tokens' | undefined;
  private readonly entries: Entry[] = [];
  private readonly callerSpeechAt = new Map<string, number>();
  private readonly agentEntries = new Map<string, Entry>();
  /** Agent items the caller spoke over, with the ms of them they heard. */
  private readonly interruptedItems = new Map<string, number>();
  private readonly turns: CallRecord['turns'] = [];
  private openTurn: { stoppedAtMs: number; index: number } | undefined;
  private readonly respondedResponses = new Set<string>();
  /** Responses dropped before the caller heard any of them (a reply to a voicemail greeting): not in the transcript. */
  private readonly droppedResponses = new Set<string>();
  private readonly tools: CallRecord['tools'] = [];
  private readonly failedResponses: FailedResponses = { count: 0, list: [] };
  private recording: CallRecording | undefined;
  private handoff: CallRecord['handoff'];
  private outbound: CallRecord['outbound'];
  /** The record of the media socket this call's socket replaced (same worker): merged in by build(). */
  private earlier: CallRecord | undefined;

  constructor(private readonly options: CallRecordCollectorOptions) {
    this.now = options.now ?? Date.now;
    this.startedAtMs = this.now();
  }

  setParties(from: string | undefined, to: string | undefined): void {
    if (from) this.from = maskPhoneNumber(from);
    if (to) this.to = maskPhoneNumber(to);
  }

  /** The first outcome set wins: what ended the call, not what followed from it. */
  setOutcome(kind: CallOutcomeKind, reason: string): void {
    this.outcome ??= { kind, reason: boundText(reason, MAX_REASON_CHARS) };
  }

  get recordingSoFar(): CallRecording | undefined {
    return this.recording;
  }

  get outcomeKind(): CallOutcomeKind | undefined {
    return this.outcome?.kind;
  }

  /** The reason and the agent's summary that went with an accepted transfer to a human. */
  setHandoff(handoff: { reason: string; summary?: string }): void {
    this.handoff = {
      reason: handoff.reason.slice(0, 500),
      ...(handoff.summary && this.options.recordTranscripts ? { summary: handoff.summary.slice(0, 2000) } : {}),
    };
  }

  /** What the Functions app reported of the call's recording (`recording.*` call events). */
  setRecording(update: CallRecording): void {
    this.recording = mergeRecording(this.recording, update);
  }

  /** What the outbound call's answer side has shown so far; fields given replace those known. */
  setOutbound(update: Partial<NonNullable<CallRecord['outbound']>>): void {
    this.outbound = { outcome: 'human', ...this.outbound, ...update };
  }

  /** When the call's first media socket started (epoch ms), if this record continues an earlier one. */
  get inheritedStartedAt(): number | undefined {
    return this.earlier ? Date.parse(this.earlier.startedAt) : undefined;
  }

  /** This part's outbound facts over those of the part it continues (a voicemail either recognised stays one). */
  get outboundSoFar(): CallRecord['outbound'] {
    const earlier = this.earlier?.outbound;
    if (!earlier || !this.outbound) return this.outbound ?? earlier;
    return { ...earlier, ...this.outbound, outcome: earlier.outcome === 'voicemail' ? 'voicemail' : this.outbound.outcome };
  }

  setCapReached(cap: 'minutes' | 'tokens'): void {
    this.capReached ??= cap;
  }

  addTool(use: { name: string; startedAtMs: number; durationMs: number; status: CallRecord['tools'][number]['status'] }): void {
    this.tools.push({ name: boundText(use.name, MAX_TOOL_NAME_CHARS), at: iso(use.startedAtMs), durationMs: Math.max(0, Math.round(use.durationMs)), status: use.status });
  }

  /** A response call control dropped unheard, at its start: it leaves no trace in the transcript or the turns. */
  onResponseDropped(responseId: string): void {
    this.droppedResponses.add(responseId);
  }

  onBargeIn(itemId: string, heardMs: number): void {
    const heard = Math.max(0, Math.round(heardMs));
    this.interruptedItems.set(itemId, heard);
    const entry = this.agentEntries.get(itemId);
    if (entry) Object.assign(entry, { interrupted: true, heardMs: heard });
  }

  onVoiceLiveEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'input_audio_buffer.speech_started':
        this.callerSpeechAt.set(event.item_id, this.now());
        break;
      case 'input_audio_buffer.speech_stopped':
        this.turns.push({ callerStoppedAt: iso(this.now()), timeToFirstAgentAudioMs: null });
        this.openTurn = { stoppedAtMs: this.now(), index: this.turns.length - 1 };
        break;
      case 'response.audio.delta':
        if (this.droppedResponses.has(event.response_id)) break;
        if (!this.respondedResponses.has(event.response_id)) {
          this.respondedResponses.add(event.response_id);
          if (this.openTurn) {
            this.turns[this.openTurn.index]!.timeToFirstAgentAudioMs = Math.max(0, Math.round(this.now() - this.openTurn.stoppedAtMs));
            this.openTurn = undefined;
          }
        }
        if (this.options.recordTranscripts && !this.agentEntries.has(event.item_id)) {
          const heardMs = this.interruptedItems.get(event.item_id);
          this.addEntry(event.item_id, { role: 'agent', text: '', atMs: this.now(), ...(heardMs !== undefined ? { interrupted: true, heardMs } : {}) });
        }
        break;
      case 'response.audio_transcript.done':
        if (this.options.recordTranscripts && !this.droppedResponses.has(event.response_id)) {
          const entry = this.agentEntries.get(event.item_id);
          if (entry) entry.text = event.transcript;
          else this.addEntry(event.item_id, { role: 'agent', text: event.transcript, atMs: this.now() });
        }
        break;
      case 'conversation.item.input_audio_transcription.completed':
        if (this.options.recordTranscripts && event.transcript.trim()) {
          const atMs = this.callerSpeechAt.get(event.item_id) ?? this.now();
          this.callerSpeechAt.delete(event.item_id);
          this.addEntry(undefined, { role: 'caller', text: event.transcript, atMs });
        }
        break;
      case 'response.done': {
        addUsage(this.usage, event.response.usage as Record<string, unknown> | null | undefined);
        const end = responseEnd(event.response);
        if (end.status === 'failed' || end.status === 'incomplete') {
          this.failedResponses.count++;
          if (this.failedResponses.list.length < MAX_LISTED_FAILED_RESPONSES) {
            this.failedResponses.list.push({ at: iso(this.now()), status: end.status, reason: end.reason ?? 'unknown' });
          }
        }
        break;
      }
      default:
        break;
    }
  }

  private addEntry(itemId: string | undefined, entry: Entry): void {
    if (this.entries.length >= MAX_TRANSCRIPT_ENTRIES) return;
    this.entries.push(entry);
    if (itemId) this.agentEntries.set(itemId, entry);
  }

  /** The record at the end of the call. */
  /**
   * Takes over the record of an earlier media socket of the same call (ACS reconnected the media stream, or
   * media was restarted to this worker), so the call still has one record: it starts when the first socket
   * started, lists both parts' transcript, turns and tools, and sums their counts, usage and cost.
   */
  inherit(earlier: CallRecord): void {
    this.earlier = this.earlier ? mergeCallRecords(this.earlier, earlier, this.options.prices) : earlier;
  }

  /** The record at the end of the call, cut to fit one queue message if it must be (`trimmed` then says how). */
  build(facts: CallEndFacts): CallRecord {
    const own = this.buildOwn(facts);
    return fitCallRecord(this.earlier ? mergeCallRecords(this.earlier, own, this.options.prices) : own);
  }

  private buildOwn(facts: CallEndFacts): CallRecord {
    const endedAtMs = Math.max(this.now(), this.startedAtMs);
    const durationMs = endedAtMs - this.startedAtMs;
    const outcome = this.outcome ?? outcomeFromReason(facts.reason);
    const transcript = this.options.recordTranscripts
      ? [...this.entries]
          .filter((e) => e.text.length > 0)
          .sort((a, b) => a.atMs - b.atMs)
          .map((e) => ({ role: e.role, text: boundText(e.text, MAX_TRANSCRIPT_ENTRY_CHARS), at: iso(e.atMs), ...(e.interrupted ? { interrupted: true, heardMs: e.heardMs ?? 0 } : {}) }))
      : null;
    return buildCallRecord({
      callId: this.options.callId,
      ...(this.options.profile ? { profile: this.options.profile } : {}),
      ...(facts.callConnectionId ? { callConnectionId: facts.callConnectionId } : {}),
      ...(this.from ? { from: this.from } : {}),
      ...(this.to ? { to: this.to } : {}),
      startedAt: iso(this.startedAtMs),
      endedAt: iso(endedAtMs),
      durationMs,
      outcome,
      transcript,
      turns: this.turns,
      tools: this.tools,
      bargeIns: facts.bargeIns,
      voiceLiveReconnects: facts.voiceLiveReconnects,
      framesIn: facts.framesIn,
      framesOut: facts.framesOut,
      framesDropped: facts.framesDropped,
      usage: { ...this.usage },
      cost: priceCall(this.usage, durationMs, this.options.prices),
      ...(this.capReached ? { capReached: this.capReached } : {}),
      failedResponses: { count: this.failedResponses.count, list: [...this.failedResponses.list] },
      ...(this.recording ? { recording: this.recording } : {}),
      ...(this.handoff ? { handoff: this.handoff } : {}),
      ...(this.outbound ? { outbound: this.outbound } : {}),
    });
  }
}

/** The further state wins (the events race: ACS's callback can overtake our own `recording.requested`); ids are kept. */
function mergeRecording(known: CallRecording | undefined, update: CallRecording | undefined): CallRecording | undefined {
  if (!known || !update) return known ?? update;
  const later = RECORDING_STATES.indexOf(update.state) >= RECORDING_STATES.indexOf(known.state) ? update : known;
  const recordingId = later.recordingId ?? known.recordingId ?? update.recordingId;
  return { ...later, ...(recordingId ? { recordingId } : {}) };
}

/**
 * One record from two parts of the same call, `earlier` first: `later` decides the outcome and the end; lists
 * are joined in time order; counts and usage are summed and priced at `prices` over the whole duration.
 */
export function mergeCallRecords(earlier: CallRecord, later: CallRecord, prices: TokenPrices): CallRecord {
  const [first, second] = Date.parse(earlier.startedAt) <= Date.parse(later.startedAt) ? [earlier, later] : [later, earlier];
  const startedAtMs = Date.parse(first.startedAt);
  const endedAtMs = Math.max(Date.parse(first.endedAt), Date.parse(second.endedAt));
  const byTime = <T extends { at: string }>(a: T[], b: T[]) => [...a, ...b].sort((x, y) => Date.parse(x.at) - Date.parse(y.at));
  const usage = { ...first.usage };
  for (const key of new Set([...Object.keys(usage), ...Object.keys(second.usage)]) as Set<keyof Usage>) usage[key] = (usage[key] ?? 0) + (second.usage[key] ?? 0);
  const durationMs = endedAtMs - startedAtMs;
  const cost = priceCall(usage, durationMs, prices);
  const callConnectionId = later.callConnectionId ?? earlier.callConnectionId;
  const profile = later.profile ?? earlier.profile;
  const from = later.from ?? earlier.from;
  const to = later.to ?? earlier.to;
  const capReached = later.capReached ?? earlier.capReached;
  const recording = mergeRecording(earlier.recording, later.recording);
  const handoff = later.handoff ?? earlier.handoff;
  // A voicemail recognised by either part stays a voicemail (the next worker starts out assuming a person).
  const outbound =
    earlier.outbound && later.outbound
      ? { ...earlier.outbound, ...later.outbound, outcome: earlier.outbound.outcome === 'voicemail' ? earlier.outbound.outcome : later.outbound.outcome }
      : (later.outbound ?? earlier.outbound);
  const trimmed =
    first.trimmed || second.trimmed
      ? {
          transcriptEntries: (first.trimmed?.transcriptEntries ?? 0) + (second.trimmed?.transcriptEntries ?? 0),
          turns: (first.trimmed?.turns ?? 0) + (second.trimmed?.turns ?? 0),
          tools: (first.trimmed?.tools ?? 0) + (second.trimmed?.tools ?? 0),
        }
      : undefined;
  const failedResponses =
    first.failedResponses || second.failedResponses
      ? {
          count: (first.failedResponses?.count ?? 0) + (second.failedResponses?.count ?? 0),
          list: byTime(first.failedResponses?.list ?? [], second.failedResponses?.list ?? []).slice(0, MAX_LISTED_FAILED_RESPONSES),
        }
      : undefined;
  return buildCallRecord({
    callId: later.callId,
    ...(profile ? { profile } : {}),
    ...(callConnectionId ? { callConnectionId } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    startedAt: iso(startedAtMs),
    endedAt: iso(endedAtMs),
    durationMs,
    outcome: later.outcome,
    transcript: first.transcript === null && second.transcript === null ? null : byTime(first.transcript ?? [], second.transcript ?? []),
    turns: [...first.turns, ...second.turns].sort((x, y) => Date.parse(x.callerStoppedAt) - Date.parse(y.callerStoppedAt)),
    tools: byTime(first.tools, second.tools),
    bargeIns: first.bargeIns + second.bargeIns,
    voiceLiveReconnects: first.voiceLiveReconnects + second.voiceLiveReconnects,
    framesIn: first.framesIn + second.framesIn,
    framesOut: first.framesOut + second.framesOut,
    framesDropped: first.framesDropped + second.framesDropped,
    usage,
    cost,
    ...(capReached ? { capReached } : {}),
    ...(failedResponses ? { failedResponses } : {}),
    ...(recording ? { recording } : {}),
    ...(handoff ? { handoff } : {}),
    ...(trimmed ? { trimmed } : {}),
    ...(outbound ? { outbound } : {}),
  });
}

/** When call control did not decide the outcome, the relay's end reason does. */
export function outcomeFromReason(reason: string): { kind: CallOutcomeKind; reason: string } {
  return { kind: reason.startsWith('ACS socket closed') ? 'caller_hung_up' : 'failed', reason: boundText(reason, MAX_END_REASON_CHARS) };
}

/** A relay end reason (an error's whole message, e.g. why authentication failed) is kept whole up to this. */
const MAX_END_REASON_CHARS = 4000;
