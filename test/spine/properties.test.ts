import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Homelab } from "../../components/catalog/resolve";
import { CATALOG } from "../../components/catalog/services";
import type { ServiceEntry } from "../../components/catalog/types";
import { ValidationError } from "../../components/catalog/validate";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { checkLine, sshTargetCheck } from "../../components/host/commands";
import { renderOutputs } from "../../components/render/outputs";
import { PORTAL_FILES } from "../../components/render/portal";
import { join } from "node:path";

/**
 * Any string in any string field is either refused by validation, or it
 * survives every renderer: it comes back unchanged from the JSON files (which
 * still parse), and the nginx config keeps its shape (no server block more or
 * less, every brace where the renderer put it).
 */

const PROD = readStackFile(join(__dirname, "..", ".."), "prod");
const RUNS = 150;

/** Strings that try to break out: line ends, comment and block syntax, shell and path tricks, odd Unicode. */
const NASTY = [
  "\n",
  "\r",
  "\r\n",
  "\u0000",
  "\t",
  "\u2028",
  "\u2029",
  "\u0085",
  "\ud800",
  "#",
  "{",
  "}",
  ";",
  "}\nserver {",
  '"',
  "'",
  "\\",
  "$(",
  "`",
  "../",
  "//",
  " ",
  "-o",
  "%0a",
  "${",
  "\u202e",
  "é",
  "🙂",
];

/** Mostly plausible values with hostile pieces spliced in, plus arbitrary code points. */
function hostile(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const piece = fc.oneof(valid, fc.constantFrom(...NASTY), fc.string({ unit: "binary", maxLength: 8 }));
  return fc.oneof(
    { arbitrary: valid, weight: 3 },
    { arbitrary: fc.tuple(valid, piece, valid).map(([a, b, c]) => a + b + c), weight: 3 },
    { arbitrary: fc.string({ unit: "binary", maxLength: 80 }), weight: 2 },
    { arbitrary: fc.array(piece, { maxLength: 5 }).map((p) => p.join("")), weight: 2 },
  );
}

