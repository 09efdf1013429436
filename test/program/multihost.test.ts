import { beforeAll, describe, expect, it, vi } from "vitest";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { HEALTH_CHECKS_PATH, SECRET_FILES_PATH, bundleStdin } from "../../components/host/bundle";
import { renderHostBundles } from "../../components/render/nixos";
import { DEPLOY_CONFIG, GPU_KEY, ROOT, UNKNOWN, deployConfigFor, runProgram, type ProgramRun } from "./run";

vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("./fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "value-of-"),
);

/**
 * The two-host example stack (Pulumi.multihost.yaml) under strict mocks: one
 * NixosHost per machine, each with its own bundle, secrets and stages, the
 * GPU box first as the rollout's canary, and one tunnel whose rules reach
 * each service on its own host.
 */

const STACK = "multihost";
/** What the owner sets before `pulumi up`: real Cloudflare ids, each host's pinned key, both login keys. */
const deployConfig = () => deployConfigFor(STACK)[0];

async function run(onePassword: Record<string, string> = {}): Promise<ProgramRun> {
  vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
  vi.stubEnv("FAKE_OP_VALUES", JSON.stringify(onePassword));
  try {
    return await runProgram(STACK, deployConfig(), ["homelab:sshPrivateKey", "homelab:sshPrivateKeyGpu"]);
  } finally {
    vi.unstubAllEnvs();
  }
}

const lab = loadStack(STACK, readStackFile(ROOT, STACK)).lab;
/** A value with the mock monitor's secret wrappers taken off. */
const unwrap = (v: unknown): unknown => {
  const o = v as Record<string, unknown> | undefined;
  return o && typeof o === "object" && "4dabf18193072939515e22adb298388d" in o ? unwrap(o.value) : v;
};
const plainText = (v: unknown): string => {
  const u = unwrap(v);
  return typeof u === "string" ? u : JSON.stringify(u);
};
const connectionOf = (inputs: Record<string, unknown>) => unwrap(inputs.connection) as Record<string, unknown>;

