import { existsSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium, driven through playwright-core (no browser download). */
export const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

export const PHONE = { width: 390, height: 844 } as const;
export const DESKTOP = { width: 1280, height: 800 } as const;

/** Headless, no sandbox, nothing fetched in the background; a fresh profile in `profileDir`. */
export function launchChromium(profileDir: string, extraArgs: readonly string[] = []): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
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
      ...extraArgs,
    ],
  });
}

/** Chromium's fake microphone, granted without a prompt; `wav` (looped) is what it hears, else a beep. */
export function fakeMicrophone(wav?: string): string[] {
  return ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', ...(wav ? [`--use-file-for-fake-audio-capture=${wav}`] : [])];
}

/**
 * A new desktop-sized page whose console errors (and uncaught page errors) go to `errors`; `beforeLoad` runs before it
 * loads `url` (a CDP session that must see the load, say).
 */
export async function openPage(browser: BrowserContext, url: string, errors: string[], beforeLoad?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize(DESKTOP);
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await beforeLoad?.(page);
  await page.goto(url);
  return page;
}

export function warnWhenChromiumMissing(what: string): void {
  if (!chromiumAvailable && process.env.CI !== 'true') {
    console.warn(`${what} skipped: ${CHROMIUM} not found. Enable it with: sudo apt-get install chromium`);
  }
}
