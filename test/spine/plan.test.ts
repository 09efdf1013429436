import { mkdtempSync, readFileSync, readdirSync, existsSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStack } from "../../components/config/load";
import { readStackFile } from "../../components/config/file";
import { runPlan } from "../../components/plan/cli";
import { renderOutputs } from "../../components/render/outputs";
import { renderPlan, renderSummary } from "../../components/render/plan";
import { writeTreeAtomically } from "../../components/plan/write";

const ROOT = join(__dirname, "..", "..");
const prod = loadStack("prod", readStackFile(ROOT, "prod")).lab;
const staging = loadStack("staging", readStackFile(ROOT, "staging")).lab;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

function quiet<T>(fn: () => T): T {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = () => true;
  process.stderr.write = () => true;
  try {
    return fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe("the offline plan", () => {
  const plan = renderPlan(prod);

  it("names the stack and the domain", () => {
    expect([plan.stack, plan.domain]).toEqual(["prod", "javiersc.com"]);
  });

  it("lists each service with the fields plan.json promises", () => {
    const jellyfin = plan.services.find((s) => s.id === "jellyfin");
    expect(jellyfin).toEqual({
      id: "jellyfin",
      title: "Jellyfin",
      group: "Media & Entertainment",
      host: "nixos.local",
      port: 8096,
      bind: "0.0.0.0",
      localUrl: "http://192.0.2.10:8096",
      publicHostname: "jellyfin-home.javiersc.com",
      protection: "access",
      status: "enabled",
    });
  });

  it("ends the tunnel ingress with the catch-all and routes every other rule to nginx", () => {
    const ingress = plan.tunnel!.ingress;
    expect(ingress.at(-1)).toEqual({ service: "http_status:404" });
    expect(ingress.slice(0, -1).every((r) => r.hostname && r.service === "http://localhost:80")).toBe(true);
  });

  it("gives the tunnel no rule for the SSH MCP endpoint, pending services or the Pages site", () => {
    const hostnames = plan.tunnel!.ingress.map((r) => r.hostname ?? "");
    expect(hostnames.some((h) => /ssh-mcp|immich|appwrite|penpot|postiz|docs-home/.test(h))).toBe(false);
  });

  it("publishes one proxied CNAME per route, the docs site pointing at Pages", () => {
    const routed = plan.services.filter((s) => s.publicHostname).map((s) => s.publicHostname);
    expect(plan.dns.map((d) => d.name)).toEqual(routed);
    expect(plan.dns.every((d) => d.type === "CNAME" && d.proxied)).toBe(true);
    expect(plan.dns.find((d) => d.name === "docs-home.javiersc.com")?.content).toBe("homelab-docs-prod.pages.dev");
    expect(plan.dns.find((d) => d.name === "jellyfin-home.javiersc.com")?.content).toMatch(/\.cfargotunnel\.com$/);
  });

  it("keeps prod and staging hostnames and tunnels apart", () => {
    const stagingPlan = renderPlan(staging);
    const prodNames = new Set(plan.dns.map((d) => d.name));
    expect(stagingPlan.dns.filter((d) => prodNames.has(d.name))).toEqual([]);
    expect(stagingPlan.tunnel!.name).not.toBe(plan.tunnel!.name);
    expect(stagingPlan.dns.map((d) => d.name)).toContain("jellyfin-staging.javiersc.com");
  });

  it("prints a summary row per service with its host, local URL, public URL and protection", () => {
    const summary = renderSummary(prod);
    expect(summary).toMatch(
      /jellyfin\s+nixos\s+http:\/\/192\.0\.2\.10:8096\s+https:\/\/jellyfin-home\.javiersc\.com\s+access\s+enabled/,
    );
    expect(summary.trim().split("\n")).toHaveLength(prod.services.length + 2);
  });

  it("renders byte-identical files on every run", () => {
    const a = renderOutputs(loadStack("prod", readStackFile(ROOT, "prod")).lab);
    const b = renderOutputs(loadStack("prod", readStackFile(ROOT, "prod")).lab);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [path, content] of a) expect(b.get(path), path).toBe(content);
  });

  it("writes out/<stack>/plan.json through npm start's entry point", () => {
    const out = join(mkdtempSync(join(tmpdir(), "plan-")), "staging");
    expect(quiet(() => runPlan(["--stack", "staging", "--out", out]))).toBe(0);
    const written = JSON.parse(readFileSync(join(out, "plan.json"), "utf8"));
    expect(written.stack).toBe("staging");
    expect(listFiles(out)).toEqual([...renderOutputs(staging).keys()].sort());
  });

  it("exits non-zero and leaves the previous output untouched when the stack is invalid", () => {
    const root = mkdtempSync(join(tmpdir(), "plan-"));
    const out = join(root, "broken");
    mkdirSync(out);
    writeFileSync(join(out, "plan.json"), "previous");
    expect(quiet(() => runPlan(["--stack", "does-not-exist", "--out", out]))).toBe(1);
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe("previous");
    expect(readdirSync(root)).toEqual(["broken"]);
  });

  it("leaves nothing half-written when a file cannot be written", () => {
    const root = mkdtempSync(join(tmpdir(), "plan-"));
    const out = join(root, "out");
    const files = new Map([
      ["a.txt", "a"],
      ["a.txt/b.txt", "cannot exist under a file"],
    ]);
    expect(() => writeTreeAtomically(out, files)).toThrow();
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });
});
