import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
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
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/** Serve the page under test on a free loopback port; returns its base URL. */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Stop the browser and the page's server, whichever of them started. */
export async function stopBrowsing(browser: Browser | undefined, server: Server | undefined): Promise<void> {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
}
