import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { loadStack } from "../../components/config/load";
import { readStackFile } from "../../components/config/file";
import { renderOutputs } from "../../components/render/outputs";
import { DEPLOY_CONFIG, ROOT, runProgram, type ProgramRun } from "./run";

const SIG = "4dabf18193072939515e22adb298388d";

vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("./fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "CANARY-"),
);

/** The canaries, raw and as the base64 the secrets stream carries them in. */
const CANARY = /CANARY-|Q0FOQVJZL|eyJ-tunnel-token|ZXlKLXR1bm5lbC10b2tlb|BEGIN OPENSSH PRIVATE KEY/;
const b64 = (s: string) => Buffer.from(s).toString("base64").slice(0, 16);

/** Inputs with every secret-wrapped value removed: what state and diffs show in plaintext. */
function plaintext(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plaintext);
  if (value && typeof value === "object") {
    if (SIG in value) return "[secret]";
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plaintext(v)]));
  }
  return value;
}

describe("secret values under the prod program", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    run = await runProgram(
      "prod",
      { ...DEPLOY_CONFIG, "homelab:generatedCredentialsItem": "homelab prod: generated" },
      ["homelab:sshPrivateKey"],
    );
  });

  it("appear in no registered resource input that is not marked secret", () => {
    for (const r of run.registered) {
      expect(JSON.stringify(plaintext(r.inputs)), `${r.type} ${r.name}`).not.toMatch(CANARY);
    }
  });

  it("appear in no command string", () => {
    for (const r of run.byType("command:remote:Command")) {
      for (const field of ["create", "update", "delete"]) {
        expect(JSON.stringify(r.inputs[field] ?? ""), `${r.name}.${field}`).not.toMatch(CANARY);
      }
    }
  });

  it("reach the host only through a secret stdin", () => {
    const openai = b64("CANARY-op://Homelab/OpenAI/credential");
    const carriers = run.byType("command:remote:Command").filter((r) => JSON.stringify(r.inputs).includes(openai));
    expect(carriers.length).toBeGreaterThan(0);
    for (const r of carriers) expect(r.secretInputs, r.name).toContain("stdin");
  });

  it("hand the tunnel token to the host as a secret", () => {
    const token = b64("eyJ-tunnel-token-for-tunnel-0001");
    const carrier = run.byType("command:remote:Command").find((r) => JSON.stringify(r.inputs).includes(token));
    expect(carrier?.secretInputs).toContain("stdin");
  });

  it("write the generated tunnel token back to 1Password as secret inputs", () => {
    const [item] = run.byType("pulumi-nodejs:dynamic:Resource");
    expect(item.secretInputs).toEqual(expect.arrayContaining(["token", "fields"]));
  });

  it("appear in neither plan.json nor the NixOS bundle", () => {
    const files = renderOutputs(loadStack("prod", readStackFile(ROOT, "prod")).lab);
    for (const [path, content] of files) expect(content, path).not.toMatch(CANARY);
    expect(readFileSync(`${ROOT}/Pulumi.prod.yaml`, "utf8")).not.toContain("CANARY-");
  });
});

describe("the LAN-only ci stack under mocks", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    const values = JSON.stringify({
      "dashboard.hass-token": "CANARY-hass",
      "home-assistant.openai-api-key": "CANARY-openai",
      "home-assistant.anthropic-api-key": "CANARY-anthropic",
      "mosquitto.username": "CANARY-user",
      "mosquitto.password": "CANARY-pass",
    });
    run = await runProgram("ci", { ...DEPLOY_CONFIG, "homelab:secretValues": values }, [
      "homelab:sshPrivateKey",
      "homelab:secretValues",
    ]);
  });

  it("declares no Cloudflare or random resource", () => {
    expect(run.registered.filter((r) => /cloudflare|random/.test(r.type))).toEqual([]);
  });

  it("deploys the host with remote commands, and confirms its switch from the deployer with one local command", () => {
    expect(new Set(run.registered.map((r) => r.type))).toEqual(
      new Set([
        "homelab:index:Homelab",
        "homelab:service:Service",
        "homelab:host:NixosHost",
        "command:remote:Command",
        "command:local:Command",
      ]),
    );
    expect(run.byType("command:local:Command").map((r) => r.name)).toEqual(["ci-host-nixos-ci-confirm"]);
  });

  it("exports only outputs that have values, so the engine prints no undefined-output warning", () => {
    expect(Object.keys(run.outputs).sort()).toEqual([
      "appliedBundleHash",
      "appliedBundleHashes",
      "declaredBundleHash",
      "declaredBundleHashes",
      "hostnames",
      "services",
      "stack",
    ]);
    for (const [k, v] of Object.entries(run.outputs)) expect(v, k).not.toBeUndefined();
  });

  it("keeps the config source's values out of every plaintext input", () => {
    for (const r of run.registered) expect(JSON.stringify(plaintext(r.inputs)), r.name).not.toMatch(CANARY);
  });
});

describe("credentials missing from a stack that keeps them in config", () => {
  it("are all named in one run, as a RunError the runtime prints as text: the login key and each secret value", async () => {
    const { RunError } = await import("@pulumi/pulumi");
    const { "homelab:sshPrivateKey": _key, ...withoutKey } = DEPLOY_CONFIG;
    const failed = await runProgram(
      "ci",
      { ...withoutKey, "homelab:secretValues": JSON.stringify({ "mosquitto.username": "u" }) },
      ["homelab:secretValues"],
    ).catch((e: unknown) => e);
    expect(RunError.isInstance(failed), String(failed)).toBe(true);
    const message = (failed as Error).message;
    expect(message).toMatch(/^stack ci lacks 2 credentials:\n/);
    expect(message).toContain(
      '  - no SSH private key for root@127.0.0.1 (host "nixos-ci"): run pulumi config set --secret homelab:sshPrivateKey',
    );
    expect(message).toContain(
      "  - homelab:secretValues lacks dashboard.hass-token, home-assistant.openai-api-key, home-assistant.anthropic-api-key, mosquitto.password;",
    );
  });
});
