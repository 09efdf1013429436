import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sshdTier, startTestHost, testHostRoot, type TestHost } from "../host/support/testhost";
import { engineMissing, pluginVersion, recorder, type Step } from "./support";

/**
 * The ci stack through the real Pulumi engine, with the Automation API: the
 * CLI, the Node.js language host and the command provider plugin run the
 * program exactly as `pulumi up` would, against the throwaway sshd test host.
 * The project is copied to a scratch directory first, so the stack settings
 * the engine writes never touch the repository's Pulumi.ci.yaml.
 *
 * The stack runs one service, Tailscale: it has a secret and no health check,
 * so the fake host needs no listeners on the catalog's fixed ports.
 */
const ROOT = join(__dirname, "..", "..");

const missing = engineMissing([{ name: "command", version: pluginVersion("@pulumi/command") }]);
const sshd = missing ? { available: false } : sshdTier();
if (missing) process.stderr.write(`\n[SKIPPED] engine tier skipped: ${missing}\n`);

type Ops = Map<string, Step>;

/** What the program's own resources went through: the engine's stack resource and default providers left out. */
const changed = (ops: Ops) =>
  [...ops]
    .filter(([name, { op }]) => op !== "same" && name !== "homelab-ci" && !name.startsWith("default"))
    .map(([name, { op }]) => `${name}:${op}`)
    .sort();

