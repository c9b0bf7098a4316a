// Debian's chromium driven by playwright-core (Playwright's own browser download is not
// used), headless. Playwright gives every launch a fresh temporary profile
// (--user-data-dir), which it also deletes on close.
import { chromium } from 'playwright-core';

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.SEXTANT_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
