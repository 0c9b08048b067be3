import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { startLab, type Lab } from '../../lab/lab.js';
import { startSoftphoneServer, type SoftphoneServer } from '../../lab/softphone/server.js';
import { requestOutboundCall } from '../../lab/softphone/request-call.js';
import { CHROMIUM, chromiumAvailable as available, fakeMicrophone, launchChromium, openPage, warnWhenChromiumMissing } from './chromium.js';

warnWhenChromiumMissing('softphone blocked ring tone browser test');

interface PageStats {
  state: string;
  ringTone: string;
  errors: string[];
  callee: { phoneNumber: string; rawId: string } | null;
}

/**
 * The softphone page as a callee under Chromium's own autoplay policy (no flag that allows audio before a gesture):
 * a call that rings before the user has touched the page shows the banner and a hint that the ring tone is muted,
 * nothing reaches the speaker, and the first click or key press anywhere on the page starts the tone.
 */
describe('the softphone page rings a call that comes before any user gesture', () => {
  it.runIf(!available && process.env.CI === 'true')('has Chromium in CI (.ci/run installs it)', () => {
    expect.fail(`${CHROMIUM} is missing in CI: .ci/run should have installed Debian's chromium`);
  });

  describe.runIf(available)('in headless Chromium with the default autoplay policy', () => {
    let lab: Lab;
    let softphone: SoftphoneServer;
    let browser: BrowserContext;
    let page: Page;
    let dir: string;
    let callId: string;
    let cdp: CDPSession;
    const consoleErrors: string[] = [];
    /**
     * Reads the page without giving it a user gesture. Playwright's evaluate and locators run with CDP's
     * userGesture: true, which activates the page (navigator.userActivation) and so lets its audio start: the very
     * thing this test withholds. Plain Runtime.evaluate does not.
     */
    const read = async <T>(expression: string): Promise<T> => {
      const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
      if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
      return result.value as T;
    };
    const stats = () => read<PageStats>('window.softphone');
    const ringLevel = () => read<number>('window.softphoneRingLevel()');
    const text = (id: string) => read<string>(`document.getElementById(${JSON.stringify(id)}).textContent`);
    const visible = (id: string) => read<boolean>(`document.getElementById(${JSON.stringify(id)}).checkVisibility()`);
    const activated = () => read<boolean>('navigator.userActivation.hasBeenActive');
    /** POST /api/calls to the page's lab number, from outside the page. */
    const callThePage = async () => {
      const response = await fetch(lab.functions.urlOf('placeCall'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: (await stats()).callee!.phoneNumber }),
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { callId: string }).callId;
    };
    const status = async (id: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId: id }))).json()) as Record<string, unknown>;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'softphone-ring-blocked-'));
      lab = await startLab({ logLevel: 'silent' });
      softphone = await startSoftphoneServer({
        placeCall: (o) => lab.placeCall(o),
        addCallee: (ring, o) => lab.acs.outbound.addCallee(ring, o),
        requestOutboundCall: (body) => requestOutboundCall(lab.functions.urlOf('placeCall'), body),
      });
      // No --autoplay-policy flag: Chromium's default, which keeps an AudioContext suspended until the user has
      // interacted with the page.
      browser = await launchChromium(join(dir, 'profile'), fakeMicrophone());
      page = await openPage(browser, softphone.url, consoleErrors, async (opened) => {
        cdp = await browser.newCDPSession(opened);
      });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await softphone?.close();
      await lab?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('rings with the banner and a hint that the ring tone is muted, and nothing reaches the speaker', async () => {
      await expect.poll(async () => (await stats()).callee, { timeout: 10_000 }).not.toBeNull();
      // Placed from outside the page (no click on "Have the agent call me"): the page has had no user gesture.
      callId = await callThePage();
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('incoming');
      expect(await visible('incoming')).toBe(true);
      expect(await text('callee-status')).toBe('ringing');
      expect((await stats()).ringTone).toBe('blocked');
      expect(await visible('ring-tone')).toBe(true);
      expect(await text('ring-tone')).toMatch(/^ring tone muted by the browser until you click the page/);
      // A status region, so a screen reader announces the hint when it appears.
      expect(await read<string | null>(`document.getElementById('ring-tone').getAttribute('role')`)).toBe('status');
      // The tone is scheduled on for the first 2 s of each cycle: were it playing, the analyser would see it.
      const levels: number[] = [];
      for (let i = 0; i < 20; i++) {
        levels.push(await ringLevel());
        await page.waitForTimeout(50);
      }
      expect(Math.max(...levels)).toBe(0);
      expect((await stats()).ringTone).toBe('blocked');
      // Nothing in this test has activated the page so far.
      expect(await activated()).toBe(false);
    });

    it('the first click elsewhere on the page starts the ring tone and clears the hint; the call keeps ringing', async () => {
      // A bare mouse click on the heading (page.click would also evaluate with a gesture first).
      const { x, y } = await read<{ x: number; y: number }>(`(() => { const r = document.querySelector('h1').getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`);
      await page.mouse.click(x, y);
      expect(await activated()).toBe(true);
      await expect.poll(async () => (await stats()).ringTone, { timeout: 5000 }).toBe('playing');
      await expect.poll(ringLevel, { timeout: 2000, interval: 50 }).toBeGreaterThan(0.05);
      expect(await text('ring-tone')).toBe('');
      expect((await stats()).state).toBe('incoming');
      expect(await visible('incoming')).toBe(true);
    });

    it('Accept then connects the call and stops the ring tone', async () => {
      await page.click('#accept');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('connected');
      expect((await stats()).ringTone).toBe('off');
      expect(await ringLevel()).toBe(0);
      await expect.poll(async () => (await status(callId)).state, { timeout: 10_000 }).toBe('answered');
      await page.click('#hangup');
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('ended');
      await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'human' });
      expect((await stats()).errors).toEqual([]);
    });

    it('on a fresh page, a key press anywhere starts the muted ring tone as well (a keyboard user hears the call)', async () => {
      await page.reload(); // a new document: the click above no longer counts
      await expect.poll(async () => (await stats()).callee, { timeout: 10_000 }).not.toBeNull();
      const second = await callThePage();
      await expect.poll(async () => (await stats()).state, { timeout: 10_000 }).toBe('incoming');
      expect((await stats()).ringTone).toBe('blocked');
      expect(await ringLevel()).toBe(0);
      expect(await activated()).toBe(false);
      await page.keyboard.press('r');
      await expect.poll(async () => (await stats()).ringTone, { timeout: 5000 }).toBe('playing');
      await expect.poll(ringLevel, { timeout: 2000, interval: 50 }).toBeGreaterThan(0.05);
      expect(await text('ring-tone')).toBe('');
      await page.click('#decline');
      await expect.poll(() => status(second), { timeout: 10_000 }).toMatchObject({ state: 'failed', outcome: 'failed' });
    });

    it('logged no console error in the whole visit', () => {
      expect(consoleErrors).toEqual([]);
    });
  });
});
