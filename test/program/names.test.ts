import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { ROOT, deployConfigFor, runProgram, type ProgramRun } from "./run";
import { claimState } from "./tree";

vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("./fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "value-of-"),
);

/**
 * Resource names are the state's keys: a name that changes between two runs
 * makes the engine delete the old resource and create a new one, and for a
 * secrets command the delete removes the files the service reads. These
 * tests hold each stack's state, as recorded before hosts were named alike
 * (test/program/urns/<stack>.txt, URNs as the mock monitor builds them),
 * against what the program declares now.
 */

async function run(stack: string, extra: Record<string, string | undefined> = {}): Promise<ProgramRun> {
  vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
  vi.stubEnv("FAKE_OP_VALUES", "{}");
  try {
    const [config, secretKeys] = deployConfigFor(stack);
    return await runProgram(stack, { ...config, ...extra }, secretKeys);
  } finally {
    vi.unstubAllEnvs();
  }
}

const recorded = (stack: string) =>
  readFileSync(join(ROOT, "test", "program", "urns", `${stack}.txt`), "utf8")
    .trim()
    .split("\n");
const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

/** The renames each stack's recorded state goes through, old name → new name. */
const RENAMES: Record<string, Record<string, string>> = {
  prod: {
    "prod-host": "prod-host-nixos",
    "prod-host-preflight": "prod-host-nixos-preflight",
    "prod-host-push": "prod-host-nixos-push",
    "prod-host-rebuild": "prod-host-nixos-rebuild",
    "prod-host-confirm": "prod-host-nixos-confirm",
    "cloudflared-secrets": "cloudflared-nixos-secrets",
    "tailscale-secrets": "tailscale-nixos-secrets",
  },
  staging: {
    "staging-host": "staging-host-nixos-staging",
    "staging-host-preflight": "staging-host-nixos-staging-preflight",
    "staging-host-push": "staging-host-nixos-staging-push",
    "staging-host-rebuild": "staging-host-nixos-staging-rebuild",
    "staging-host-confirm": "staging-host-nixos-staging-confirm",
    "cloudflared-secrets": "cloudflared-nixos-staging-secrets",
  },
  ci: {
    "ci-host": "ci-host-nixos-ci",
    "ci-host-preflight": "ci-host-nixos-ci-preflight",
    "ci-host-push": "ci-host-nixos-ci-push",
    "ci-host-rebuild": "ci-host-nixos-ci-rebuild",
    "ci-host-confirm": "ci-host-nixos-ci-confirm",
  },
  multihost: {
    "multihost-host": "multihost-host-main",
    "multihost-host-preflight": "multihost-host-main-preflight",
    "multihost-host-push": "multihost-host-main-push",
    "multihost-host-rebuild": "multihost-host-main-rebuild",
    "multihost-host-confirm": "multihost-host-main-confirm",
    "cloudflared-secrets": "cloudflared-main-secrets",
    "tailscale-secrets": "tailscale-main-secrets",
  },
};

describe.each(Object.keys(RENAMES))("the %s stack's recorded state", (stack) => {
  it("is taken over whole: every old resource by exactly one new one, the renamed ones through aliases", async () => {
    const r = await run(stack);
    const claims = claimState(r.tree, recorded(stack), stack);
    expect(claims.dropped, "old resources the engine would delete").toEqual([]);
    expect(claims.contested, "old resources two new ones reach for").toEqual([]);
    const renamed = Object.fromEntries(claims.renamed.map(([n, o]) => [nameOf(o), nameOf(n)]));
    expect(renamed).toEqual(RENAMES[stack]);
    expect(r.tree.length, "and nothing new is created").toBe(recorded(stack).length);
  });
});

describe("reordering homelab:hosts", () => {
  /**
   * The multihost stack with its hosts in the other order. Unplaced services
   * go to the first host, so every service is placed where it ran before:
   * only the order changes, not where anything runs.
   */
  function reversed(): Record<string, string> {
    const [config] = deployConfigFor("multihost");
    const hosts = JSON.parse(config["homelab:hosts"]) as Record<string, unknown>;
    const lab = loadStack("multihost", readStackFile(ROOT, "multihost")).lab;
    const placement = Object.fromEntries(
      lab.services
        .filter(
          (s) =>
            s.status === "enabled" &&
            s.entry.runsOn === "host" &&
            s.hostName &&
            !s.entry.everyHostWith &&
            !s.entry.colocateWith,
        )
        .map((s) => [s.id, s.hostName]),
    );
    return {
      "homelab:hosts": JSON.stringify(Object.fromEntries(Object.entries(hosts).reverse())),
      "homelab:placement": JSON.stringify(placement),
    };
  }

  it("renames nothing: every resource keeps its name, its parent and its type", async () => {
    const before = await run("multihost");
    const after = await run("multihost", reversed());
    const shape = (r: ProgramRun) => r.tree.map((n) => `${n.urn} < ${n.parent}`).sort();
    expect(shape(after)).toEqual(shape(before));
  });

  it("takes over the state a run in the old order left, with no alias needed", async () => {
    const before = await run("multihost");
    const after = await run("multihost", reversed());
    const claims = claimState(
      after.tree,
      before.tree.map((n) => n.urn),
      "multihost",
    );
    expect(claims.renamed).toEqual([]);
    expect(claims.dropped).toEqual([]);
  });
});

describe("a one-host stack is a homelab:hosts of one", () => {
  it("declaring its host under homelab:hosts, by the name it already has, renames nothing", async () => {
    const before = await run("prod");
    const [config] = deployConfigFor("prod");
    const raw = readStackFile(ROOT, "prod") as Record<string, string>;
    const after = await run("prod", {
      "homelab:lanAddress": undefined,
      "homelab:lanHostname": undefined,
      "homelab:sshHostKey": undefined,
      "homelab:hosts": JSON.stringify({
        nixos: {
          lanAddress: raw["homelab:lanAddress"],
          lanHostname: raw["homelab:lanHostname"],
          sshHostKey: config["homelab:sshHostKey"],
        },
      }),
    });
    const shape = (r: ProgramRun) => r.tree.map((n) => `${n.urn} < ${n.parent}`).sort();
    expect(shape(after)).toEqual(shape(before));
    const inputs = (r: ProgramRun) => JSON.stringify(r.registered.map((x) => [x.name, x.inputs]));
    expect(inputs(after), "and every resource declares the same inputs").toBe(inputs(before));
  });
});
