import { chromium, type Browser } from "playwright-core";
import { findProgram, tier } from "./tiers";

/** Debian's Chromium; the browser tiers drive it through playwright-core. */
export const CHROMIUM = findProgram("chromium", ["/usr/bin/chromium", "/usr/bin/chromium-browser"]);

/** Skipped, with its reason, where Chromium is missing (a failure under CI). */
export const browserTier = tier("browser", CHROMIUM ? [] : ["chromium"]);

/**
 * Headless Chromium as this machine allows it: no sandbox (tests run as
 * root), and none of the background connections that a closed network
 * refuses many at a time.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}
