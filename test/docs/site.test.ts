/**
 * The docs site as Astro builds it, offline, for every stack; and the prod
 * and multihost sites in a real Chromium, served from the built folder by a
 * tiny static server: the home page loads without console errors, the
 * topology renders, every internal link resolves, no table scrolls sideways
 * and the search finds a service's page.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enabledServices } from "../../components/catalog/resolve";
import { buildDocsSite, hashTree } from "../../components/docs/site";
import { secretLooking, STACKS, stackLab } from "./support";
import { browserTier, launchChromium, listenOnLoopback, stopBrowsing } from "../support/browser";

const built = new Map<string, string>();
const temp = mkdtempSync(join(tmpdir(), "homelab-docs-"));

function files(dir: string): string[] {
  return statSync(dir).isDirectory()
    ? require("node:fs")
        .readdirSync(dir)
        .flatMap((e: string) => files(join(dir, e)))
    : [dir];
}

afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Every stack file's site: multihost draws one box per machine and names each service's host. */
const SITE_STACKS = [...STACKS, "multihost"] as const;

describe.each(SITE_STACKS)("the %s site, built offline", (stack) => {
  const lab = stackLab(stack);
  let dir: string;

  beforeAll(async () => {
    dir = (await buildDocsSite(lab, join(temp, stack))).dir;
    built.set(stack, dir);
  });

  it("has a page for every enabled service and lists the pending ones as pending", () => {
    for (const s of enabledServices(lab)) {
      const html = readFileSync(join(dir, "services", s.id, "index.html"), "utf8");
      expect(html, s.id).toMatch(new RegExp(`<h1 id="_top"[^>]*>${s.title}</h1>`));
    }
    const index = readFileSync(join(dir, "services", "index.html"), "utf8");
    const pendingSection = index.slice(index.indexOf('id="pending"'));
    for (const s of lab.services.filter((x) => x.status === "pending"))
      expect(pendingSection, s.id).toContain(`<li>${s.title}: `);
  });

  it("holds no secret-looking string, and no LAN address unless the stack is the loopback ci one", () => {
    for (const f of files(dir)) {
      // Inline images (data: URIs in the theme's CSS) are long base64 runs by nature.
      const text = readFileSync(f, "utf8").replace(/data:[a-z/+.-]+;base64,[A-Za-z0-9+/=]+/g, "data:");
      expect(secretLooking(text), f).toEqual([]);
      if (stack !== "ci") expect(text.includes(lab.config.lanAddress), f).toBe(false);
    }
  });

  it("carries the topology and the hand-written notes", () => {
    expect(readFileSync(join(dir, "topology.svg"), "utf8")).toMatch(/^<svg /);
    expect(readFileSync(join(dir, "notes", "home-assistant", "index.html"), "utf8")).toContain("Hybrid configuration");
  });
});

describe("a rebuild of unchanged inputs (ci)", () => {
  it("is byte-identical, so the deploy trigger's hash of the inputs stands for the built content", async () => {
    const again = await buildDocsSite(stackLab("ci"), join(temp, "ci-again"));
    expect(hashTree(again.dir)).toEqual(hashTree(built.get("ci") as string));
  });
});

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css",
  ".js": "text/javascript",
  ".svg": "image/svg+xml",
  ".xml": "application/xml",
  ".json": "application/json",
};

