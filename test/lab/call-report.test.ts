import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { renderCallReport } from '../../lab/call-report.js';
import { analyseCall } from '../../lab/call-analysis.js';
import type { TimelineEntry } from '../../lab/acs/timeline.js';
import { concat, silence, tone } from '../../lab/audio/signal.js';
import { chromiumAvailable, DESKTOP, launchChromium, PHONE, warnWhenChromiumMissing } from './chromium.js';

warnWhenChromiumMissing('call report browser test');

/**
 * A call whose first events arrive within milliseconds of each other (as every call's do: CallConnected, media,
 * the greeting's first audio), a barge-in burst in the middle, and CallDisconnected as the very last event, so its
 * marker sits on the chart's right edge.
 */
function crowdedTimeline(): TimelineEntry[] {
  const at = (atMs: number, source: TimelineEntry['source'], type: string): TimelineEntry => ({ atMs, source, type });
  return [
    at(0, 'caller', 'dialled'),
    at(40, 'callback', 'CallConnected'),
    at(45, 'media', 'connected'),
    at(52, 'callback', 'MediaStreamingStarted'),
    at(60, 'media', 'agent-audio'),
    at(64, 'voice-live', 'input_audio_buffer.speech_started'),
    at(70, 'voice-live', 'input_audio_buffer.speech_stopped'),
    at(75, 'media', 'agent-audio'),
    at(81, 'voice-live', 'barge-in'),
    at(83, 'media', 'StopAudio'),
    at(90, 'voice-live', 'input_audio_buffer.speech_started'),
    at(96, 'media', 'agent-audio'),
    at(1800, 'voice-live', 'barge-in'),
    at(1801, 'voice-live', 'input_audio_buffer.speech_started'),
    at(1803, 'media', 'StopAudio'),
    at(2900, 'voice-live', 'input_audio_buffer.speech_stopped'),
    at(2910, 'media', 'agent-audio'),
    at(4000, 'callback', 'CallDisconnected'),
  ];
}

describe('the call report (npm run call) in headless Chromium', () => {
  it.runIf(!chromiumAvailable && process.env.CI === 'true')('has Chromium in CI (.ci/run installs it)', () => {
    expect.fail('/usr/bin/chromium is missing in CI');
  });

  describe.runIf(chromiumAvailable)('with events crowded at the start and one on the right edge', () => {
    let dir: string;
    let browser: BrowserContext;
    let page: Page;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'call-report-'));
      const rateHz = 16000;
      const timeline = crowdedTimeline();
      const html = renderCallReport({
        title: 'crowded call',
        sampleRateHz: rateHz,
        caller: concat([silence(1700, rateHz), tone({ frequencyHz: 400, durationMs: 800, sampleRateHz: rateHz, amplitude: 0.4 })]),
        callerStartMs: 45,
        agent: concat([tone({ frequencyHz: 300, durationMs: 1700, sampleRateHz: rateHz, amplitude: 0.3 }), silence(1200, rateHz), tone({ frequencyHz: 300, durationMs: 1000, sampleRateHz: rateHz, amplitude: 0.3 })]),
        agentStartMs: 60,
        timeline,
        analysis: analyseCall(timeline, [1750], [2550]),
      });
      writeFileSync(join(dir, 'report.html'), html);
      browser = await launchChromium(join(dir, 'profile'));
      page = await browser.newPage();
      await page.goto(`file://${join(dir, 'report.html')}`);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    interface Box { x: number; y: number; width: number; height: number }
    interface ChartLayout {
      chart: Box;
      texts: { text: string; box: Box }[];
      markers: { text: string; box: Box }[];
      markerLines: number;
      pageOverflowsPx: number;
    }
    // Browser code, hence a string: this project's TypeScript has no DOM types.
    const chartLayout = () =>
      page.evaluate<ChartLayout>(`(() => {
        const box = (el) => {
          const r = el.getBoundingClientRect();
          return { x: r.x, y: r.y, width: r.width, height: r.height };
        };
        const svg = document.querySelector('svg');
        const label = (t) => ({ text: t.textContent, box: box(t) });
        return {
          chart: box(svg),
          texts: [...svg.querySelectorAll('text')].map(label),
          markers: [...svg.querySelectorAll('text.marker')].map(label),
          markerLines: svg.querySelectorAll('line').length,
          pageOverflowsPx: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        };
      })()`);
    const inside = (inner: Box, outer: Box) =>
      inner.x >= outer.x - 0.5 && inner.y >= outer.y - 0.5 && inner.x + inner.width <= outer.x + outer.width + 0.5 && inner.y + inner.height <= outer.y + outer.height + 0.5;
    const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

    for (const [name, size] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
      it(`keeps every label, the last marker's included, inside the chart (${name}, ${size.width}×${size.height})`, async () => {
        await page.setViewportSize(size);
        const { chart, texts, markers } = await chartLayout();
        expect(markers.map((m) => m.text).join(' ')).toMatch(/CallDisconnected/);
        for (const t of texts) expect(inside(t.box, chart), `${t.text} ${JSON.stringify(t.box)} outside ${JSON.stringify(chart)}`).toBe(true);
      });

      it(`lays near-simultaneous markers out in a bounded number of rows, no label over another, each event still marked (${name})`, async () => {
        await page.setViewportSize(size);
        const { chart, markers, markerLines } = await chartLayout();
        const rows = new Set(markers.map((m) => Math.round(m.box.y)));
        expect(rows.size).toBeLessThanOrEqual(4);
        // The labels area: at most four 13-unit rows of 10-unit text (the chart is 1000 units wide), not a column
        // one row per event of the burst.
        const unitPx = chart.width / 1000;
        const labelsTop = Math.min(...markers.map((m) => m.box.y));
        const labelsBottom = Math.max(...markers.map((m) => m.box.y + m.box.height));
        expect(labelsBottom - labelsTop).toBeLessThanOrEqual(5 * 13 * unitPx);
        for (const [i, a] of markers.entries()) {
          for (const b of markers.slice(i + 1)) expect(overlap(a.box, b.box), `"${a.text}" overlaps "${b.text}"`).toBe(false);
        }
        // A burst is folded into one label with a count; its events keep their own marker lines.
        expect(markers.some((m) => /\+\d+$/.test(m.text))).toBe(true);
        expect(markerLines).toBe(crowdedTimeline().filter((e) => e.type !== 'dialled' && e.type !== 'connected').length);
      });

      it(`fits the page's width, wide tables scrolling inside their own box (${name})`, async () => {
        await page.setViewportSize(size);
        expect((await chartLayout()).pageOverflowsPx).toBeLessThanOrEqual(0);
      });
    }
  });
});
