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
  const markers = input.timeline
    .filter((e) => MARKED.has(e.type))
    .map((e, i) => {
      const colour = e.type === 'StopAudio' || e.type === 'barge-in' ? '#cf222e' : e.source === 'callback' ? '#8250df' : e.type === 'agent-audio' ? '#0550ae' : '#57606a';
      const y = 2 * rowHeight + 24 + (i % 6) * 13;
      return `<line x1="${x(e.atMs)}" x2="${x(e.atMs)}" y1="0" y2="${y - 9}" stroke="${colour}" stroke-opacity=".45"/><text x="${x(e.atMs)}" y="${y}" fill="${colour}">${escape(e.type.replace('input_audio_buffer.', ''))}</text>`;
    })
    .join('');
  const ticks = Array.from({ length: Math.floor(totalMs / 1000) + 1 }, (_, s) => `<text x="${x(s * 1000)}" y="${2 * rowHeight + 12}" fill="#8c959f">${s}s</text>`).join('');
  const height = 2 * rowHeight + 24 + 6 * 13 + 8;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" font-size="10" font-family="system-ui,sans-serif">
<rect width="${width}" height="${2 * rowHeight}" fill="#f6f8fa"/>${wave(input.caller, input.callerStartMs, 0, '#1a7f37')}${wave(input.agent, input.agentStartMs, rowHeight, '#0550ae')}
<text x="4" y="12" fill="#1a7f37">caller said</text><text x="4" y="${rowHeight + 12}" fill="#0550ae">caller heard (agent)</text>${ticks}${markers}</svg>`;

  const fmt = (v: number | undefined) => (v === undefined ? '–' : `${v} ms`);
  const at = (v: number | undefined) => (v === undefined ? '–' : `${(v / 1000).toFixed(3)} s`);
  const turns = input.analysis.turns
    .map((t) => `<tr><td>${t.turn}</td><td>${at(t.speechEndedAtMs)}</td><td><b>${fmt(t.firstAudioMs)}</b></td><td>${at(t.vadEndedAtMs)}</td><td>${fmt(t.firstAudioAfterVadMs)}</td></tr>`)
    .join('');
  const bargeIns = input.analysis.bargeIns.map((b) => `<tr><td>${(b.atMs / 1000).toFixed(3)} s</td><td>${fmt(b.detectMs)}</td><td>${fmt(b.reactionMs)}</td><td>${fmt(b.droppedMs)}</td></tr>`).join('');
  const rows = input.timeline
    .map((e) => `<tr><td>${(e.atMs / 1000).toFixed(3)}</td><td>${e.source}</td><td>${escape(e.type)}</td><td>${escape(e.detail ? JSON.stringify(e.detail) : '')}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(input.title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:1100px;margin:1rem auto;padding:0 1rem;color:#1b1f24}table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:left}section{display:flex;gap:3rem;flex-wrap:wrap}</style></head>
<body><h1>${escape(input.title)}</h1>${svg}
<section><div><h2>Time to first agent audio</h2><table><tr><th>turn</th><th>caller stopped speaking</th><th>first audio after (what the caller waits)</th><th>VAD speech_stopped</th><th>first audio after speech_stopped (VAD-based)</th></tr>${turns}</table>
<p>The greeting is measured from media start. A caller turn from the real end of the caller's speech (the last speech frame sent); the VAD-based figure leaves out the silence Voice Live waits for before it ends the turn.</p></div>
<div><h2>Barge-ins</h2><table><tr><th>at</th><th>onset → detected</th><th>onset → StopAudio</th><th>unplayed</th></tr>${bargeIns || '<tr><td colspan="4">none</td></tr>'}</table></div></section>
<h2>Timeline</h2><table><tr><th>s</th><th>source</th><th>event</th><th>detail</th></tr>${rows}</table></body></html>`;
}
