import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startLab, type Lab } from '../../lab/lab.js';
import { startSoftphoneServer, type SoftphoneServer } from '../../lab/softphone/server.js';
import { writeWav } from '../../lab/audio/wav.js';
import { concat, silence, tone } from '../../lab/audio/signal.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI !== 'true') {
  console.warn(`softphone browser test skipped: ${CHROMIUM} not found. Enable it with: sudo apt-get install chromium`);
}

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
    const stats = () => page.evaluate(() => (globalThis as unknown as { softphone: PageStats }).softphone);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'softphone-'));
      // Chromium loops the file: 2.5 s quiet (the greeting plays), 0.8 s of "speech", 2.5 s quiet.
      const rateHz = 48000;
      const wav = join(dir, 'caller.wav');
      writeFileSync(wav, writeWav({ sampleRateHz: rateHz, samples: concat([silence(2500, rateHz), tone({ frequencyHz: 350, durationMs: 800, sampleRateHz: rateHz, amplitude: 0.5 }), silence(2500, rateHz)]) }));
      lab = await startLab({ logLevel: 'silent' });
      softphone = await startSoftphoneServer({ placeCall: (o) => lab.placeCall(o) });
      // A fresh profile per run (playwright takes it as launchPersistentContext's userDataDir, i.e. --user-data-dir).
      browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--use-fake-ui-for-media-stream',
          '--use-fake-device-for-media-stream',
          `--use-file-for-fake-audio-capture=${wav}`,
        ],
      });
      page = await browser.newPage();
      await page.goto(softphone.url);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await softphone?.close();
      await lab?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
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

    it('presses a key on the keypad: the emulator sends a DtmfData frame on the call\'s media socket', async () => {
      await page.click('#keypad button[data-key="5"]');
      const callId = (await stats()).callId!;
      await expect.poll(() => lab.acs.calls.get(callId)?.timeline.entries.filter((e) => e.type === 'DtmfData').map((e) => e.detail?.tone), { timeout: 5000 }).toEqual(['5']);
      expect((await stats()).keysPressed).toEqual(['5']);
      await expect.poll(async () => (await stats()).timeline.some((e) => e.source === 'media' && e.type === 'DtmfData'), { timeout: 5000 }).toBe(true);
    });

    it('hangs up with "Hang up": the call disconnects and the page shows it ended', async () => {
      await page.click('#hangup');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('ended');
      await expect.poll(async () => (await stats()).timeline.some((e) => e.type === 'CallDisconnected'), { timeout: 10_000 }).toBe(true);
      const callId = (await stats()).callId!;
      expect(lab.acs.calls.get(callId)?.state).toBe('disconnected');
      expect((await stats()).errors).toEqual([]);
    });
  });
});