describe("the two-host stack's resource tree", () => {
  let r: ProgramRun;
  beforeAll(async () => {
    r = await run();
  }, 120_000);

  const command = (name: string) => r.registered.find((x) => x.type === "command:remote:Command" && x.name === name);
  const node = (name: string) => r.tree.find((n) => n.name === name)!;

  it("declares one NixosHost per host under the root: each named after its host", () => {
    const hosts = r.tree.filter((n) => n.type === "homelab:host:NixosHost");
    expect(hosts.map((n) => n.name).sort()).toEqual([`${STACK}-host-gpu`, `${STACK}-host-main`]);
    for (const h of hosts) expect(h.parent, h.name).toBe(r.tree[0].urn);
  });

  it("gives each host its own preflight, push and rebuild, connected to that host with its own login key", () => {
    for (const [host, address, key] of [
      [`${STACK}-host-main`, "192.0.2.10", DEPLOY_CONFIG["homelab:sshPrivateKey"]],
      [`${STACK}-host-gpu`, "192.0.2.30", GPU_KEY],
    ]) {
      const stages = r.tree
        .filter((n) => n.parent === node(host).urn && n.type === "command:remote:Command")
        .map((n) => n.name);
      expect(stages, host).toEqual([`${host}-preflight`, `${host}-push`, `${host}-rebuild`]);
      for (const stage of stages) {
        const connection = connectionOf(command(stage)!.inputs);
        expect(plainText(connection.host), stage).toBe(address);
        expect(plainText(connection.privateKey), stage).toBe(key);
      }
    }
  });

  it("pushes each host exactly its own bundle: the GPU box gets Ollama and LiteLLM, the main box the rest", () => {
    const bundles = renderHostBundles(lab);
    expect(plainText(command(`${STACK}-host-gpu-push`)!.inputs.stdin)).toBe(bundleStdin(bundles.get("gpu")!));
    expect(plainText(command(`${STACK}-host-main-push`)!.inputs.stdin)).toBe(bundleStdin(bundles.get("main")!));
    const gpuData = JSON.parse(bundles.get("gpu")!.get("generated/homelab.json")!);
    expect(Object.keys(gpuData.services).sort()).toEqual(["cloudflared", "litellm", "ollama"]);
  });

  it("health-checks on each host only the services it runs, from the list in that host's pushed release", () => {
    const bundles = renderHostBundles(lab);
    const checked = (host: string) =>
      bundles
        .get(host)!
        .get(HEALTH_CHECKS_PATH)!
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => l.split("\t")[0]);
    expect(checked("gpu").sort()).toEqual(["litellm", "ollama"]);
    expect(checked("main")).toContain("home-assistant");
    expect(checked("main")).not.toContain("ollama");
    expect(bundles.get("gpu")!.get(SECRET_FILES_PATH)).toContain("/backrest/restic-password\n");
    const gpu = String(command(`${STACK}-host-gpu-rebuild`)!.inputs.create);
    const main = String(command(`${STACK}-host-main-rebuild`)!.inputs.create);
    expect(gpu, "a failed rebuild names its host").toContain("the rebuild of host gpu failed");
    expect(main).toContain("the rebuild of host main failed");
  });

  it("writes each service's secrets on its own host; the connector's tunnel token on every host with a route", () => {
    const secrets = r.tree.filter((n) => n.type === "command:remote:Command" && n.name.endsWith("-secrets"));
    const on = (name: string) => plainText(connectionOf(command(name)!.inputs).host);
    expect(on("cloudflared-main-secrets")).toBe("192.0.2.10");
    expect(on("cloudflared-gpu-secrets")).toBe("192.0.2.30");
    expect(on("mosquitto-secrets")).toBe("192.0.2.10");
    for (const s of secrets) {
      const owner = r.tree.find((n) => n.urn === s.parent)!;
      expect(owner.type, s.name).toBe("homelab:service:Service");
      expect(s.name.startsWith(owner.name), s.name).toBe(true);
    }
  });

  it("gives the GPU box the backup credentials its restic job needs, written by a command under Backrest", () => {
    const cmd = command("backrest-gpu-secrets")!;
    expect(plainText(connectionOf(cmd.inputs).host)).toBe("192.0.2.30");
    expect(r.tree.find((n) => n.urn === node("backrest-gpu-secrets").parent)?.name).toBe("backrest");
    const stream = plainText(cmd.inputs.stdin);
    for (const name of ["restic-password", "b2-account-id", "b2-account-key"])
      expect(stream).toContain(`\tbackrest.${name}\t`);
    // restic reads them at each run; there is no Backrest unit on the GPU box to restart.
    expect(stream).not.toContain("backrest.service");
    expect(plainText(connectionOf(command("backrest-secrets")!.inputs).host)).toBe("192.0.2.10");
  });

  it("deploys the rollout's canary first: the main box's preflight waits for the GPU box's confirmed rebuild", () => {
    expect(node(`${STACK}-host-main-preflight`).dependencies).toContain(node(`${STACK}-host-gpu-confirm`).urn);
    expect(
      node(`${STACK}-host-gpu-preflight`).dependencies.some((u) => u.includes(`${STACK}-host-main-rebuild`)),
      "the canary waits for nothing",
    ).toBe(false);
  });

  it("keeps one tunnel whose rules reach each service on the LAN address of its host", () => {
    const tunnels = r.tree.filter((n) => n.type === "homelab:cloudflare:Tunnel");
    expect(tunnels.map((n) => n.name)).toEqual([`${STACK}-tunnel`]);
    const config = r.byType(":ZeroTrustTunnelCloudflaredConfig")[0].inputs.config as {
      ingresses: { hostname?: string; service: string }[];
    };
    const rules = new Map(config.ingresses.map((i) => [i.hostname, i.service]));
    expect(rules.get("ollama-multi.javiersc.com")).toBe("http://192.0.2.30:11434");
    expect(rules.get("home-assistant-multi.javiersc.com")).toBe("http://192.0.2.10:8123");
    expect(rules.get("homepage-multi.javiersc.com")).toBe("http://192.0.2.10:80");
  });

  it("has one root, and every resource's parent chain reaches it", () => {
    const byUrn = new Map(r.tree.map((n) => [n.urn, n]));
    expect(r.tree.filter((n) => n.parent === "").map((n) => n.name)).toEqual([STACK]);
    for (const n of r.tree) {
      let at = n;
      for (let i = 0; at.parent !== "" && i < 10; i++) at = byUrn.get(at.parent)!;
      expect(at.name, `${n.type} ${n.name}`).toBe(STACK);
    }
  });

  it("registers the same (type, name, parent) list, in the same order, on a second run", async () => {
    const shape = (x: ProgramRun) => JSON.stringify(x.tree.map((n) => [n.type, n.name, n.parent]));
    expect(shape(await run())).toBe(shape(r));
  }, 120_000);

  it("exports each host's declared bundle, and the one it runs as unknown until the rebuild has run", () => {
    expect(Object.keys(r.outputs.declaredBundleHashes as Record<string, string>).sort()).toEqual(["gpu", "main"]);
    for (const hash of Object.values(r.outputs.declaredBundleHashes as Record<string, string>))
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
    // Read from the rebuild's output, which a preview cannot know: never the declared hash standing in for it.
    expect(r.outputs.appliedBundleHashes).toBe(UNKNOWN);
  });
});