/** Serve `root` the way Pages does: /x/ and /x answer x/index.html; anything else missing is a 404. */
function serve(root: string): Server {
  return createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? "/").split(/[?#]/)[0])).replace(/^(\.\.[/\\])+/, "");
    const candidates = [join(root, path), join(root, path, "index.html")];
    const file = candidates.find((c) => {
      try {
        return statSync(c).isFile();
      } catch {
        return false;
      }
    });
    if (!file) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
}

describe.skipIf(!browserTier.available).each(["prod", "multihost"])("the %s site in Chromium", (stack) => {
  let server: Server;
  let base = "";
  let browser: Browser;
  /** The HTML pages the crawl reached, for the checks after it. */
  const pages: string[] = [];

  beforeAll(async () => {
    server = serve(built.get(stack) as string);
    base = await listenOnLoopback(server);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await stopBrowsing(browser, server);
  });

  it("loads the home page with no console error and draws the topology", async () => {
    const context = await browser.newContext();
    const outside: string[] = [];
    // The site must work offline: anything not from the local server is refused and recorded.
    await context.route("**/*", (route) => {
      if (route.request().url().startsWith(base)) return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    const response = await page.goto(`${base}/`, { waitUntil: "load" });
    expect(response?.status()).toBe(200);
    const img = page.locator('img[src="/topology.svg"]');
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBeGreaterThan(500);
    const box = await img.boundingBox();
    expect(box?.height ?? 0, "the topology is visible").toBeGreaterThan(100);
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
    await context.close();
  });

  it("resolves every internal link of every page, assets included, and no page logs a console error", async () => {
    const page = await browser.newPage();
    const seen = new Set<string>(["/"]);
    const queue = ["/"];
    const broken: string[] = [];
    const errors: string[] = [];
    let at = "/";
    // Pages only: Chromium shows an asset (a .css, an .svg) in a document of its own, which asks for a /favicon.ico the site has not got.
    const onPage = () => at.endsWith("/");
    page.on("console", (m) => m.type() === "error" && onPage() && errors.push(`${at}: ${m.text()}`));
    page.on("pageerror", (e) => onPage() && errors.push(`${at}: ${String(e)}`));
    while (queue.length > 0) {
      const path = queue.shift() as string;
      at = path;
      const response = await page.goto(`${base}${path}`);
      if (response?.status() !== 200) {
        broken.push(`${path} (${response?.status()})`);
        continue;
      }
      if (!(response.headers()["content-type"] ?? "").startsWith("text/html")) continue;
      const links = await page.$$eval("a[href], link[href], img[src], script[src]", (els) =>
        els.map((e) => (e as HTMLAnchorElement).href || (e as HTMLImageElement).src),
      );
      for (const link of links) {
        const url = new URL(link);
        if (url.origin !== base) continue;
        if (!seen.has(url.pathname)) {
          seen.add(url.pathname);
          queue.push(url.pathname);
        }
      }
    }
    pages.push(...[...seen].filter((p) => p.endsWith("/")));
    expect(broken).toEqual([]);
    expect(errors).toEqual([]);
    // Every service page was reached from the home page, not just listed on disk.
    for (const s of enabledServices(stackLab(stack))) expect(seen.has(`/services/${s.id}/`), s.id).toBe(true);
    await page.close();
  });

  it("shows every table whole in the content column, with no sideways scroll, on a 1280 px window", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const wide: string[] = [];
    let tables = 0;
    for (const path of pages) {
      await page.goto(`${base}${path}`, { waitUntil: "load" });
      const sizes = await page.$$eval(".sl-markdown-content table", (ts) =>
        ts.map((t) => ({ scroll: t.scrollWidth, client: t.clientWidth })),
      );
      tables += sizes.length;
      for (const [i, s] of sizes.entries())
        if (s.scroll > s.client) wide.push(`${path} table ${i + 1}: ${s.scroll} px in ${s.client} px`);
    }
    expect(tables, "the services index and the reference pages have tables").toBeGreaterThan(3);
    expect(wide).toEqual([]);
    await page.close();
  });

  it("finds a service's page by its name with the site's search, offline", async () => {
    const service = enabledServices(stackLab(stack)).find((s) => s.id === "jellyfin");
    expect(service, "jellyfin is in the stack").toBeDefined();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}/`, { waitUntil: "load" });
    await page.click("site-search button[data-open-modal]");
    await page.fill("#starlight__search input", service!.title);
    const results = page.locator("#starlight__search .pagefind-ui__result-link");
    await expect.poll(() => results.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const hrefs = await results.evaluateAll((links) =>
      links.map((a) => new URL((a as HTMLAnchorElement).href).pathname),
    );
    expect(hrefs).toContain(`/services/${service!.id}/`);
    expect(errors).toEqual([]);
    await page.close();
  });
});
