import type { TimelineEntry } from './acs/timeline.js';
import type { CallAnalysis } from './call-analysis.js';

export interface CallReportInput {
  title: string;
  sampleRateHz: number;
  /** What the caller said, starting at `callerStartMs` on the timeline clock. */
  caller: Int16Array;
  callerStartMs: number;
  /** What the caller heard, starting at `agentStartMs` (silence where nothing played). */
  agent: Int16Array;
  agentStartMs: number;
  timeline: readonly TimelineEntry[];
  analysis: CallAnalysis;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Peak envelope of samples in `columns` buckets, 0..1. */
function envelope(samples: Int16Array, startMs: number, sampleRateHz: number, totalMs: number, columns: number): number[] {
  const out = new Array<number>(columns).fill(0);
  for (let i = 0; i < samples.length; i += 8) {
    const ms = startMs + (i / sampleRateHz) * 1000;
    const column = Math.floor((ms / totalMs) * columns);
    if (column < 0 || column >= columns) continue;
    out[column] = Math.max(out[column]!, Math.abs(samples[i]!) / 32768);
  }
  return out;
}

const MARKED = new Set(['CallConnected', 'MediaStreamingStarted', 'CallDisconnected', 'agent-audio', 'StopAudio', 'input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'barge-in']);

const LABEL_ROWS = 4;
const LABEL_ROW_PX = 13;
/** Wider than a system-ui character at 10 px: a label's room is never underestimated, so labels cannot overlap. */
const LABEL_CHAR_PX = 6.4;
const LABEL_GAP_PX = 6;
const LABEL_OFFSET_PX = 2;
/** Every label keeps room for a count (" +999") of the events folded into it. */
const COUNT_ROOM_PX = 5 * LABEL_CHAR_PX;

interface MarkerLabel {
  xPx: number;
  anchor: 'start' | 'end';
  row: number;
  events: TimelineEntry[];
}

const markerName = (e: TimelineEntry) => e.type.replace('input_audio_buffer.', '');

/**
 * Labels in at most LABEL_ROWS rows, each in the first row where it does not overlap the label before it. An event
 * with no free row (a burst: the call's first events land within milliseconds) is folded into the latest label,
 * which then says how many more it stands for. A label that would pass the right edge ends at its marker instead.
 */
function layoutMarkerLabels(events: readonly TimelineEntry[], xPxOf: (ms: number) => number, widthPx: number): MarkerLabel[] {
  const rowEndsPx = new Array<number>(LABEL_ROWS).fill(-Infinity);
  const labels: MarkerLabel[] = [];
  for (const e of events) {
    const xPx = xPxOf(e.atMs);
    const roomPx = LABEL_OFFSET_PX + markerName(e).length * LABEL_CHAR_PX + COUNT_ROOM_PX;
    const anchor = xPx + roomPx <= widthPx ? 'start' : 'end';
    const [leftPx, rightPx] = anchor === 'start' ? [xPx, xPx + roomPx] : [xPx - roomPx, xPx];
    const row = rowEndsPx.findIndex((endPx) => endPx + LABEL_GAP_PX <= leftPx);
    const latest = labels.at(-1);
    if (row === -1 && latest) {
      latest.events.push(e);
      continue;
    }
    rowEndsPx[Math.max(row, 0)] = rightPx;
    labels.push({ xPx, anchor, row: Math.max(row, 0), events: [e] });
  }
  return labels;
}

const markerColour = (e: TimelineEntry) =>
  e.type === 'StopAudio' || e.type === 'barge-in' ? '#cf222e' : e.source === 'callback' ? '#8250df' : e.type === 'agent-audio' ? '#0550ae' : '#57606a';

/** One self-contained HTML page: waveforms of both directions on one time axis, the events, the figures. */
export function renderCallReport(input: CallReportInput): string {
  const width = 1000;
  const rowHeight = 70;
  const last = input.timeline.at(-1)?.atMs ?? 0;
  const totalMs = Math.max(last, input.callerStartMs + (input.caller.length / input.sampleRateHz) * 1000, input.agentStartMs + (input.agent.length / input.sampleRateHz) * 1000, 1000);
  const x = (ms: number) => ((ms / totalMs) * width).toFixed(1);
  const wave = (samples: Int16Array, startMs: number, top: number, colour: string) => {
    const env = envelope(samples, startMs, input.sampleRateHz, totalMs, width);
    const mid = top + rowHeight / 2;
    const path = env.map((v, i) => `M${i} ${(mid - v * (rowHeight / 2 - 2)).toFixed(1)}V${(mid + v * (rowHeight / 2 - 2)).toFixed(1)}`).join('');
    return `<path d="${path}" stroke="${colour}" stroke-width="1"/>`;
  };
  const labelsTopPx = 2 * rowHeight + 24;
  const labels = layoutMarkerLabels(
    input.timeline.filter((e) => MARKED.has(e.type)),
    (ms) => (ms / totalMs) * width,
    width,
  );
  const markers = labels
    .map((label) => {
      const y = labelsTopPx + label.row * LABEL_ROW_PX;
      const lines = label.events
        .map((e) => `<line x1="${x(e.atMs)}" x2="${x(e.atMs)}" y1="0" y2="${y - 9}" stroke="${markerColour(e)}" stroke-opacity=".45"/>`)
        .join('');
      const first = label.events[0]!;
      const more = label.events.length > 1 ? ` +${label.events.length - 1}` : '';
      const textX = label.anchor === 'start' ? label.xPx + LABEL_OFFSET_PX : label.xPx - LABEL_OFFSET_PX;
      const title = label.events.map((e) => `${(e.atMs / 1000).toFixed(3)} s ${e.type}`).join('\n');
      return `${lines}<text class="marker" x="${textX.toFixed(1)}" y="${y}" text-anchor="${label.anchor}" fill="${markerColour(first)}"><title>${escape(title)}</title>${escape(markerName(first))}${more}</text>`;
    })
    .join('');
  const ticks = Array.from({ length: Math.floor(totalMs / 1000) + 1 }, (_, s) => {
    const anchor = s > 0 && ((s * 1000) / totalMs) * width > width - 20 ? ' text-anchor="end"' : '';
    return `<text x="${x(s * 1000)}" y="${2 * rowHeight + 12}" fill="#8c959f"${anchor}>${s}s</text>`;
  }).join('');
  const height = labelsTopPx + LABEL_ROWS * LABEL_ROW_PX + 8;
  const svg = `<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" font-size="10" font-family="system-ui,sans-serif">
<rect width="${width}" height="${2 * rowHeight}" fill="#f6f8fa"/>${wave(input.caller, input.callerStartMs, 0, '#1a7f37')}${wave(input.agent, input.agentStartMs, rowHeight, '#0550ae')}
<text x="4" y="12" fill="#1a7f37">caller said</text><text x="4" y="${rowHeight + 12}" fill="#0550ae">caller heard (agent)</text>${ticks}${markers}</svg></div>`;

  const fmt = (v: number | undefined) => (v === undefined ? '–' : `${v} ms`);
  const at = (v: number | undefined) => (v === undefined ? '–' : `${(v / 1000).toFixed(3)} s`);
  const turns = input.analysis.turns
    .map((t) => `<tr><td>${t.turn}</td><td>${at(t.speechEndedAtMs)}</td><td><b>${fmt(t.firstAudioMs)}</b></td><td>${at(t.vadEndedAtMs)}</td><td>${fmt(t.firstAudioAfterVadMs)}</td></tr>`)
    .join('');
  const bargeIns = input.analysis.bargeIns.map((b) => `<tr><td>${(b.atMs / 1000).toFixed(3)} s</td><td>${fmt(b.detectMs)}</td><td>${fmt(b.reactionMs)}</td><td>${fmt(b.droppedMs)}</td></tr>`).join('');
  const rows = input.timeline
    .map((e) => `<tr><td class="t">${(e.atMs / 1000).toFixed(3)}</td><td>${e.source}</td><td>${escape(e.type).replaceAll('.', '.<wbr>')}</td><td class="detail">${escape(e.detail ? JSON.stringify(e.detail) : '')}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(input.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:1100px;margin:1rem auto;padding:0 1rem;color:#1b1f24}table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}section{display:flex;gap:0 3rem;flex-wrap:wrap}section>div{min-width:0}
.chart,.scroll{overflow-x:auto;max-width:100%}.chart svg{display:block;min-width:860px}td.t{white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums}td.detail{overflow-wrap:anywhere}.scroll td{white-space:nowrap}.scroll th{min-width:6rem}</style></head>
<body><h1>${escape(input.title)}</h1>${svg}
<section><div><h2>Time to first agent audio</h2><div class="scroll"><table><tr><th>turn</th><th>caller stopped speaking</th><th>first audio after (what the caller waits)</th><th>VAD speech_stopped</th><th>first audio after speech_stopped (VAD-based)</th></tr>${turns}</table></div>
<p>The greeting is measured from media start. A caller turn from the real end of the caller's speech (the last speech frame sent); the VAD-based figure leaves out the silence Voice Live waits for before it ends the turn.</p></div>
<div><h2>Barge-ins</h2><div class="scroll"><table><tr><th>at</th><th>onset → detected</th><th>onset → StopAudio</th><th>unplayed</th></tr>${bargeIns || '<tr><td colspan="4">none</td></tr>'}</table></div></div></section>
<h2>Timeline</h2><table class="timeline"><tr><th>s</th><th>source</th><th>event</th><th>detail</th></tr>${rows}</table></body></html>`;
}
