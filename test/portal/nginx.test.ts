/**
 * The portal's nginx config in a real nginx: `nginx -t`, then a running
 * nginx on a free loopback port with a stub server behind every route.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HomepageConfig } from "../../components/render/homepage";
import { renderNginxSites } from "../../components/render/nginx";
import {
  FAVICON_PATHS,
  FAVICONS,
  dashboardService,
  proxiedServices,
  renderPortalFiles,
} from "../../components/render/portal";
import { dashboardFixture, iconLinks } from "./fixture";
import { decodePng, fillPlaceholders, stackLab } from "./support";
import { findProgram, tier } from "../support/tiers";

const NGINX = findProgram("nginx", ["/usr/sbin/nginx"]);
const RSVG = findProgram("rsvg-convert");
const nginxTier = tier("nginx", [...(NGINX ? [] : ["nginx"]), ...(RSVG ? [] : ["rsvg-convert (librsvg2-bin)"])]);

const lab = stackLab("prod");
const bundle = renderPortalFiles(lab);
const routed = proxiedServices(lab);
const dashboard = dashboardService(lab);
const homepage = JSON.parse(bundle.get("generated/homepage.json") as string) as HomepageConfig;
/** The icons Homepage's page head links, as the fixture that mirrors it has them. */
const pageIcons = iconLinks(dashboardFixture(homepage));

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What a stub upstream saw: it answers every request with this as JSON. */
interface Seen {
  stub: string;
  host: string;
  url: string;
  headers: IncomingHttpHeaders;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** An upstream that answers with its own name and what it received. */
function startStub(name: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const seen: Seen = { stub: name, host: req.headers.host ?? "", url: req.url ?? "", headers: req.headers };
      res.writeHead(200, { "content-type": "application/json", "x-stub": name });
      res.end(JSON.stringify(seen));
    });
    // A WebSocket handshake: answer 101 so the test sees the upgrade pass through nginx.
    server.on("upgrade", (req, socket) => {
      socket.end(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nX-Stub: ${name}\r\n\r\n`,
      );
    });
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

let port = 0;
let tmp = "";
let nginx: ChildProcess | undefined;
const stubs: Server[] = [];
let conf = "";

function get(path: string, host: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET", headers: { host, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0) });
    });
    req.on("error", reject);
    req.end();
  });
}

const seen = (r: Reply): Seen => JSON.parse(r.body.toString("utf8")) as Seen;

/** Width and height from a PNG's IHDR chunk. */
function pngSize(data: Buffer): { width: number; height: number } {
  expect(data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

async function waitForPort(p: number, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${readFileSync(log, "utf8")}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host: "127.0.0.1", port: p, path: "/", headers: { host: "probe.invalid" } }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on("error", () => resolve(false));
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not answer on 127.0.0.1:${p} within 10 s`);
}

describe.skipIf(!nginxTier.available)("the portal in a real nginx", () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "homelab-portal-nginx-"));
    // The host receives the bundle; lay out the same files.
    const icons = join(tmp, "icons");
    const favicons = join(tmp, "favicons");
    mkdirSync(icons);
    mkdirSync(favicons);
    for (const [path, content] of bundle) {
      if (path.startsWith("assets/icons/")) writeFileSync(join(icons, path.slice("assets/icons/".length)), content);
    }
    writeFileSync(join(tmp, "custom.js"), bundle.get("generated/custom.js") as string);
    writeFileSync(join(tmp, "site.webmanifest"), bundle.get("assets/site.webmanifest") as string);
    // What portal.nix's runCommand does, with the same tool and the same list.
    const portalData = JSON.parse(bundle.get("generated/portal.json") as string) as {
      favicons: { file: string; size: number; source: string }[];
    };
    for (const f of portalData.favicons) {
      execFileSync(RSVG as string, [
        "-w",
        `${f.size}`,
        "-h",
        `${f.size}`,
        join(icons, f.source),
        "-o",
        join(favicons, f.file),
      ]);
    }

    const upstreamPorts: Record<string, number> = {};
    for (const s of routed) {
      const name = s.id === "portal" ? dashboard.id : s.id;
      const stub = await startStub(name);
      stubs.push(stub.server);
      upstreamPorts[s.id] = stub.port;
    }
    port = await freePort();
    const sites = fillPlaceholders(renderNginxSites(lab, { listen: [`127.0.0.1:${port}`], upstreamPorts }), {
      iconsDir: icons,
      faviconsDir: favicons,
      customJs: join(tmp, "custom.js"),
      webmanifest: join(tmp, "site.webmanifest"),
    });
    writeFileSync(join(tmp, "sites.conf"), sites);
    for (const d of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(tmp, d));
    const root = process.getuid?.() === 0;
    conf = join(tmp, "nginx.conf");
    writeFileSync(
      conf,
      [
        `pid ${tmp}/nginx.pid;`,
        `error_log ${tmp}/error.log info;`,
        "daemon off;",
        "worker_processes 1;",
        // As root, nginx would run its worker as nobody, which cannot read the temp folder.
        ...(root ? ["user root root;"] : []),
        "events { worker_connections 64; }",
        "http {",
        "  include /etc/nginx/mime.types;",
        "  default_type application/octet-stream;",
        "  server_names_hash_bucket_size 64;",
        `  access_log ${tmp}/access.log;`,
        `  client_body_temp_path ${tmp}/client_body;`,
        `  proxy_temp_path ${tmp}/proxy;`,
        `  fastcgi_temp_path ${tmp}/fastcgi;`,
        `  uwsgi_temp_path ${tmp}/uwsgi;`,
        `  scgi_temp_path ${tmp}/scgi;`,
        "  # The NixOS nginx module's own map sits in the same http block; ours must not clash with it.",
        "  map $http_upgrade $connection_upgrade { default upgrade; '' close; }",
        `  include ${tmp}/sites.conf;`,
        "}",
        "",
      ].join("\n"),
    );
    nginx = spawn(NGINX as string, ["-c", conf, "-p", `${tmp}/`, "-e", `${tmp}/error.log`], { stdio: "ignore" });
    await waitForPort(port, nginx, join(tmp, "error.log"));
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx?.once("exit", r));
      nginx.kill("SIGQUIT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (nginx.exitCode === null) nginx.kill("SIGKILL");
    }
    await Promise.all(stubs.map((s) => new Promise((r) => s.close(r))));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("the rendered config passes nginx -t", () => {
    const t = spawnSync(NGINX as string, ["-t", "-c", conf, "-p", `${tmp}/`, "-e", `${tmp}/error.log`], {
      encoding: "utf8",
    });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/syntax is ok/);
    expect(t.stderr).toMatch(/test is successful/);
    expect(t.stderr, "nginx -t warnings").not.toMatch(/\[(warn|emerg|crit|alert)\]/);
  });

  it("routes every routed service's public hostname to that service", async () => {
    for (const s of routed) {
      const r = await get("/some/path?x=1", s.publicHostname as string);
      expect(r.status, s.id).toBe(200);
      const expected = s.id === "portal" ? dashboard.id : s.id;
      expect(seen(r).stub, `Host ${s.publicHostname}`).toBe(expected);
      expect(seen(r).host, `Host passed on for ${s.id}`).toBe(s.publicHostname);
      expect(seen(r).url).toBe("/some/path?x=1");
    }
  });

  it("serves the dashboard on the LAN address, the mDNS name and localhost", async () => {
    for (const host of [lab.config.lanAddress, lab.config.lanHostname, "localhost", `${lab.config.lanHostname}:80`]) {
      const r = await get("/", host);
      expect(r.status, host).toBe(200);
      expect(seen(r).stub, host).toBe(dashboard.id);
    }
  });

  it("answers an unknown Host, and the names of unrouted services, with 404", async () => {
    for (const host of [
      "unknown.example.com",
      "ssh-mcp-home.javiersc.com",
      "docs-home.javiersc.com",
      "immich-home.javiersc.com",
      "mosquitto-home.javiersc.com",
    ]) {
      const r = await get("/", host);
      expect(r.status, host).toBe(404);
      expect(r.headers["x-stub"], host).toBeUndefined();
    }
  });

  it("passes the edge's scheme on, and plain http from the LAN", async () => {
    const viaTunnel = seen(await get("/", "jellyfin-home.javiersc.com", { "x-forwarded-proto": "https" }));
    expect(viaTunnel.headers["x-forwarded-proto"]).toBe("https");
    const fromLan = seen(await get("/", lab.config.lanAddress));
    expect(fromLan.headers["x-forwarded-proto"]).toBe("http");
  });

  it("passes WebSocket upgrades through", async () => {
    const r = await get("/api/websocket", "home-assistant-home.javiersc.com", {
      upgrade: "websocket",
      connection: "Upgrade",
    });
    expect(r.status).toBe(101);
    expect(r.headers["x-stub"]).toBe("home-assistant");
    expect(r.headers.upgrade).toBe("websocket");
  });

  it("serves custom.js on the portal with a JavaScript type and no-cache", async () => {
    for (const host of ["homepage-home.javiersc.com", lab.config.lanAddress]) {
      const r = await get("/api/config/custom.js?v=123", host);
      expect(r.status, host).toBe(200);
      expect(r.headers["content-type"], host).toMatch(/^text\/javascript/);
      expect(r.headers["cache-control"], host).toBe("no-cache");
      expect(r.body.toString("utf8")).toBe(bundle.get("generated/custom.js"));
    }
    // Other routes are the services' own: nginx does not inject the toggle there.
    const jellyfin = await get("/api/config/custom.js", "jellyfin-home.javiersc.com");
    expect(seen(jellyfin).stub).toBe("jellyfin");
  });

  it("serves every local icon under /icons/", async () => {
    const icons = [...bundle.keys()].filter((p) => p.startsWith("assets/icons/") && p.endsWith(".svg"));
    expect(icons.length).toBeGreaterThanOrEqual(4);
    for (const path of icons) {
      const name = path.slice("assets/icons/".length);
      const r = await get(`/icons/${name}`, lab.config.lanHostname);
      expect(r.status, name).toBe(200);
      expect(r.headers["content-type"], name).toBe("image/svg+xml");
      expect(r.body.toString("utf8"), name).toBe(bundle.get(path));
    }
    expect((await get("/icons/missing-logo.svg", lab.config.lanHostname)).status).toBe(404);
  });

  it("serves every card's icon that the dashboard config names", async () => {
    const named = homepage.services.flatMap((g) =>
      Object.values(g)[0].flatMap((c) => Object.values(c).map((card) => card.icon)),
    );
    expect(named.length).toBeGreaterThan(10);
    for (const icon of named) {
      const r = await get(icon, "homepage-home.javiersc.com");
      expect(r.status, icon).toBe(200);
      expect(r.headers["content-type"], icon).toBe("image/svg+xml");
      expect(r.headers["x-stub"], `${icon} reached Homepage`).toBeUndefined();
    }
  });

  it("answers every icon that Homepage's page links, read from its <link> tags", async () => {
    expect(pageIcons.map((l) => l.rel).sort()).toEqual([
      "apple-touch-icon",
      "icon",
      "icon",
      "mask-icon",
      "shortcut icon",
    ]);
    for (const link of pageIcons) {
      const r = await get(link.href, "homepage-home.javiersc.com");
      const what = `${link.rel} ${link.href}`;
      expect(r.status, what).toBe(200);
      expect(r.headers["x-stub"], `${what} reached Homepage`).toBeUndefined();
      if (link.rel === "mask-icon") {
        expect(r.headers["content-type"], what).toBe("image/svg+xml");
        const svg = r.body.toString("utf8");
        expect(svg, what).toMatch(/<svg\b[\s\S]*<path d="/);
        // One colour: Safari paints the shape with the link's color attribute.
        expect(svg, `${what} is not single-colour`).not.toMatch(/fill="#|stroke="#|Gradient|<image|<style|opacity=/);
        continue;
      }
      expect(r.headers["content-type"], what).toBe("image/png");
      const png = decodePng(r.body);
      if (link.sizes) expect(`${png.width}x${png.height}`, what).toBe(link.sizes);
      if (link.rel === "apple-touch-icon") {
        // iOS shows a transparent touch icon on black: every pixel must be opaque.
        let transparent = 0;
        for (let i = 3; i < png.rgba.length; i += 4) if (png.rgba[i] !== 255) transparent++;
        expect(transparent, `${what}: pixels that are not opaque`).toBe(0);
      } else {
        // The favicons keep a transparent background around the snowflake.
        expect(png.rgba[3], `${what}: corner pixel`).toBe(0);
      }
    }
  });

  it("answers every favicon path with the snowflake PNG, never Homepage's", async () => {
    const sizes = Object.fromEntries(FAVICONS.map((f) => [f.file, f.size]));
    const paths: Record<string, string> = {
      ...FAVICON_PATHS,
      "/android-chrome-192x192.png": "android-chrome-192x192.png",
      "/android-chrome-512x512.png": "android-chrome-512x512.png",
    };
    for (const [path, file] of Object.entries(paths)) {
      const r = await get(path, "homepage-home.javiersc.com");
      expect(r.status, path).toBe(200);
      expect(r.headers["content-type"], path).toBe("image/png");
      expect(r.headers["x-stub"], path).toBeUndefined();
      expect(pngSize(r.body), path).toEqual({ width: sizes[file], height: sizes[file] });
    }
    expect((await get("/android-chrome-64x64.png", "homepage-home.javiersc.com")).status).toBe(404);
  });

  it("serves the web manifest, whose icons all resolve", async () => {
    const r = await get("/site.webmanifest", lab.config.lanAddress);
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/manifest+json");
    const manifest = JSON.parse(r.body.toString("utf8")) as { icons: { src: string; type: string }[] };
    expect(manifest.icons.length).toBeGreaterThan(0);
    for (const icon of manifest.icons) {
      const i = await get(icon.src, lab.config.lanAddress);
      expect(i.status, icon.src).toBe(200);
      expect(i.headers["content-type"], icon.src).toBe(icon.type);
    }
  });
});
