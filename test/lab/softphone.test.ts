import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startLab, type Lab } from '../../lab/lab.js';
import type { EmulatedCall } from '../../lab/acs/emulator.js';
import { startSoftphoneServer, type SoftphoneServer } from '../../lab/softphone/server.js';
import { writeWav } from '../../lab/audio/wav.js';
import { concat, silence, tone } from '../../lab/audio/signal.js';
import { CHROMIUM, chromiumAvailable as available, DESKTOP, fakeMicrophone, launchChromium, openPage, PHONE, warnWhenChromiumMissing } from './chromium.js';

warnWhenChromiumMissing('softphone browser test');

interface PageStats {
  state: string;
  callId: string | null;
  sampleRateHz: number | null;
  framesSent: number;
  framesReceived: number;
  playedMs: number;
  timeline: { source: string; type: string }[];
  transcript: { role: string; text: string }[];
  errors: string[];
  keysPressed: string[];
  turns: { turn: number; endOfSpeechToAgentAudioMs: number | null; vadStoppedToAgentAudioMs: number | null }[];
}

/** The softphone page in real headless Chromium, its microphone fed from a WAV file (tones with pauses). */
describe('the softphone page in headless Chromium', () => {
  it.runIf(!available && process.env.CI === 'true')('has Chromium in CI (.ci/run installs it)', () => {
    expect.fail(`${CHROMIUM} is missing in CI: .ci/run should have installed Debian's chromium`);
  });

  describe.runIf(available)('with a fake microphone', () => {
    let lab: Lab;
    let softphone: SoftphoneServer;
    let browser: BrowserContext;
    let page: Page;
    let dir: string;
    let placed: EmulatedCall | undefined;
    const consoleErrors: string[] = [];
    const stats = () => page.evaluate(() => (globalThis as unknown as { softphone: PageStats }).softphone);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'softphone-'));
      // Chromium loops the file: 2.5 s quiet (the greeting plays), 0.8 s of "speech", 2.5 s quiet.
      const rateHz = 48000;
      const wav = join(dir, 'caller.wav');
      writeFileSync(wav, writeWav({ sampleRateHz: rateHz, samples: concat([silence(2500, rateHz), tone({ frequencyHz: 350, durationMs: 800, sampleRateHz: rateHz, amplitude: 0.5 }), silence(2500, rateHz)]) }));
      lab = await startLab({ logLevel: 'silent' });
      softphone = await startSoftphoneServer({ placeCall: async (o) => (placed = await lab.placeCall(o)) });
      // A fresh profile per run (playwright takes it as launchPersistentContext's userDataDir, i.e. --user-data-dir).
      browser = await launchChromium(join(dir, 'profile'), fakeMicrophone(wav));
      page = await openPage(browser, softphone.url, consoleErrors);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await softphone?.close();
      await lab?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('names an icon the server has (the browser fetches it after every load; a 404 there is a console error)', async () => {
      // The browser's own icon request is not a page request playwright reports: the page fetches the same URL.
      const icon = await page.evaluate<{ status: number; type: string | null }>(
        `fetch(document.querySelector('link[rel~="icon"]').href).then((r) => ({ status: r.status, type: r.headers.get('content-type') }))`,
      );
      expect(icon).toEqual({ status: 200, type: 'image/x-icon' });
    });

    it('says what to do before the first call: click Call, and what the transcript and timeline will show', async () => {
      expect(await page.locator('#transcript-empty').isVisible()).toBe(true);
      expect(await page.locator('#transcript-empty').textContent()).toMatch(/Click Call/);
      expect(await page.locator('#timeline-empty').isVisible()).toBe(true);
    });

    it('fits a phone and a desktop window before the call: no sideways scrolling, every button whole on screen', async () => {
      for (const size of [PHONE, DESKTOP]) {
        await page.setViewportSize(size);
        const layout = await pageLayout(page);
        expect(layout.overflowPx, `${size.width}px wide`).toBeLessThanOrEqual(0);
        for (const button of layout.buttons) expect(button.right, `${button.text} at ${size.width}px`).toBeLessThanOrEqual(size.width);
      }
    });

    it('refuses a number that is not E.164 with a message beside the Call button, and stays ready to call', async () => {
      await page.fill('#to', '555-0100');
      await page.click('#call');
      await expect.poll(async () => (await stats()).errors, { timeout: 5000 }).toEqual([expect.stringMatching(/^to must be an E\.164 number/)]);
      expect((await stats()).state).toBe('idle');
      expect(await page.locator('#call').isEnabled()).toBe(true);
      // Seen without scrolling, even on a phone: the message sits under the controls, above the transcript.
      for (const size of [PHONE, DESKTOP]) {
        await page.setViewportSize(size);
        const error = (await page.locator('#error').boundingBox())!;
        expect(error.y + error.height, `${size.width}px`).toBeLessThanOrEqual(size.height);
        expect(error.y).toBeLessThan((await page.locator('#transcript').boundingBox())!.y);
      }
      await page.fill('#to', '');
    });

    it('places a call from and to the numbers typed in, with "Call", and gets connected with media at the call rate', async () => {
      await page.fill('#from', '+15550100042');
      await page.fill('#to', '+18005550123');
      await page.click('#call');
      await expect.poll(async () => (await stats()).state, { timeout: 15_000 }).toBe('connected');
      await expect.poll(async () => (await stats()).sampleRateHz, { timeout: 10_000 }).toBe(24000);
      const callId = (await stats()).callId!;
      expect(lab.acs.calls.get(callId)?.state).toBe('connected');
      expect(lab.acs.calls.get(callId)).toMatchObject({ from: '+15550100042', to: '+18005550123' });
    });

    it("receives and plays the agent's audio and shows the greeting in the transcript", async () => {
      await expect.poll(async () => (await stats()).framesReceived, { timeout: 15_000 }).toBeGreaterThan(25);
      await expect.poll(async () => (await stats()).playedMs, { timeout: 5000 }).toBeGreaterThan(400);
      await expect.poll(async () => (await stats()).transcript.filter((t) => t.role === 'agent').length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await page.locator('#transcript li.agent').first().textContent()).toMatch(/^Agent: \S/);
    });

    it("streams the microphone to the agent, whose turn detection hears the caller's speech", async () => {
      await expect.poll(async () => (await stats()).framesSent, { timeout: 10_000 }).toBeGreaterThan(50);
      await expect
        .poll(async () => (await stats()).timeline.some((e) => e.type === 'input_audio_buffer.speech_started'), { timeout: 15_000 })
        .toBe(true);
      const timeline = (await stats()).timeline.map((e) => `${e.source}:${e.type}`);
      expect(timeline).toEqual(expect.arrayContaining(['callback:CallConnected', 'callback:MediaStreamingStarted', 'media:agent-audio']));
      expect(await page.locator('#timeline tr').count()).toBeGreaterThan(5);
      expect(await page.locator('#timeline-empty').isVisible()).toBe(false);
      expect(await page.locator('#transcript-empty').isVisible()).toBe(false);
    });

    it('measures each turn from the real end of the caller\'s speech (mic level) to the first agent audio played, beside the later VAD-based figure', async () => {
      const measured = () => stats().then((s) => s.turns.filter((t) => t.endOfSpeechToAgentAudioMs !== null && t.vadStoppedToAgentAudioMs !== null));
      await expect.poll(async () => (await measured()).length, { timeout: 20_000 }).toBeGreaterThan(0);
      const [turn] = await measured();
      // speech_stopped comes a silence window after the speech really ended: the caller waits longer than VAD says.
      expect(turn!.endOfSpeechToAgentAudioMs!).toBeGreaterThan(turn!.vadStoppedToAgentAudioMs!);
      expect(await page.locator('#turns tr').count()).toBeGreaterThan(0);
      expect(await page.locator('#turns').textContent()).toMatch(/\d+ ms/);
    });

    it('keeps the timeline readable with a long detail present, at phone and desktop sizes: times on one line, the transcript column wide, the detail wrapped in its own cell', async () => {
      // A detail as long as the page shows one (140 characters, then "…") with no place to break, e.g. a URL.
      placed!.timeline.add('acs', 'long-detail', { transportUrl: `wss://worker.example.net/ws/${'a1b2c3d4'.repeat(30)}` });
      await expect.poll(async () => (await stats()).timeline.some((e) => e.type === 'long-detail'), { timeout: 5000 }).toBe(true);
      for (const size of [PHONE, DESKTOP]) {
        await page.setViewportSize(size);
        const layout = await pageLayout(page);
        const at = `${size.width}×${size.height}`;
        expect(layout.timeLines.length, at).toBeGreaterThan(5);
        expect(layout.timeLines.filter((t) => t.lines !== 1), `times on more than one line at ${at}`).toEqual([]);
        expect(layout.transcriptWidthPx, at).toBeGreaterThan(300);
        expect(layout.overflowPx, at).toBeLessThanOrEqual(0);
        const detail = layout.longDetail!;
        expect(detail.right, at).toBeLessThanOrEqual(layout.timelineRight + 0.5);
        expect(detail.right, at).toBeLessThanOrEqual(size.width);
        expect(detail.text).toMatch(/…$/);
        for (const button of layout.buttons) expect(button.right, `${button.text} at ${at}`).toBeLessThanOrEqual(size.width);
      }
      await page.setViewportSize(DESKTOP);
    });

    it('presses a key on the keypad: the emulator sends a DtmfData frame on the call\'s media socket', async () => {
      await page.click('#keypad button[data-key="5"]');
      const callId = (await stats()).callId!;
      await expect.poll(() => lab.acs.calls.get(callId)?.timeline.entries.filter((e) => e.type === 'DtmfData').map((e) => e.detail?.tone), { timeout: 5000 }).toEqual(['5']);
      expect((await stats()).keysPressed).toEqual(['5']);
      await expect.poll(async () => (await stats()).timeline.some((e) => e.source === 'media' && e.type === 'DtmfData'), { timeout: 5000 }).toBe(true);
    });

    it('hangs up with "Hang up": the call disconnects, the page shows it ended and the microphone meter falls to zero', async () => {
      const micLevel = () => page.evaluate<number>(`document.getElementById('mic-level').value`);
      // Hang up while the caller is talking (the WAV's tone), when the meter shows a level.
      await expect.poll(micLevel, { timeout: 15_000, interval: 20 }).toBeGreaterThan(0.05);
      await page.click('#hangup');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('ended');
      await expect.poll(async () => (await stats()).timeline.some((e) => e.type === 'CallDisconnected'), { timeout: 10_000 }).toBe(true);
      const callId = (await stats()).callId!;
      expect(lab.acs.calls.get(callId)?.state).toBe('disconnected');
      expect((await stats()).errors).toEqual([]);
      expect(await micLevel()).toBe(0);
    });

    it('logged no console error in the whole visit (the icon request at load time included)', () => {
      expect(consoleErrors).toEqual([]);
    });
  });
});

