import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findProgram } from "../support/tiers";
import { bundleOf, stackFromFile, writeTree } from "./helpers";
import { NIX, NIX_ENV, nixTier } from "./nix-tier";

/*
 * The bundle as a flake input of a flake host (homelab:nixosFlake): its
 * flake.nix parses, has no inputs, and exposes nixosModules.default, the
 * module a channel host imports as the bundle directory. `nix flake show`
 * reads it with no network, into a store of its own in a temporary folder.
 */
const NIX_CLI = findProgram("nix", ["/usr/bin/nix"]);

describe.skipIf(!nixTier.available)("the bundle's flake.nix", () => {
  const dir = nixTier.available ? writeTree(bundleOf(stackFromFile("prod")), "homelab-flake-") : "";
  const store = mkdtempSync(join(tmpdir(), "homelab-flake-store-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  });
  const instantiate = (args: string[]) =>
    execFileSync(NIX as string, ["--store", "dummy://", ...args], { env: NIX_ENV, encoding: "utf8", stdio: "pipe" });

  it("parses", () => {
    expect(instantiate(["--parse", join(dir, "flake.nix")])).toContain("outputs");
  });

  it("has no inputs of its own: the host's flake supplies nixpkgs and pins it", () => {
    expect(
      JSON.parse(instantiate(["--eval", "--json", "-E", `builtins.attrNames (import ${join(dir, "flake.nix")})`])),
    ).toEqual(["description", "outputs"]);
  });

  it("exposes nixosModules.default as the bundle's default.nix, the module a channel host imports", () => {
    const out = JSON.parse(
      instantiate([
        "--eval",
        "--strict",
        "--json",
        "-E",
        `let f = import ${join(dir, "flake.nix")}; m = (f.outputs { self = {}; }).nixosModules.default; in [ (builtins.typeOf m) (baseNameOf (toString m)) (toString m == toString ${join(dir, "default.nix")}) ]`,
      ]),
    );
    expect(out).toEqual(["path", "default.nix", true]);
  });

  it("evaluates through the flake to the module that imports every module and sets homelab", () => {
    const out = JSON.parse(
      instantiate([
        "--eval",
        "--strict",
        "--json",
        "-E",
        `let m = import (((import ${join(dir, "flake.nix")}).outputs { self = {}; }).nixosModules.default) { lib.importJSON = f: builtins.fromJSON (builtins.readFile f); };
         in { imports = builtins.length m.imports; stack = m.config.homelab.stack or null; }`,
      ]),
    ) as { imports: number };
    expect(out.imports).toBeGreaterThan(10);
  });

  it.skipIf(!NIX_CLI)("is listed by nix flake show with nixosModules.default, offline, with flakes enabled", () => {
    const shown = execFileSync(
      NIX_CLI as string,
      [
        "--extra-experimental-features",
        "nix-command flakes",
        "--store",
        store,
        "--offline",
        "flake",
        "show",
        "--json",
        `path:${dir}`,
      ],
      {
        env: NIX_ENV,
        encoding: "utf8",
        stdio: "pipe",
      },
    );
    expect(JSON.parse(shown)).toEqual({ nixosModules: { default: { type: "nixos-module" } } });
  });
});