describe.skipIf(missing !== undefined || !sshd.available)("the ci stack through the real Pulumi engine", () => {
  let host: TestHost;
  let scratch: string;
  let stack: Stack;
  let secretFile: string;

  beforeAll(async () => {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    host = await startTestHost();
    scratch = mkdtempSync(join(tmpdir(), "homelab-engine-"));
    const project = join(scratch, "project");
    for (const entry of [
      "Pulumi.yaml",
      "Pulumi.ci.yaml",
      "package.json",
      "tsconfig.json",
      "index.ts",
      "components",
      "nixos",
      "assets",
    ]) {
      cpSync(join(ROOT, entry), join(project, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    mkdirSync(join(scratch, "state"));
    stack = await LocalWorkspace.createOrSelectStack(
      { stackName: "ci", workDir: project },
      {
        envVars: {
          PULUMI_BACKEND_URL: `file://${join(scratch, "state")}`,
          PULUMI_CONFIG_PASSPHRASE: "engine-tier",
          PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
          PULUMI_SKIP_UPDATE_CHECK: "true",
          // The host directories below are the test host's, checked below its root (components/config/pulumi.ts).
          HOMELAB_TEST_HOST_ROOT: testHostRoot(host.paths) ?? "",
        },
      },
    );
    const t = host.target();
    await stack.setAllConfig({
      "homelab:services": { value: JSON.stringify(["tailscale"]) },
      "homelab:sshHost": { value: t.host },
      "homelab:sshPort": { value: String(t.port) },
      "homelab:sshHostKey": { value: t.hostKey },
      "homelab:sshPrivateKey": { value: t.privateKey, secret: true },
      "homelab:bundleDir": { value: host.paths.bundleDir },
      "homelab:credentialsDir": { value: host.paths.secretsDir },
      "homelab:stateDir": { value: host.paths.stateDir },
      "homelab:secretValues": { value: JSON.stringify({ "tailscale.auth-key": "tskey-first" }), secret: true },
    });
    secretFile = join(host.paths.secretsDir, "tailscale", "auth-key");
  }, 120_000);

  afterAll(async () => {
    await stack?.workspace.removeStack("ci", { force: true }).catch(() => undefined);
    await host?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("previews, then creates the tree and deploys the host", async () => {
    const preview = await stack.preview();
    expect(preview.changeSummary.create, preview.stdout).toBeGreaterThan(0);
    const rec = recorder();
    const up = await stack.up({ onEvent: rec.onEvent });
    expect(up.summary.result).toBe("succeeded");
    expect(changed(rec.steps)).toEqual(
      [
        "ci:create",
        "ci-host-nixos-ci:create",
        "ci-host-nixos-ci-preflight:create",
        "ci-host-nixos-ci-push:create",
        "ci-host-nixos-ci-rebuild:create",
        "ci-host-nixos-ci-confirm:create",
        "tailscale:create",
        "tailscale-nixos-ci-secrets:create",
      ].sort(),
    );
    expect(readFileSync(secretFile, "utf8")).toBe("tskey-first");
    expect(host.generation()).toBeGreaterThan(0);
  });

  it("then previews no change", async () => {
    const preview = await stack.preview({ expectNoChanges: true });
    expect(Object.keys(preview.changeSummary)).toEqual(["same"]);
  });

  it("rotating the secret replaces only the service's secrets command (and the preflight)", async () => {
    await stack.setConfig("homelab:secretValues", {
      value: JSON.stringify({ "tailscale.auth-key": "tskey-second" }),
      secret: true,
    });
    const rec = recorder();
    await stack.up({ onEvent: rec.onEvent });
    expect(changed(rec.steps)).toEqual(["ci-host-nixos-ci-preflight:replace", "tailscale-nixos-ci-secrets:replace"]);
    expect(readFileSync(secretFile, "utf8")).toBe("tskey-second");
    await stack.preview({ expectNoChanges: true });
  });

  it("a secret file changed on the host shows in preview and up puts it back", async () => {
    writeFileSync(secretFile, "changed by hand");
    const preview = await stack.preview();
    expect(preview.changeSummary.replace ?? 0, preview.stdout).toBeGreaterThan(0);
    expect(preview.stdout).toContain("secret file tailscale.auth-key on host differs from declared");
    await stack.up();
    expect(readFileSync(secretFile, "utf8")).toBe("tskey-second");
    await stack.preview({ expectNoChanges: true });
  });

  it("the same hand edit made again is found and repaired again", async () => {
    writeFileSync(secretFile, "changed by hand");
    const rec = recorder();
    await stack.up({ onEvent: rec.onEvent });
    expect(changed(rec.steps)).toEqual(["ci-host-nixos-ci-preflight:replace", "tailscale-nixos-ci-secrets:replace"]);
    expect(readFileSync(secretFile, "utf8")).toBe("tskey-second");
    await stack.preview({ expectNoChanges: true });
  });

  it("a bundle change pushes and rebuilds, and leaves the secrets command alone", async () => {
    await stack.setConfig("homelab:timeZone", { value: "Europe/Madrid" });
    const rec = recorder();
    await stack.up({ onEvent: rec.onEvent });
    expect(changed(rec.steps)).toEqual([
      "ci-host-nixos-ci-confirm:replace",
      "ci-host-nixos-ci-preflight:replace",
      "ci-host-nixos-ci-push:replace",
      "ci-host-nixos-ci-rebuild:replace",
    ]);
    expect(readFileSync(join(host.paths.bundleDir, "generated", "homelab.json"), "utf8")).toContain("Europe/Madrid");
  });

  it("a new address for the host updates its commands in place: the secrets command writes there, and no delete runs", async () => {
    // The same machine under another name: what a service moved to another host, with the same paths and login key, looks like to the engine.
    await stack.setConfig("homelab:sshHost", { value: "localhost" });
    const sshBefore = host.sshLog().length;
    const rec = recorder();
    const up = await stack.up({ onEvent: rec.onEvent });
    expect(up.summary.result).toBe("succeeded");
    const ops = changed(rec.steps);
    expect(
      ops.filter((o) => o.startsWith("tailscale-nixos-ci-secrets:")),
      up.stdout,
    ).toEqual(["tailscale-nixos-ci-secrets:update"]);
    expect(
      ops.filter((o) => /:(replace|delete)$/.test(o) && !o.startsWith("ci-host-nixos-ci-preflight")),
      "nothing replaced or deleted",
    ).toEqual([]);
    expect(
      host
        .sshLog()
        .slice(sshBefore)
        .filter((c) => c.includes("secrets --service tailscale")),
      "the secrets command ran again, through the new address",
    ).toHaveLength(1);
    expect(readFileSync(secretFile, "utf8")).toBe("tskey-second");
    await stack.preview({ expectNoChanges: true });
  });

  it("a host whose state directory is gone (a reinstall) is deployed again in full", async () => {
    rmSync(host.paths.stateDir, { recursive: true, force: true });
    rmSync(host.paths.secretsDir, { recursive: true, force: true });
    const preview = await stack.preview();
    expect(preview.changeSummary.replace ?? 0, preview.stdout).toBeGreaterThanOrEqual(4);
    const rec = recorder();
    await stack.up({ onEvent: rec.onEvent });
    expect(changed(rec.steps)).toEqual([
      "ci-host-nixos-ci-confirm:replace",
      "ci-host-nixos-ci-preflight:replace",
      "ci-host-nixos-ci-push:replace",
      "ci-host-nixos-ci-rebuild:replace",
      "tailscale-nixos-ci-secrets:replace",
    ]);
    expect(readFileSync(secretFile, "utf8")).toBe("tskey-second");
    await stack.preview({ expectNoChanges: true });
  });

  it("a state written before hosts were named alike (ci-host, tailscale-secrets) is taken over by the aliases: every step is same", async () => {
    // The state as the earlier program left it: the host component plainly `ci-host`, its commands after it, and the tailnet's secrets command without the host's name.
    const current = await stack.exportStack();
    const former = JSON.stringify(current.deployment)
      .replaceAll("::ci-host-nixos-ci", "::ci-host")
      .replaceAll("::tailscale-nixos-ci-secrets", "::tailscale-secrets");
    expect(former, "the rewrite found the names").toContain("::ci-host-preflight");
    await stack.importStack({ version: current.version, deployment: JSON.parse(former) });
    const rec = recorder();
    const up = await stack.up({ onEvent: rec.onEvent });
    expect(up.summary.result).toBe("succeeded");
    expect(changed(rec.steps), up.stdout).toEqual([]);
    expect(readFileSync(secretFile, "utf8"), "no delete ran against the host").toBe("tskey-second");
    const after = JSON.stringify((await stack.exportStack()).deployment);
    expect(after).toContain("::ci-host-nixos-ci-preflight");
    expect(after).not.toContain("::ci-host-preflight");
    expect(after).not.toContain("::tailscale-secrets");
    await stack.preview({ expectNoChanges: true });
  });

  it("destroy removes the secret files from the host", async () => {
    const result = await stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    expect(existsSync(secretFile)).toBe(false);
  });
});
