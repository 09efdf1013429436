/**
 * The dashboard in a real browser: the rendered custom.js and icons on a page
 * with Homepage's markup, layout and search launcher (fixture.ts), driven with
 * the mouse and the keyboard, checked with axe-core, and photographed for the
 * README.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { AxeResults } from "axe-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HomepageConfig } from "../../components/render/homepage";
import { readPortalAssets, renderPortalFiles, renderToggleLinks } from "../../components/render/portal";
import { dashboardFixture } from "./fixture";
import { ROOT, stackLab } from "./support";
import { browserTier, launchChromium, listenOnLoopback, stopBrowsing } from "../support/browser";

const SCREENSHOTS = join(ROOT, "test-results", "portal");
/** The README's pictures of the dashboard, rewritten by every run. */
const README_SHOTS = join(ROOT, "docs");
const BUTTON = "#homelab-link-toggle";
const LABEL = "Local links";
/** The clock the screenshots show, so two runs draw the same picture. */
const FIXED_TIME = new Date("2025-06-01T09:41:00Z");
const CLOCK = "#information-widgets-right .information-widget-datetime";

const lab = stackLab("prod");
const assets = readPortalAssets();
const bundle = renderPortalFiles(lab, assets);
const homepage = JSON.parse(bundle.get("generated/homepage.json") as string) as HomepageConfig;
const links = renderToggleLinks(lab);

/** Every card link's public href, by card title. */
const publicHrefs = new Map<string, string>();
for (const g of homepage.services) {
  for (const cards of Object.values(g))
    for (const c of cards) for (const [title, card] of Object.entries(c)) publicHrefs.set(title, card.href as string);
}
const localHref = (href: string) => links[new URL(href).origin] ?? href;

let server: Server;
let base = "";
let browser: Browser;

interface Opened {
  context: BrowserContext;
  page: Page;
  /** Every request for something not on the fixture server, refused: the background image, service links. */
  refused: string[];
}

async function open(viewport = { width: 1280, height: 760 }): Promise<Opened> {
  const context = await browser.newContext({ viewport });
  const refused: string[] = [];
  // The dashboard must work offline: anything not from the fixture server is
  // refused, before it leaves the browser (the background image included).
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    refused.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.clock.setFixedTime(FIXED_TIME);
  await page.goto(`${base}/`);
  await page.waitForSelector(BUTTON);
  return { context, page, refused };
}

/** [card title, link class, href] for every service link on the page. */
async function serviceLinks(page: Page): Promise<[string, string, string][]> {
  return page.$$eval("li.service a[href]", (as) =>
    as.map(
      (a) =>
        [(a.closest("li.service") as HTMLElement).dataset.name ?? "", a.className, a.getAttribute("href") ?? ""] as [
          string,
          string,
          string,
        ],
    ),
  );
}

async function expectLinks(page: Page, mode: "local" | "remote"): Promise<void> {
  await expect
    .poll(
      async () =>
        (await serviceLinks(page)).filter(
          ([title, , href]) =>
            href !== (mode === "local" ? localHref : (h: string) => h)(publicHrefs.get(title) as string),
        ),
      {
        timeout: 5000,
      },
    )
    .toEqual([]);
  const all = await serviceLinks(page);
  expect(all.length).toBe(publicHrefs.size * 2);
}

async function buttonState(page: Page) {
  return page.$eval(BUTTON, (b) => ({ tag: b.tagName, text: b.textContent, pressed: b.getAttribute("aria-pressed") }));
}

/** Type into the page as a person would to open Homepage's search launcher, then press Enter. */
async function launch(page: Page, query: string): Promise<void> {
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.type(query);
  await page.waitForSelector("#quicklaunch:not([hidden]) li button");
  await page.keyboard.press("Enter");
}

/** Where each card sits: its group, and its box. */
async function cardBoxes(page: Page) {
  return page.$$eval("li.service .service-card", (cards) =>
    cards.map((c) => {
      const r = c.getBoundingClientRect();
      return {
        group: (c.closest(".services-group") as HTMLElement).dataset.group ?? "",
        x: Math.round(r.x),
        y: Math.round(r.y),
        width: Math.round(r.width),
      };
    }),
  );
}

