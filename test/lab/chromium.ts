import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

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

export function warnWhenChromiumMissing(what: string): void {
  if (!chromiumAvailable && process.env.CI !== 'true') {
    console.warn(`${what} skipped: ${CHROMIUM} not found. Enable it with: sudo apt-get install chromium`);
  }
}