describe("without the GPU box's own login key", () => {
  it("refuses before declaring anything, naming the host and the key to set", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    try {
      const { "homelab:sshPrivateKeyGpu": _gpu, ...config } = deployConfig();
      await expect(runProgram(STACK, config, ["homelab:sshPrivateKey"])).rejects.toThrow(
        /host "gpu".*homelab:sshPrivateKeyGpu/,
      );
    } finally {
      vi.unstubAllEnvs();
    }
  }, 120_000);
});

describe("rotating a secret of a service on the main box", () => {
  it("changes only that service's secrets command and the main box's preflight; nothing on the GPU box", async () => {
    const inputs = (r: ProgramRun) =>
      new Map(r.byType("command:remote:Command").map((c) => [c.name, JSON.stringify(c.inputs)]));
    const before = inputs(await run());
    const after = inputs(await run({ "op://Homelab/Mosquito/password": "rotated in 1Password" }));
    expect([...before].filter(([name, i]) => after.get(name) !== i).map(([name]) => name)).toEqual([
      `${STACK}-host-main-preflight`,
      "mosquitto-secrets",
    ]);
  }, 240_000);
});

describe("Jellyfin moved to the GPU box", () => {
  it("runs Tailscale on both boxes, so the Jellyfin apps reach it on the tailnet, each box writing its own copy of the auth key", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    vi.stubEnv("FAKE_OP_VALUES", "{}");
    let r: ProgramRun;
    try {
      r = await runProgram(
        STACK,
        { ...deployConfig(), "homelab:placement": JSON.stringify({ ollama: "gpu", jellyfin: "gpu" }) },
        ["homelab:sshPrivateKey", "homelab:sshPrivateKeyGpu"],
      );
    } finally {
      vi.unstubAllEnvs();
    }
    const command = (name: string) => r.registered.find((x) => x.type === "command:remote:Command" && x.name === name);
    expect(plainText(connectionOf(command("tailscale-main-secrets")!.inputs).host)).toBe("192.0.2.10");
    expect(plainText(connectionOf(command("tailscale-gpu-secrets")!.inputs).host)).toBe("192.0.2.30");
    const bundles = renderHostBundles(
      loadStack(STACK, {
        ...(readStackFile(ROOT, STACK) as object),
        "homelab:placement": { ollama: "gpu", jellyfin: "gpu" },
      }).lab,
    );
    for (const host of ["main", "gpu"])
      expect(bundles.get(host)!.get(SECRET_FILES_PATH), host).toContain("/tailscale/auth-key\n");
  }, 120_000);
});
