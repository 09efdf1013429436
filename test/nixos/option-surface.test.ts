import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, bundleOf, stackFromFile, writeTree } from "./helpers";
import { NIX, NIX_ENV, nixTier } from "./nix-tier";

/*
 * The bundle's surface against nixpkgs: test/nixos/option-surface.json
 * records every option path the modules set and every package attribute
 * they read, with the nixpkgs file and commit it was read at. Reading the
 * modules' text finds the package attributes; evaluating them (stub lib,
 * generated prod data) finds the option paths and puts each value through
 * the type the record gives.
 */
const RECORD_FILE = join(ROOT, "test", "nixos", "option-surface.json");
interface Entry {
  type: string;
  file: string | null;
  commit: string | null;
  status: "verified" | "verified-by-use" | "absent-in-version-read" | "not-read";
  /** A fork of nixpkgs, read when every stored NixOS/nixpkgs version of the file predates the option. */
  repo?: string;
  note?: string;
}
const record = JSON.parse(readFileSync(RECORD_FILE, "utf8")) as {
  options: Record<string, Entry>;
  packages: Record<string, Entry>;
};

const MODULES = join(ROOT, "nixos", "modules");

/** Package attributes a module reads, from its text with comments dropped. */
function packageAttributes(text: string): string[] {
  const code = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n");
  const found = new Set<string>();
  for (const m of code.matchAll(/\bpkgs\.([A-Za-z_][A-Za-z0-9_-]*)/g)) found.add(`pkgs.${m[1]}`);
  for (const m of code.matchAll(/mkPackageOption pkgs "([A-Za-z0-9_-]+)"/g)) found.add(`pkgs.${m[1]}`);
  for (const m of code.matchAll(/\bhass\.package\.([A-Za-z_][A-Za-z0-9_]*)/g)) found.add(`hass.package.${m[1]}`);
  for (const m of code.matchAll(/\bpython3Packages\.([A-Za-z_][A-Za-z0-9_-]*)/g)) found.add(`python3Packages.${m[1]}`);
  for (const m of code.matchAll(/inherit \(python3Packages\) ([A-Za-z_][A-Za-z0-9_ ]*);/g)) {
    for (const name of m[1].trim().split(/\s+/)) found.add(`python3Packages.${name}`);
  }
  return [...found].sort();
}

describe("the record of nixpkgs options and packages", () => {
  it("names, for every entry, a file and a status; verified ones a commit", () => {
    for (const [key, e] of Object.entries({ ...record.options, ...record.packages })) {
      expect(["verified", "verified-by-use", "absent-in-version-read", "not-read"], key).toContain(e.status);
      if (e.status === "verified" || e.status === "absent-in-version-read")
        expect(e.commit, key).toMatch(/^[0-9a-f]{40}$/);
      if (e.status !== "not-read") expect(e.file, key).toBeTruthy();
      if (e.repo !== undefined) {
        expect(e.repo, key).toMatch(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/);
        expect(e.note, key).toMatch(/NixOS\/nixpkgs/);
      }
    }
  });

  it("holds every package attribute the modules read", () => {
    const used = readdirSync(MODULES)
      .filter((f) => f.endsWith(".nix"))
      .flatMap((f) => packageAttributes(readFileSync(join(MODULES, f), "utf8")).map((a) => [a, f] as const));
    expect(used.length).toBeGreaterThan(15);
    const missing = used.filter(([a]) => !(a in record.packages)).map(([a, f]) => `${a} (${f})`);
    expect(missing).toEqual([]);
  });

  it("finds attributes the way the modules spell them", () => {
    expect(
      packageAttributes(`
        # pkgs.inComment is ignored
        x = pkgs.buildHomeAssistantComponent.override { };
        p = lib.mkPackageOption pkgs "backrest" { };
        q = hass.package.python3Packages;
        inherit (python3Packages) python;
        d = [ python3Packages.aiogithubapi ];
      `),
    ).toEqual([
      "hass.package.python3Packages",
      "pkgs.backrest",
      "pkgs.buildHomeAssistantComponent",
      "python3Packages.aiogithubapi",
      "python3Packages.python",
    ]);
  });
});

interface Surface {
  unrecorded: string[];
  errors: string[];
  checked: number;
}
function surfaceCheck(dir: string, overrides?: string): Surface {
  const args = [
    "--store",
    "dummy://",
    "--eval",
    "--strict",
    "--json",
    join(ROOT, "test", "nixos", "surface-check.nix"),
  ];
  args.push("--argstr", "bundle", dir, "--arg", "record", RECORD_FILE);
  if (overrides) args.push("--arg", "overrides", overrides);
  return JSON.parse(execFileSync(NIX as string, args, { env: NIX_ENV, encoding: "utf8", stdio: "pipe" })) as Surface;
}

describe.skipIf(!nixTier.available)("the options the modules set, evaluated against the record's types", () => {
  let dir = "";
  let prod: Surface;
  beforeAll(() => {
    dir = writeTree(bundleOf(stackFromFile("prod")), "homelab-bundle-");
    prod = surfaceCheck(dir);
  });

  it("sets only recorded options under `services`", () => {
    expect(prod.unrecorded).toEqual([]);
    expect(prod.checked).toBeGreaterThan(40);
  });

  it("gives every recorded option a value of nixpkgs' type", () => {
    expect(prod.errors).toEqual([]);
  });

  it("rejects a value nixpkgs would reject, and an option nobody recorded", () => {
    const bad = surfaceCheck(
      dir,
      `{ openthread-border-router = { enable = true; web = { enable = true; listenAddress = "0.0.0.0"; listenPort = "8091"; }; };
         ollama = { enable = true; host = "0.0.0.0"; port = 70000; openFirewall = true; }; }`,
    );
    expect(bad.errors.sort()).toEqual([
      "services.ollama.port: 70000 is not a 16 bit unsigned integer",
      'services.openthread-border-router.web.listenPort: "8091" is not a 16 bit unsigned integer',
    ]);
    expect(bad.unrecorded).toEqual(["services.ollama.openFirewall"]);
  });
});
