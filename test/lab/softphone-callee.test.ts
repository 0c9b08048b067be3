import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startLab, type Lab } from '../../lab/lab.js';
import { startSoftphoneServer, type SoftphoneServer } from '../../lab/softphone/server.js';
import { requestOutboundCall } from '../../lab/softphone/request-call.js';
import { writeWav } from '../../lab/audio/wav.js';
import { concat, silence, tone } from '../../lab/audio/signal.js';
import { CHROMIUM, chromiumAvailable as available, DESKTOP, fakeMicrophone, launchChromium, openPage, PHONE, warnWhenChromiumMissing } from './chromium.js';

warnWhenChromiumMissing('softphone callee browser test');

interface PageStats {
  state: string;
  callId: string | null;
  framesSent: number;
  framesReceived: number;
  playedMs: number;
  errors: string[];
  callee: { phoneNumber: string; rawId: string } | null;
  direction: string | null;
  ringTone: string;
  lastIncoming: { callId: string; from: string; outcome: string | null } | null;
  requested: { callId: string; state: string }[];
  timeline: { source: string; type: string }[];
}

const RING_TIMEOUT_MS = 3000;

/**
 * The softphone page as the callee of outbound calls, in real headless Chromium: it registers with the lab's ACS
 * emulator through its server, rings (a visible state and a Web Audio ring tone) when POST /api/calls targets it,
 * and accepting connects it with media both ways; declining or letting it ring gives the app's failed outcomes.
 */