interface PageLayout {
  overflowPx: number;
  buttons: { text: string; right: number }[];
  timeLines: { text: string; lines: number }[];
  transcriptWidthPx: number;
  timelineRight: number;
  longDetail: { text: string; right: number } | undefined;
}

/** Measured in the page (browser code, hence a string: this project's TypeScript has no DOM types): boxes and line counts, not pixels. */
function pageLayout(page: Page): Promise<PageLayout> {
  return page.evaluate<PageLayout>(`(() => {
    const lineCount = (element) => {
      const range = document.createRange();
      range.selectNodeContents(element);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    };
    const root = document.documentElement;
    const detailCell = [...document.querySelectorAll('#timeline tr')].find((row) => row.textContent.includes('long-detail'))?.querySelector('td.detail');
    return {
      overflowPx: root.scrollWidth - root.clientWidth,
      buttons: [...document.querySelectorAll('button')].map((b) => ({ text: b.textContent, right: b.getBoundingClientRect().right })),
      timeLines: [...document.querySelectorAll('#timeline td.t')].map((td) => ({ text: td.textContent, lines: lineCount(td) })),
      transcriptWidthPx: document.getElementById('transcript').parentElement.getBoundingClientRect().width,
      timelineRight: document.getElementById('timeline').getBoundingClientRect().right,
      longDetail: detailCell ? { text: detailCell.textContent, right: detailCell.getBoundingClientRect().right } : undefined,
    };
  })()`);
}
