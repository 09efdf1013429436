/**
 * The Local/Remote toggle in a real browser: the rendered custom.js on a
 * page with Homepage's markup, driven with the mouse and the keyboard.
 */
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HomepageConfig } from "../../components/render/homepage";
import { readPortalAssets, renderPortalFiles, renderToggleLinks } from "../../components/render/portal";
import { findProgram, tier } from "../support/tiers";
import { dashboardFixture } from "./fixture";
import { ROOT, stackLab } from "./support";

const CHROMIUM = findProgram("chromium", ["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
const browserTier = tier("browser", CHROMIUM ? [] : ["chromium"]);

const SCREENSHOTS = join(ROOT, "test-results", "portal");
const BUTTON = "#homelab-link-toggle";
const CLOCK = "#information-widgets-right .information-widget-datetime";

const lab = stackLab("prod");
const assets = readPortalAssets();
const bundle = renderPortalFiles(lab, assets);
const homepage = JSON.parse(bundle.get("generated/homepage.json") as string) as HomepageConfig;
const links = renderToggleLinks(lab);

/** Every card link's public href, by card title. */
const publicHrefs = new Map<string, string>();
for (const g of homepage.services) {
  for (const cards of Object.values(g)) for (const c of cards) for (const [title, card] of Object.entries(c)) publicHrefs.set(title, card.href as string);
}
const localHref = (href: string) => links[new URL(href).origin] ?? href;

let server: Server;
let base = "";
let browser: Browser;

async function open(context?: BrowserContext): Promise<{ context: BrowserContext; page: Page }> {
  const ctx = context ?? (await browser.newContext({ viewport: { width: 1280, height: 760 } }));
  // The dashboard must work offline: anything not from the fixture server is refused.
  await ctx.route("**/*", (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort()));
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${base}/`);
  await page.waitForSelector(BUTTON);
  return { context: ctx, page };
}

/** [card title, link class, href] for every service link on the page. */
async function serviceLinks(page: Page): Promise<[string, string, string][]> {
  return page.$$eval("li.service a[href]", (as) =>
    as.map((a) => [(a.closest("li.service") as HTMLElement).dataset.name ?? "", a.className, a.getAttribute("href") ?? ""] as [string, string, string]),
  );
}

async function expectLinks(page: Page, mode: "local" | "remote"): Promise<void> {
  await expect
    .poll(async () => (await serviceLinks(page)).filter(([title, , href]) => href !== (mode === "local" ? localHref : (h: string) => h)(publicHrefs.get(title) as string)), {
      timeout: 5000,
    })
    .toEqual([]);
  const all = await serviceLinks(page);
  expect(all.length).toBe(publicHrefs.size * 2);
}

async function buttonState(page: Page) {
  return page.$eval(BUTTON, (b) => ({ tag: b.tagName, text: b.textContent, pressed: b.getAttribute("aria-pressed") }));
}

describe.skipIf(!browserTier.available)("the Local/Remote toggle in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const html = dashboardFixture(homepage);
    server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(html);
      } else if (path === "/api/config/custom.js") {
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" });
        res.end(bundle.get("generated/custom.js"));
      } else if (path.startsWith("/icons/") && bundle.has(`assets${path}`)) {
        res.writeHead(200, { "content-type": "image/svg+xml" });
        res.end(bundle.get(`assets${path}`));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  it("is a button that sits right after the clock, once the clock mounts", async () => {
    const { context, page } = await open();
    const placement = await page.$eval(BUTTON, (b) => ({
      parent: b.parentElement?.id,
      afterClock: b.previousElementSibling?.matches(".information-widget-datetime") ?? false,
    }));
    expect(placement).toEqual({ parent: "information-widgets-right", afterClock: true });
    const clock = (await page.locator(CLOCK).boundingBox())!;
    const button = (await page.locator(BUTTON).boundingBox())!;
    expect(button.x, "to the right of the clock").toBeGreaterThanOrEqual(clock.x + clock.width - 1);
    expect(button.y < clock.y + clock.height && clock.y < button.y + button.height, "on the clock's line").toBe(true);
    expect(await buttonState(page)).toEqual({ tag: "BUTTON", text: "Remote", pressed: "false" });
    await context.close();
  });

  it("keeps the public links by default, and a click switches every service link to its LAN URL", async () => {
    const { context, page } = await open();
    await expectLinks(page, "remote");
    await page.screenshot({ path: join(SCREENSHOTS, "remote.png") });

    await page.click(BUTTON);
    expect(await buttonState(page)).toEqual({ tag: "BUTTON", text: "Local", pressed: "true" });
    await expectLinks(page, "local");
    const jellyfin = (await serviceLinks(page)).filter(([t]) => t === "Jellyfin").map(([, , h]) => h);
    expect(jellyfin).toEqual(["http://192.0.2.10:8096", "http://192.0.2.10:8096"]);
    // Links that are not homelab services on the host stay as they are.
    const unchanged = (await serviceLinks(page)).filter(([t]) => t === "Documentation" || t === "Cloudflare Tunnel");
    expect(unchanged.map(([, , h]) => h)).toEqual(["https://docs-home.javiersc.com", "https://docs-home.javiersc.com", "https://one.dash.cloudflare.com/", "https://one.dash.cloudflare.com/"]);
    expect(await page.getAttribute("a.bookmark", "href")).toBe("https://github.com/");
    await page.screenshot({ path: join(SCREENSHOTS, "local.png") });

    await page.click(BUTTON);
    expect(await buttonState(page)).toMatchObject({ text: "Remote", pressed: "false" });
    await expectLinks(page, "remote");
    await context.close();
  });

  it("works from the keyboard: Tab reaches it, Enter and Space toggle it", async () => {
    const { context, page } = await open();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("homelab-link-toggle");
    await page.keyboard.press("Enter");
    expect(await buttonState(page)).toMatchObject({ text: "Local", pressed: "true" });
    await expectLinks(page, "local");
    await page.screenshot({ path: join(SCREENSHOTS, "local-focused.png") });
    await page.keyboard.press("Space");
    expect(await buttonState(page)).toMatchObject({ text: "Remote", pressed: "false" });
    await expectLinks(page, "remote");
    await context.close();
  });

  it("remembers Local mode across a reload", async () => {
    const { context, page } = await open();
    await page.click(BUTTON);
    await page.reload();
    await page.waitForSelector(BUTTON);
    expect(await buttonState(page)).toMatchObject({ text: "Local", pressed: "true" });
    await expectLinks(page, "local");
    expect(await page.evaluate(() => localStorage.getItem("homelab.linkMode"))).toBe("local");
    await context.close();
  });

  it("keeps re-rendered cards, reset links and a remounted clock in step with the mode", async () => {
    const { context, page } = await open();
    await page.click(BUTTON);
    await expectLinks(page, "local");

    // Homepage re-renders the groups (a tab switch): brand-new anchors with public hrefs.
    await page.evaluate(() => (window as unknown as { __rerender: () => void }).__rerender());
    await expectLinks(page, "local");

    // React puts a public href back on an existing anchor.
    await page.$eval('li.service[data-name="Jellyfin"] a.service-title-text', (a) => a.setAttribute("href", "https://jellyfin-home.javiersc.com/web/#/home"));
    await expect.poll(() => page.getAttribute('li.service[data-name="Jellyfin"] a.service-title-text', "href")).toBe("http://192.0.2.10:8096/web/#/home");

    // The widgets remount: the button comes back next to the new clock.
    await page.evaluate(() => (window as unknown as { __remountClock: () => void }).__remountClock());
    await page.waitForFunction(() => document.querySelector("#homelab-link-toggle")?.previousElementSibling?.matches(".information-widget-datetime") === true);
    expect(await buttonState(page)).toMatchObject({ text: "Local", pressed: "true" });

    // And back to Remote restores what Homepage rendered, the path included.
    await page.click(BUTTON);
    await expect.poll(() => page.getAttribute('li.service[data-name="Jellyfin"] a.service-title-text', "href")).toBe("https://jellyfin-home.javiersc.com/web/#/home");
    await context.close();
  });

  it("settles: once applied, its observer makes no further changes", async () => {
    const { context, page } = await open();
    await page.click(BUTTON);
    await expectLinks(page, "local");
    // Count DOM changes outside the ticking clock for two seconds: a loop would never stop.
    const changes = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let n = 0;
          const clock = document.querySelector("#information-widgets-right .information-widget-datetime");
          const obs = new MutationObserver((records) => {
            n += records.filter((r) => !(clock && clock.contains(r.target))).length;
          });
          obs.observe(document.documentElement, { childList: true, subtree: true, attributes: true, characterData: true });
          setTimeout(() => {
            obs.disconnect();
            resolve(n);
          }, 2000);
        }),
    );
    expect(changes).toBe(0);
    await context.close();
  });
});
