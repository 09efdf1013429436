/**
 * The docs site's pages and topology as pure renderers: catalog and stack
 * config in, files out. The built site is checked in site.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { enabledServices } from "../../components/catalog/resolve";
import { parseStackConfig } from "../../components/config/schema";
import { docsSiteHash, docsSources, readDocsProject } from "../../components/docs/site";
import {
  DOCS_CONTENT_DIR,
  REDACTED_LAN,
  renderDocsPages,
  SITE_FILE,
  TOPOLOGY_SOURCE_FILE,
} from "../../components/render/docs";
import { renderTopologySvg, topologyMermaid } from "../../components/render/topology";
import { ROOT, secretLooking, STACKS, stackLab } from "./support";

const pageOf = (files: Map<string, string>, path: string) => files.get(`${DOCS_CONTENT_DIR}/${path}`);

describe.each(STACKS)("the %s stack's generated pages", (stack) => {
  const lab = stackLab(stack);
  const files = renderDocsPages(lab);

  it("gives every enabled service a page of its own", () => {
    for (const s of enabledServices(lab)) {
      const page = pageOf(files, `services/${s.id}.md`);
      expect(page, `services/${s.id}.md`).toBeDefined();
      expect(page, s.id).toContain(`title: ${JSON.stringify(s.title)}`);
    }
  });

  it("says only what holds for each service: restarts on secrets only with secrets, a local URL only where one exists, no empty table header", () => {
    for (const s of enabledServices(lab)) {
      const text = pageOf(files, `services/${s.id}.md`) as string;
      expect(text.includes("restart when one of the service's secret files changes"), s.id).toBe(
        s.secrets.length > 0 && s.units.length > 0,
      );
      if (s.entry.runsOn === "pages") expect(text, s.id).not.toContain("use the local URL");
      expect(text, s.id).not.toMatch(/^\|(\s*\|)+\s*$/m);
    }
    for (const text of files.values()) expect(text).not.toMatch(/^\|(\s*\|)+\s*$/m);
  });

  it("gives each local URL the scheme its service speaks: MQTT for the broker", () => {
    const mosquitto = enabledServices(lab).find((s) => s.id === "mosquitto");
    if (!mosquitto) return expect(stack, "a stack without the broker").not.toBe("prod");
    expect(pageOf(files, "services/mosquitto.md")).toContain("- Local URL: `mqtt://127.0.0.1:1883`");
    expect(pageOf(files, "services/index.md")).not.toContain("http://127.0.0.1:1883");
  });

  it("lists every pending service as pending, and gives none a page", () => {
    const index = pageOf(files, "services/index.md") as string;
    const pending = lab.services.filter((s) => s.status === "pending");
    const section = index.slice(index.indexOf("\n## Pending\n"));
    expect(section.length, "a Pending section").toBeLessThan(index.length);
    for (const s of pending) {
      expect(section, s.id).toContain(`- ${s.title}: ${s.entry.description}\n`);
      expect(index.indexOf(`${s.title}:`), `${s.id} only under Pending`).toBe(
        index.indexOf(section) + section.indexOf(`${s.title}:`),
      );
      expect(files.has(`${DOCS_CONTENT_DIR}/services/${s.id}.md`), s.id).toBe(false);
    }
  });

  it("lists every service open on the LAN without a login, with the catalog's reason, and no other", () => {
    const index = pageOf(files, "services/index.md") as string;
    const start = index.indexOf("\n## Open on the LAN\n");
    expect(start, "an Open on the LAN section").toBeGreaterThan(0);
    const section = index.slice(start, index.indexOf("\n## ", start + 1));
    const lanBound = enabledServices(lab).filter((s) => s.bind === "0.0.0.0");
    for (const s of lanBound) {
      const line = section.split("\n").find((l) => l.startsWith(`- [${s.title}](/services/${s.id}/)`));
      if (s.entry.lanOpen) {
        expect(line, `${s.id} is open on the LAN and listed`).toBeDefined();
        expect(line, s.id).toContain(`port ${s.port}`);
        expect(line!.replace(/\\/g, ""), s.id).toContain(s.entry.lanOpen);
      } else {
        expect(line, `${s.id} asks for a login and is not listed as open`).toBeUndefined();
      }
    }
  });

  it("says on each LAN-bound service's page how a LAN client gets in", () => {
    for (const s of enabledServices(lab).filter((x) => x.bind === "0.0.0.0")) {
      const text = (pageOf(files, `services/${s.id}.md`) as string).replace(/\\/g, "");
      if (s.entry.login) expect(text, s.id).toContain(`- Login on the LAN: ${s.entry.login}`);
      else expect(text, s.id).toContain(`- Open on the LAN, without a login: ${s.entry.lanOpen}`);
    }
    for (const s of enabledServices(lab).filter((x) => x.bind !== "0.0.0.0")) {
      expect(pageOf(files, `services/${s.id}.md`), s.id).not.toMatch(/on the LAN(, without a login)?: /);
    }
  });

  it("starts every generated page with the generated header, inside its front matter", () => {
    for (const [path, content] of files) {
      if (!path.endsWith(".md")) continue;
      expect(content.split("\n").slice(0, 3).join("\n"), path).toMatch(
        /^---\n# Generated by homelab .*\n# Do not edit/,
      );
    }
  });

  it("names each secret by its 1Password reference and file, never a value", () => {
    for (const s of enabledServices(lab)) {
      const page = pageOf(files, `services/${s.id}.md`) as string;
      for (const x of s.secrets) {
        if (x.ref !== "generated" && lab.config.secrets.source === "1password") expect(page, x.key).toContain(x.ref);
        expect(page, x.key).toContain(x.path);
      }
    }
    for (const [path, content] of files) expect(secretLooking(content), path).toEqual([]);
  });

  it("shows the health check, the units and the backup paths of every service", () => {
    for (const s of enabledServices(lab)) {
      const page = pageOf(files, `services/${s.id}.md`) as string;
      for (const u of s.units) expect(page, `${s.id} unit ${u}`).toContain(u);
      for (const p of s.backup.paths) expect(page, `${s.id} backup ${p}`).toContain(p);
      if (s.health.kind === "http") expect(page, s.id).toContain(`http://127.0.0.1:${s.port}${s.health.path}`);
    }
  });

  it("is deterministic", () => {
    expect(renderDocsPages(stackLab(stack))).toEqual(files);
  });
});

describe("the LAN address on the site", () => {
  it("is left out of the prod and staging pages by default, written as the owner's pages write it", () => {
    for (const stack of ["prod", "staging"]) {
      const lab = stackLab(stack);
      for (const [path, content] of renderDocsPages(lab))
        expect(content.includes(lab.config.lanAddress), `${stack} ${path}`).toBe(false);
      expect(pageOf(renderDocsPages(lab), "services/index.md")).toContain(`http://${REDACTED_LAN}:8123`);
    }
  });

  it("is left out of every page of the two-host stack too, each host's address and the tunnel's origins alike", () => {
    const lab = stackLab("multihost");
    const addresses = (lab.config.hosts ?? []).map((h) => h.lanAddress);
    expect(addresses.length).toBeGreaterThan(1);
    for (const [path, content] of renderDocsPages(lab)) {
      for (const address of addresses) expect(content.includes(address), `multihost ${path}: ${address}`).toBe(false);
    }
    const shown = stackLab("multihost", { "homelab:docsShowLanAddresses": "true" });
    expect([...renderDocsPages(shown).values()].some((c) => c.includes(addresses[1]))).toBe(true);
  });

  it("is shown when the owner opts in with homelab:docsShowLanAddresses", () => {
    const lab = stackLab("prod", { "homelab:docsShowLanAddresses": "true" });
    expect(pageOf(renderDocsPages(lab), "services/index.md")).toContain("http://192.0.2.10:8123");
  });

  it("does not show the mDNS alias for loopback-only services", () => {
    const index = pageOf(renderDocsPages(stackLab("prod")), "services/index.md") as string;
    const row = index.split("\n").find((l) => l.startsWith("| [Homelab SSH MCP]"));
    expect(row).toContain("`http://127.0.0.1:19000` | — |");
  });
});

describe("the topology", () => {
  it("draws Internet → Access → tunnel → cloudflared → nginx → each routed host service for prod", () => {
    const text = topologyMermaid(stackLab("prod"));
    for (const edge of [
      "internet --> access",
      "access --> tunnel",
      "tunnel --> cloudflared_nixos",
      "cloudflared_nixos --> nginx",
      "nginx --> svc_jellyfin",
      "access --> pages",
    ]) {
      expect(text, edge).toContain(edge);
    }
    expect(text).toContain("1Password<br/>vault Homelab");
    expect(text).toContain("svc_backrest -->|restic daily| b2");
    expect(text).not.toContain("nginx --> svc_ssh_mcp");
  });

  it("has no Cloudflare in the LAN-only ci stack", () => {
    const text = topologyMermaid(stackLab("ci"));
    expect(text).not.toMatch(/Cloudflare|internet|tunnel/);
    expect(text).toContain("lan --> nginx");
  });

  it("keeps the README's prod picture identical to what the renderer draws, with no remote font", async () => {
    const svg = await renderTopologySvg(stackLab("prod"));
    expect(svg).toMatch(/^<svg /);
    expect(svg).not.toMatch(/@import|https:\/\//);
    expect(
      readFileSync(join(ROOT, "docs", "topology-prod.svg"), "utf8"),
      "docs/topology-prod.svg is stale: run npm run readme:topology",
    ).toBe(svg);
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("](docs/topology-prod.svg)");
  });
});

describe("the docs site's inputs", () => {
  const lab = stackLab("prod");

  it("refuse a hand-written page where a generated one goes", () => {
    const project = new Map(readDocsProject());
    project.set(`${DOCS_CONTENT_DIR}/services/jellyfin.md`, "---\ntitle: mine\n---\n");
    expect(() => docsSources(lab, project)).toThrow(/services\/jellyfin\.md.*notes/);
  });

  it("hash to the same value until a page, the topology or the toolchain changes", () => {
    const sources = docsSources(lab);
    const versions = { astro: "5.18.2", "@astrojs/starlight": "0.37.7", "beautiful-mermaid": "1.1.3" };
    const base = docsSiteHash(lab, sources, versions);
    expect(docsSiteHash(lab, new Map(sources), { ...versions })).toBe(base);
    const notes = new Map(sources).set(
      "src/content/docs/notes/about.md",
      `${sources.get("src/content/docs/notes/about.md")}\nOne more line.\n`,
    );
    expect(docsSiteHash(lab, notes, versions)).not.toBe(base);
    expect(docsSiteHash(lab, new Map(sources).set(TOPOLOGY_SOURCE_FILE, "flowchart LR\n"), versions)).not.toBe(base);
    expect(docsSiteHash(lab, sources, { ...versions, astro: "5.18.3" })).not.toBe(base);
  });

  it("carry the stack's title and URL for astro.config.mjs", () => {
    expect(JSON.parse(renderDocsPages(lab).get(SITE_FILE) as string)).toEqual({
      stack: "prod",
      title: "Home lab (prod)",
      site: "https://docs-home.javiersc.com",
    });
  });
});

describe("docs stack config", () => {
  const base = { domain: "javiersc.com", lanAddress: "192.0.2.10", edge: "none" };

  it("defaults to uploading with pulumi up, with LAN addresses hidden", () => {
    expect(parseStackConfig("prod", base).config?.docs).toEqual({
      source: { kind: "upload" },
      showLanAddresses: false,
    });
  });

  it("takes a repository for Pages to build, with the stack's build command and output folder by default", () => {
    const { config, problems } = parseStackConfig("prod", {
      ...base,
      docsSource: "git",
      docsRepository: "github:javiersc/homelab",
    });
    expect(problems).toEqual([]);
    expect(config?.docs?.source).toEqual({
      kind: "git",
      provider: "github",
      owner: "javiersc",
      repo: "homelab",
      branch: "main",
      buildCommand: "npm run docs -- --stack prod",
      outputDir: "out/prod/docs",
    });
  });

  it("names the key and the fix when git has no repository, a repository is malformed, or git-only keys come with upload", () => {
    const keys = (raw: Record<string, unknown>) =>
      parseStackConfig("prod", { ...base, ...raw }).problems.map((p) => p.key);
    expect(keys({ docsSource: "git" })).toEqual(["homelab:docsRepository"]);
    expect(keys({ docsSource: "git", docsRepository: "javiersc/homelab" })).toEqual(["homelab:docsRepository"]);
    expect(keys({ docsSource: "git", docsRepository: "github:a/b", docsOutputDir: "../site" })).toEqual([
      "homelab:docsOutputDir",
    ]);
    expect(keys({ docsBuildCommand: "make" })).toEqual(["homelab:docsBuildCommand"]);
    expect(keys({ docsSource: "ftp" })).toEqual(["homelab:docsSource"]);
  });
});

describe("the config keys the pages teach", () => {
  it.each(["prod", "staging", "ci", "multihost"])(
    "are all keys the %s stack's program accepts, none of them a renamed one",
    async (stack) => {
      const { CONFIG_KEYS, RENAMED_KEYS } = await import("../../components/config/schema");
      const named = new Set<string>();
      for (const content of renderDocsPages(stackLab(stack)).values()) {
        // A key, not a resource type token such as homelab:cloudflare:Tunnel.
        for (const m of content.matchAll(/homelab:([A-Za-z][A-Za-z0-9]*)(?![A-Za-z0-9:])/g)) named.add(m[1]);
      }
      expect(named.size).toBeGreaterThan(3);
      const unknown = [...named].filter((k) => !(k in CONFIG_KEYS) && !/^sshPrivateKey[A-Z]/.test(k));
      expect(unknown, "keys the schema does not know").toEqual([]);
      expect([...named].filter((k) => k in RENAMED_KEYS)).toEqual([]);
    },
  );
});

describe("the configuration reference page", () => {
  it("has one row per key the schema accepts, with its type and whether it is secret", async () => {
    const { CONFIG_KEYS } = await import("../../components/config/schema");
    const text = pageOf(renderDocsPages(stackLab("prod")), "reference/configuration.md") as string;
    const rows = [...text.matchAll(/^\| `homelab:([A-Za-z]+)` \| (\S+) \| ([^|]+) \|/gm)];
    expect(rows.map((r) => r[1]).sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
    const row = (key: string) => rows.find((r) => r[1] === key) as RegExpMatchArray;
    expect(row("services")[2]).toBe("list");
    expect(row("lanAddress")[3].trim()).toBe("required");
    expect(row("sshPrivateKey")[3].trim()).toContain("secret");
  });
});

describe("the README", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  it("is the front door: at most 250 lines, the reference is on the site", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(250);
  });

  it("has exactly the two set-up commands, and names every operator page, each of which exists", async () => {
    expect(readme).toContain("npm ci && npm start\n");
    expect(readme).toContain("npm ci && bash test/install-deps.sh && npm test\n");
    const { readdirSync } = await import("node:fs");
    const pages = readdirSync(join(ROOT, "docs", "src", "content", "docs", "operator")).sort();
    expect(pages.length).toBeGreaterThan(5);
    const named = [...readme.matchAll(/^\| `([a-z-]+\.md)` \|/gm)].map((m) => m[1]).sort();
    expect(named).toEqual(pages);
  });
});