describe.skipIf(!browserTier.available)("the dashboard in Chromium", () => {
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
      } else if (path.startsWith("/icons/") && path.endsWith(".svg") && bundle.has(`assets${path}`)) {
        res.writeHead(200, { "content-type": "image/svg+xml" });
        res.end(bundle.get(`assets${path}`));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    base = await listenOnLoopback(server);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await stopBrowsing(browser, server);
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
    expect(await buttonState(page)).toEqual({ tag: "BUTTON", text: LABEL, pressed: "false" });
    await context.close();
  });

  it("keeps the public links by default, and a click switches every service link to its LAN URL", async () => {
    const { context, page } = await open();
    await expectLinks(page, "remote");
    await page.screenshot({ path: join(SCREENSHOTS, "remote.png") });

    await page.click(BUTTON);
    expect(await buttonState(page)).toEqual({ tag: "BUTTON", text: LABEL, pressed: "true" });
    await expectLinks(page, "local");
    const jellyfin = (await serviceLinks(page)).filter(([t]) => t === "Jellyfin").map(([, , h]) => h);
    expect(jellyfin).toEqual(["http://192.0.2.10:8096", "http://192.0.2.10:8096"]);
    // Links that are not homelab services on the host stay as they are.
    const unchanged = (await serviceLinks(page)).filter(([t]) => t === "Documentation" || t === "Cloudflare Tunnel");
    expect(unchanged.map(([, , h]) => h)).toEqual([
      "https://docs-home.javiersc.com",
      "https://docs-home.javiersc.com",
      "https://one.dash.cloudflare.com/",
      "https://one.dash.cloudflare.com/",
    ]);
    expect(await page.getAttribute("a.bookmark", "href")).toBe("https://github.com/");
    await page.screenshot({ path: join(SCREENSHOTS, "local.png") });

    await page.click(BUTTON);
    expect(await buttonState(page)).toMatchObject({ text: LABEL, pressed: "false" });
    await expectLinks(page, "remote");
    await context.close();
  });

  it("works from the keyboard: Tab reaches it, Enter and Space toggle it", async () => {
    const { context, page } = await open();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("homelab-link-toggle");
    await page.keyboard.press("Enter");
    expect(await buttonState(page)).toMatchObject({ text: LABEL, pressed: "true" });
    await expectLinks(page, "local");
    await page.screenshot({ path: join(SCREENSHOTS, "local-focused.png") });
    await page.keyboard.press("Space");
    expect(await buttonState(page)).toMatchObject({ text: LABEL, pressed: "false" });
    await expectLinks(page, "remote");
    await context.close();
  });

  it("remembers Local mode across a reload", async () => {
    const { context, page } = await open();
    await page.click(BUTTON);
    await page.reload();
    await page.waitForSelector(BUTTON);
    expect(await buttonState(page)).toMatchObject({ text: LABEL, pressed: "true" });
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
    await page.$eval('li.service[data-name="Jellyfin"] a.service-title-text', (a) =>
      a.setAttribute("href", "https://jellyfin-home.javiersc.com/web/#/home"),
    );
    await expect
      .poll(() => page.getAttribute('li.service[data-name="Jellyfin"] a.service-title-text', "href"))
      .toBe("http://192.0.2.10:8096/web/#/home");

    // The widgets remount: the button comes back next to the new clock.
    await page.evaluate(() => (window as unknown as { __remountClock: () => void }).__remountClock());
    await page.waitForFunction(
      () =>
        document
          .querySelector("#homelab-link-toggle")
          ?.previousElementSibling?.matches(".information-widget-datetime") === true,
    );
    expect(await buttonState(page)).toMatchObject({ text: LABEL, pressed: "true" });

    // And back to Remote restores what Homepage rendered, the path included.
    await page.click(BUTTON);
    await expect
      .poll(() => page.getAttribute('li.service[data-name="Jellyfin"] a.service-title-text', "href"))
      .toBe("https://jellyfin-home.javiersc.com/web/#/home");
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
            n += records.filter((r) => !clock?.contains(r.target)).length;
          });
          obs.observe(document.documentElement, {
            childList: true,
            subtree: true,
            attributes: true,
            characterData: true,
          });
          setTimeout(() => {
            obs.disconnect();
            resolve(n);
          }, 2000);
        }),
    );
    expect(changes).toBe(0);
    await context.close();
  });

  it("sends the search launcher to the LAN URL in Local mode and to the public one in Remote mode", async () => {
    const { context, page, refused } = await open();
    const jellyfin = publicHrefs.get("Jellyfin") as string;
    await launch(page, "jelly");
    await expect.poll(() => refused, { timeout: 5000 }).toContain(`${jellyfin}/`);

    await page.click(BUTTON);
    await launch(page, "jelly");
    await expect.poll(() => refused, { timeout: 5000 }).toContain("http://192.0.2.10:8096/");
    // A card that is not a homelab service on the host keeps its own URL.
    await launch(page, "cloudflare");
    await expect.poll(() => refused, { timeout: 5000 }).toContain("https://one.dash.cloudflare.com/");

    await page.click(BUTTON);
    const before = refused.length;
    await launch(page, "sonarr");
    await expect.poll(() => refused.slice(before), { timeout: 5000 }).toEqual([`${publicHrefs.get("Sonarr")}/`]);
    await context.close();
  });

  it("keeps one accessible name, Local links, and carries the state in aria-pressed alone", async () => {
    const { context, page } = await open();
    expect(await page.locator(BUTTON).ariaSnapshot()).toBe(`- button "${LABEL}"`);
    await page.click(BUTTON);
    expect(await page.locator(BUTTON).ariaSnapshot()).toBe(`- button "${LABEL}" [pressed]`);
    expect(await page.getByRole("button", { name: LABEL, pressed: true }).count()).toBe(1);
    await context.close();
  });

  it("shows every card icon from the portal itself, with nothing fetched from elsewhere", async () => {
    const { context, page, refused } = await open();
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll("li.service img")).every((i) => (i as HTMLImageElement).complete),
    );
    const icons = await page.$$eval("li.service img", (imgs) =>
      imgs.map((i) => ({ src: i.getAttribute("src"), width: (i as HTMLImageElement).naturalWidth })),
    );
    expect(icons.length).toBe(publicHrefs.size);
    for (const icon of icons) {
      expect(icon.src, "a card icon outside /icons/").toMatch(/^\/icons\/[a-z0-9-]+-logo\.svg$/);
      expect(icon.width, `${icon.src} did not load`).toBeGreaterThan(0);
    }
    // The one thing refused is the background photo, which the tests block.
    expect(refused.filter((u) => !u.startsWith("https://images.unsplash.com/"))).toEqual([]);
    await context.close();
  });

  it("has no serious or critical axe-core violation in the toggle, in either mode", async () => {
    const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    const { context, page } = await open();
    await page.addScriptTag({ content: axeSource });
    // Contrast is measured against the page's colour; with the photo, axe could only guess.
    await page.evaluate(() => (document.body.style.backgroundImage = "none"));
    /** Serious and critical violations whose nodes are the toggle's, as "rule: selector". */
    const ours = async () => {
      const results = (await page.evaluate(() =>
        (window as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<unknown> } }).axe.run(document, {
          resultTypes: ["violations"],
        }),
      )) as AxeResults;
      return results.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .flatMap((v) =>
          v.nodes.filter((n) => n.html.includes("homelab-link-toggle")).map((n) => `${v.id}: ${n.target.join(" ")}`),
        );
    };
    expect(await ours()).toEqual([]);
    await page.click(BUTTON);
    expect(await ours()).toEqual([]);

    // The check can fail: a toggle without a name, or with unreadable text, is reported as ours.
    await page.$eval(BUTTON, (b) => ((b as HTMLElement).style.color = "#334155"));
    expect(await ours()).toContain("color-contrast: #homelab-link-toggle");
    await page.$eval(BUTTON, (b) => {
      b.textContent = "";
      b.removeAttribute("title");
    });
    expect(await ours()).toContain("button-name: #homelab-link-toggle");
    await context.close();
  });

  it("lays every group out as rows of equal cards, four to a line, from 1280 to 1920 px", async () => {
    const { context, page } = await open({ width: 1280, height: 900 });
    for (const width of [1280, 1440, 1600, 1920]) {
      await page.setViewportSize({ width, height: 900 });
      const boxes = await cardBoxes(page);
      const widths = new Set(boxes.map((b) => b.width));
      expect(widths.size, `${width} px: cards of ${[...widths].join(", ")} px`).toBe(1);
      const groups = [...new Set(boxes.map((b) => b.group))];
      expect(groups, `${width} px: group order`).toEqual(homepage.services.map((g) => Object.keys(g)[0]));
      for (const group of groups) {
        const lines = new Map<number, number>();
        for (const b of boxes.filter((x) => x.group === group)) lines.set(b.y, (lines.get(b.y) ?? 0) + 1);
        const counts = [...lines.values()];
        expect(
          counts.slice(0, -1).every((n) => n === 4) && counts[counts.length - 1] <= 4,
          `${width} px, ${group}: ${counts.join(" + ")} cards per line`,
        ).toBe(true);
      }
      // Cards line up in the same four columns in every group.
      expect(new Set(boxes.map((b) => b.x)).size, `${width} px: card columns`).toBe(4);
    }
    await context.close();
  });

  it("reads on a 390 px phone: one card per line, nothing wider than the screen, the toggle on screen", async () => {
    const { context, page } = await open({ width: 390, height: 844 });
    const boxes = await cardBoxes(page);
    expect(new Set(boxes.map((b) => b.x)).size, "one column of cards").toBe(1);
    expect(Math.max(...boxes.map((b) => b.x + b.width))).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const button = (await page.locator(BUTTON).boundingBox())!;
    expect(button.x >= 0 && button.x + button.width <= 390, `toggle at x=${button.x}, ${button.width} px wide`).toBe(
      true,
    );
    await context.close();
  });

  it("photographs the dashboard at 1440x900 in both modes for the README", async () => {
    mkdirSync(README_SHOTS, { recursive: true });
    const { context, page } = await open({ width: 1440, height: 900 });
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll("li.service img")).every((i) => (i as HTMLImageElement).complete),
    );
    await expectLinks(page, "remote");
    await page.screenshot({ path: join(README_SHOTS, "portal-remote.png") });
    await page.click(BUTTON);
    await expectLinks(page, "local");
    // The mouse would leave a hover highlight on the button.
    await page.mouse.move(0, 899);
    await page.locator(BUTTON).blur();
    await page.screenshot({ path: join(README_SHOTS, "portal-local.png") });
    const png = readFileSync(join(README_SHOTS, "portal-local.png"));
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1440, 900]);
    await context.close();
  });
});