const words = fc.stringMatching(/^[A-Za-z0-9 &()'.,:!?-]{1,40}$/);
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);

type Outcome = { refused: true } | { refused: false; lab: Homelab; files: Map<string, string> };

function attempt(config: Record<string, unknown>, catalog: readonly ServiceEntry[] = CATALOG): Outcome {
  let lab: Homelab;
  try {
    lab = loadStack("prod", { ...PROD, ...config }, catalog).lab;
  } catch (err) {
    if (err instanceof ValidationError) return { refused: true };
    throw err;
  }
  return { refused: false, lab, files: renderOutputs(lab) };
}

/** A file of the stack's one host's bundle, whatever the host is named (it follows the LAN hostname). */
function bundleFile(files: Map<string, string>, path: string): string {
  const found = [...files].filter(([p]) => /^hosts\/[^/]+\/nixos\//.test(p) && p.endsWith(`/nixos/${path}`));
  if (found.length !== 1) throw new Error(`${found.length} files ${path} rendered, not one`);
  return found[0][1];
}

/** A JSON file of the plan: plan.json itself, or a file of the host's bundle. */
function json(files: Map<string, string>, path: string): any {
  return JSON.parse(files.get(path) ?? bundleFile(files, path));
}

/** The nginx file's structure: top-level block heads, and that every brace is balanced outside comments. */
function nginxShape(text: string): { heads: string[]; serverNames: string[]; comments: string[] } {
  const heads: string[] = [];
  const serverNames: string[] = [];
  const comments: string[] = [];
  let depth = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#")) {
      comments.push(raw.trimStart());
      continue;
    }
    const opens = (line.match(/\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    if (depth === 0 && opens > 0) heads.push(line.replace(/\s*\{.*$/, ""));
    if (line.startsWith("server_name ")) serverNames.push(...line.slice("server_name ".length, -1).split(" "));
    depth += opens - closes;
    if (depth < 0) throw new Error(`unbalanced } in nginx config: ${line}`);
  }
  if (depth !== 0) throw new Error("unbalanced { in nginx config");
  return { heads, serverNames, comments };
}

/** The shape every valid stack's nginx config has: two maps, then one server per proxied name set. */
function expectNginxShape(files: Map<string, string>, lab: Homelab) {
  const shape = nginxShape(bundleFile(files, PORTAL_FILES.nginx));
  const proxied = json(files, "plan.json").tunnel.ingress.filter((r: { hostname?: string }) => r.hostname).length;
  expect(shape.heads.filter((h) => h.startsWith("map "))).toHaveLength(2);
  expect(shape.heads.filter((h) => h === "server")).toHaveLength(1 + proxied);
  expect(shape.heads).toHaveLength(2 + 1 + proxied);
  return { ...shape, lab };
}

function withEntry(id: string, change: Partial<Record<keyof ServiceEntry, unknown>>): ServiceEntry[] {
  return CATALOG.map((e) => (e.id === id ? ({ ...e, ...change } as ServiceEntry) : e));
}

describe("a string either is refused or round-trips through every renderer", () => {
  it("a service title", () => {
    fc.assert(
      fc.property(hostile(words), (title) => {
        const r = attempt({}, withEntry("radarr", { title }));
        if (r.refused) return;
        const { comments } = expectNginxShape(r.files, r.lab);
        expect(comments).toContain(`# radarr: ${title}`);
        expect(json(r.files, "generated/homelab.json").services.radarr.title).toBe(title);
        expect(json(r.files, "plan.json").services.find((s: { id: string }) => s.id === "radarr").title).toBe(title);
        const cards = json(r.files, PORTAL_FILES.homepage).services.flatMap(
          (g: Record<string, Record<string, unknown>[]>) => Object.values(g)[0],
        );
        expect(cards.some((c: Record<string, unknown>) => title in c)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("a service description", () => {
    fc.assert(
      fc.property(hostile(words), (description) => {
        const r = attempt({}, withEntry("radarr", { description }));
        if (r.refused) return;
        expectNginxShape(r.files, r.lab);
        const cards = json(r.files, PORTAL_FILES.homepage).services.flatMap(
          (g: Record<string, Record<string, { description: string }>[]>) => Object.values(g)[0],
        );
        expect(cards.find((c: Record<string, { description: string }>) => "Radarr" in c).Radarr.description).toBe(
          description,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("a route name", () => {
    fc.assert(
      fc.property(hostile(label), (name) => {
        const r = attempt({}, withEntry("radarr", { route: { name } }));
        if (r.refused) return;
        const { serverNames } = expectNginxShape(r.files, r.lab);
        expect(serverNames).toContain(`${name}-home.javiersc.com`);
        expect(json(r.files, "plan.json").services.find((s: { id: string }) => s.id === "radarr").publicHostname).toBe(
          `${name}-home.javiersc.com`,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("a domain", () => {
    fc.assert(
      fc.property(hostile(fc.tuple(label, label).map(([a, b]) => `${a}.${b}`)), (domain) => {
        const r = attempt({ "homelab:domain": domain });
        if (r.refused) return;
        const { serverNames } = expectNginxShape(r.files, r.lab);
        expect(serverNames).toContain(`radarr-home.${domain}`);
        expect(json(r.files, "plan.json").domain).toBe(domain);
      }),
      { numRuns: RUNS },
    );
  });

  it("the LAN hostname", () => {
    fc.assert(
      fc.property(hostile(fc.tuple(label, label).map(([a, b]) => `${a}.${b}`)), (name) => {
        const r = attempt({ "homelab:lanHostname": name });
        if (r.refused) return;
        const { serverNames } = expectNginxShape(r.files, r.lab);
        expect(serverNames).toContain(name);
        const lan = json(r.files, "generated/homelab.json").lan;
        expect(`${lan.hostName}.${lan.domain}`).toBe(name);
      }),
      { numRuns: RUNS },
    );
  });

  it.each([
    [
      "timeZone",
      fc.constantFrom("UTC", "Europe/Madrid", "America/Argentina/Buenos_Aires", "Etc/GMT+5"),
      (f: Map<string, string>) => json(f, "generated/homelab.json").timeZone,
    ],
    ["tunnelName", label, (f: Map<string, string>) => json(f, "plan.json").tunnel.name],
    [
      "pagesProject",
      label,
      (f: Map<string, string>) =>
        json(f, "plan.json")
          .dns.find((d: { name: string }) => d.name.startsWith("docs-home."))
          .content.replace(/\.pages\.dev$/, ""),
    ],
    [
      "backupBucket",
      fc.stringMatching(/^[A-Za-z0-9-]{6,20}$/),
      (f: Map<string, string>) =>
        json(f, "generated/homelab.json").backups.repository.replace(/^b2:(.*):homelab$/, "$1"),
    ],
    [
      "credentialsDir",
      label.map((l) => `/var/lib/homelab-${l}`),
      (f: Map<string, string>) => json(f, "generated/homelab.json").secretsDir,
    ],
  ] as const)("homelab:%s", (key, valid, readBack) => {
    fc.assert(
      fc.property(hostile(valid as fc.Arbitrary<string>), (value) => {
        const r = attempt({ [`homelab:${key}`]: value });
        if (r.refused) return;
        expectNginxShape(r.files, r.lab);
        expect(readBack(r.files)).toBe(value);
      }),
      { numRuns: RUNS },
    );
  });

  it("homelab:sshHost and homelab:sshUser never become ssh options", () => {
    fc.assert(
      fc.property(hostile(label), hostile(label), (host, user) => {
        const r = attempt({ "homelab:sshHost": host, "homelab:sshUser": user });
        if (r.refused) return;
        expect(r.lab.config.ssh.host.startsWith("-")).toBe(false);
        expect(r.lab.config.ssh.user.startsWith("-")).toBe(false);
        expect(() => sshTargetCheck(r.lab.config.ssh.host, r.lab.config.ssh.port, r.lab.config.ssh.user)).not.toThrow();
      }),
      { numRuns: RUNS },
    );
  });

  it("a health check path reaches the deploy script as one field of one line, unchanged", () => {
    fc.assert(
      fc.property(hostile(fc.stringMatching(/^\/[a-z0-9/._-]{0,20}$/)), (path) => {
        const r = attempt({}, withEntry("radarr", { health: { kind: "http", path } }));
        if (r.refused) return;
        const line = checkLine({ id: "radarr", kind: "http", port: 7878, path });
        expect(line.includes("\n")).toBe(false);
        expect(line.split("\t")).toEqual(["radarr", "http", "7878", path]);
      }),
      { numRuns: RUNS },
    );
  });

  it("a unit name", () => {
    fc.assert(
      fc.property(hostile(label.map((l) => `${l}.service`)), (unit) => {
        const r = attempt({}, withEntry("radarr", { units: [unit] }));
        if (r.refused) return;
        expect(json(r.files, "generated/homelab.json").services.radarr.units).toEqual([unit]);
      }),
      { numRuns: RUNS },
    );
  });

  it("a card link", () => {
    fc.assert(
      fc.property(hostile(label.map((l) => `https://${l}.example.com/`)), (link) => {
        const r = attempt({}, withEntry("cloudflared", { link }));
        if (r.refused) return;
        expect(new URL(link).protocol).toMatch(/^https?:$/);
        const cards = json(r.files, PORTAL_FILES.homepage).services.flatMap(
          (g: Record<string, Record<string, { href: string }>[]>) => Object.values(g)[0],
        );
        expect(
          cards.find((c: Record<string, { href: string }>) => "Cloudflare Tunnel" in c)["Cloudflare Tunnel"].href,
        ).toBe(link);
      }),
      { numRuns: RUNS },
    );
  });

  it("an icon name from an icon set", () => {
    fc.assert(
      fc.property(hostile(label), (mdi) => {
        const r = attempt({}, withEntry("radarr", { icon: { mdi } }));
        if (r.refused) return;
        // Accepted names are plain hyphenated words, so the card always points at the local copy.
        expect(mdi).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
        const cards = json(r.files, PORTAL_FILES.homepage).services.flatMap(
          (g: Record<string, Record<string, { icon: string }>[]>) => Object.values(g)[0],
        );
        expect(cards.find((c: Record<string, { icon: string }>) => "Radarr" in c).Radarr.icon).toBe(
          "/icons/radarr-logo.svg",
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("the generators reach both outcomes, so neither branch is vacuous", () => {
    const outcomes = fc.sample(hostile(words), 300).map((title) => attempt({}, withEntry("radarr", { title })).refused);
    expect(outcomes).toContain(true);
    expect(outcomes).toContain(false);
  });
});