describe('the softphone page takes outbound calls', () => {
  it.runIf(!available && process.env.CI === 'true')('has Chromium in CI (.ci/run installs it)', () => {
    expect.fail(`${CHROMIUM} is missing in CI: .ci/run should have installed Debian's chromium`);
  });

  describe.runIf(available)('in headless Chromium with a fake microphone', () => {
    let lab: Lab;
    let softphone: SoftphoneServer;
    let browser: BrowserContext;
    let page: Page;
    let dir: string;
    const consoleErrors: string[] = [];
    const stats = () => page.evaluate(() => (globalThis as unknown as { softphone: PageStats }).softphone);
    const ringLevel = () => page.evaluate<number>('window.softphoneRingLevel()');
    const post = async (to: string) => {
      const response = await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to }) });
      expect(response.status).toBe(202);
      return ((await response.json()) as { callId: string }).callId;
    };
    const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'softphone-callee-'));
      // What the callee says, looped by Chromium: a tone loud enough for the echo agent's turn detection, then quiet.
      const rateHz = 48000;
      const wav = join(dir, 'callee.wav');
      writeFileSync(wav, writeWav({ sampleRateHz: rateHz, samples: concat([silence(500, rateHz), tone({ frequencyHz: 350, durationMs: 800, sampleRateHz: rateHz, amplitude: 0.5 }), silence(2500, rateHz)]) }));
      lab = await startLab({ logLevel: 'silent', acs: { outbound: { ringTimeoutMs: RING_TIMEOUT_MS } } });
      softphone = await startSoftphoneServer({
        placeCall: (o) => lab.placeCall(o),
        addCallee: (ring, o) => lab.acs.outbound.addCallee(ring, o),
        requestOutboundCall: (body) => requestOutboundCall(lab.functions.urlOf('placeCall'), body),
      });
      browser = await launchChromium(join(dir, 'profile'), [
        ...fakeMicrophone(wav),
        // The ring tone sounds before any click, as on a page the user has already used.
        '--autoplay-policy=no-user-gesture-required',
      ]);
      page = await openPage(browser, softphone.url, consoleErrors);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await softphone?.close();
      await lab?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('registers as a callee and shows the lab number and ACS user id to call', async () => {
      await expect.poll(async () => (await stats()).callee, { timeout: 10_000 }).not.toBeNull();
      const { callee } = await stats();
      expect(callee!.phoneNumber).toMatch(/^\+1555012\d{4}$/);
      expect(callee!.rawId).toMatch(new RegExp(`^8:acs:${lab.acs.resourceId}_softphone-\\d+$`));
      expect(await page.locator('#callee-number').textContent()).toBe(callee!.phoneNumber);
      expect(await page.locator('#callee-id').textContent()).toBe(callee!.rawId);
      expect(await page.locator('#incoming').isVisible()).toBe(false);
    });

    it('rings when "Have the agent call me" places a call to it: the incoming banner, the ring tone sounding, Accept and Decline on screen at phone and desktop sizes', async () => {
      await page.click('#call-me');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('incoming');
      expect((await stats()).requested).toEqual([{ callId: expect.stringMatching(/^[0-9a-f-]{36}$/), state: 'queued' }]);
      expect(await page.locator('#callee-status').textContent()).toBe('ringing');
      expect(await page.locator('#incoming').isVisible()).toBe(true);
      expect(await page.locator('#incoming-from').textContent()).toMatch(/^\+15\*+00$/);
      expect((await stats()).ringTone).toBe('playing');
      // The tone is on for the first 2 s of each 6 s cycle: the speaker gets it.
      await expect.poll(ringLevel, { timeout: 2000, interval: 50 }).toBeGreaterThan(0.05);
      for (const size of [PHONE, DESKTOP]) {
        await page.setViewportSize(size);
        for (const id of ['#accept', '#decline']) {
          const box = (await page.locator(id).boundingBox())!;
          expect(box.x + box.width, `${id} at ${size.width}px`).toBeLessThanOrEqual(size.width);
          expect(box.y + box.height, `${id} at ${size.width}px`).toBeLessThanOrEqual(size.height);
        }
        expect(await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth'), `${size.width}px`).toBeLessThanOrEqual(0);
      }
      await page.setViewportSize(DESKTOP);
    });

    it('Accept connects the call as a human callee: the agent hears the page and the page plays the agent; the app records the call answered, then ended by the hang-up', async () => {
      const callId = (await stats()).requested[0]!.callId;
      await page.click('#accept');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('connected');
      expect((await stats()).ringTone).toBe('off');
      expect(await ringLevel()).toBe(0);
      await expect.poll(async () => (await status(callId)).state, { timeout: 10_000 }).toBe('answered');
      // Media both ways: the microphone's frames reach the lab, the agent's audio is played.
      await expect.poll(async () => (await stats()).framesSent, { timeout: 10_000 }).toBeGreaterThan(50);
      await expect.poll(async () => (await stats()).playedMs, { timeout: 15_000 }).toBeGreaterThan(500);
      const emulated = [...lab.acs.calls.values()].find((c) => c.direction === 'outbound' && c.mediaOptions?.transportUrl.includes(callId))!;
      expect(emulated.timeline.entries.some((e) => e.source === 'caller' && e.type === 'answered')).toBe(true);
      // The agent heard the page: the echo agent's VAD saw its speech.
      await expect.poll(() => emulated.timeline.entries.some((e) => e.type === 'input_audio_buffer.speech_started'), { timeout: 15_000 }).toBe(true);
      await page.click('#hangup');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('ended');
      await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'human' });
      expect(await page.locator('#callee-status').textContent()).toBe('call ended');
      expect((await stats()).errors).toEqual([]);
    });

    it('Decline refuses a call to its ACS user id: CreateCallFailed with the decline result, a failed outcome in GET /api/calls/{id}', async () => {
      const callId = await post((await stats()).callee!.rawId);
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('incoming');
      await page.click('#decline');
      await expect.poll(async () => (await stats()).lastIncoming?.outcome, { timeout: 10_000 }).toBe('declined');
      expect((await stats()).state).toBe('ended');
      expect(await page.locator('#incoming').isVisible()).toBe(false);
      expect(await page.locator('#callee-status').textContent()).toBe('declined');
      await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'failed', outcome: 'failed', resultInformation: { code: 603 } });
    });

    it('a call it does not answer rings out: no answer in GET /api/calls/{id}, a missed call on the page, the ring tone stopped', async () => {
      const callId = await post((await stats()).callee!.phoneNumber);
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('incoming');
      await expect.poll(async () => (await stats()).lastIncoming?.outcome, { timeout: RING_TIMEOUT_MS + 10_000 }).toBe('unanswered');
      expect(await page.locator('#callee-status').textContent()).toBe('missed call (no answer)');
      expect((await stats()).ringTone).toBe('off');
      await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'failed', outcome: 'no_answer' });
    });

    it('is busy for an outbound call while it is on a call it placed to the agent', async () => {
      await page.click('#call');
      await expect.poll(async () => (await stats()).state, { timeout: 15_000 }).toBe('connected');
      const callId = await post((await stats()).callee!.phoneNumber);
      await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'failed', outcome: 'busy' });
      expect((await stats()).state).toBe('connected');
      await page.click('#hangup');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('ended');
    });

    it('logged no console error in the whole visit', () => {
      expect(consoleErrors).toEqual([]);
    });
  });
});
