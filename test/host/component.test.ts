import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { CATALOG } from "../../components/catalog/services";
import { enabledServices, labHosts, resolveHomelab } from "../../components/catalog/resolve";
import { parseStackConfig } from "../../components/config/schema";
import { DEPLOY_SCRIPT_PATH, HEALTH_CHECKS_PATH, SECRET_FILES_PATH, bundleHash } from "../../components/host/bundle";
import { deployLists, healthChecksFor } from "../../components/host/commands";
import { hostBundleFromOutputs, renderOutputs } from "../../components/render/outputs";
import type { NixosHostArgs } from "../../components/host/nixos-host";
import { SCRIPT_FILE, hostSecrets, secretValues, testBundle, testLab } from "./support/fixture";
import { installMocks, isSecretValue, plain, runProgram, type NixosHostClass } from "./support/program";

const paths = {
  bundleDir: "/etc/nixos/homelab",
  secretsDir: "/var/lib/homelab/secrets",
  stateDir: "/var/lib/homelab/state",
};
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

describe("the NixosHost component under strict mocks", () => {
  let NixosHost: NixosHostClass;
  const lab = testLab(paths);
  const args = (o: Partial<NixosHostArgs> = {}): NixosHostArgs => ({
    connection: {
      host: "192.0.2.10",
      hostKey: HOST_KEY,
      privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n",
    },
    bundle: testBundle(),
    secrets: hostSecrets(lab, secretValues(lab)),
    paths,
    healthChecks: [{ id: "portal", kind: "http", port: 80, path: "/" }],
    detectDrift: false,
    ...o,
  });

  beforeAll(async () => {
    installMocks(false);
    ({ NixosHost } = await import("../../components/host/nixos-host"));
  });

  it("refuses to deploy without a pinned host key, naming homelab:sshHostKey and how to set it", () => {
    expect(
      () => new NixosHost("no-key", args({ connection: { host: "192.0.2.10", hostKey: undefined, privateKey: "k" } })),
    ).toThrow(/no pinned SSH host key for 192\.0\.2\.10:22.*homelab:sshHostKey.*pulumi config set homelab:sshHostKey/s);
  });

  it("refuses a bundle without the host-side script", () => {
    const bundle = testBundle();
    bundle.delete(DEPLOY_SCRIPT_PATH);
    expect(() => new NixosHost("no-script", args({ bundle }))).toThrow(/the bundle has no deploy\/homelab-deploy\.sh/);
  });

  it("the plan's real bundle (hosts/<name>/nixos/) is accepted, ships the deploy script the tests run, and is the release the host gets", async () => {
    const parsed = parseStackConfig("prod", { domain: "example.test", lanAddress: "192.0.2.10", edge: "none" });
    const prod = resolveHomelab(CATALOG, parsed.config!);
    const bundle = hostBundleFromOutputs(renderOutputs(prod), labHosts(prod)[0].name);
    expect(bundle.get(DEPLOY_SCRIPT_PATH)).toBe(readFileSync(SCRIPT_FILE, "utf8"));
    expect(
      bundle.has(HEALTH_CHECKS_PATH) && bundle.has(SECRET_FILES_PATH),
      "the offline plan shows the deploy lists",
    ).toBe(true);
    const prodArgs = args({
      bundle,
      healthChecks: healthChecksFor(enabledServices(prod)),
      secrets: hostSecrets(prod, secretValues(prod)),
    });
    const run = await runProgram(NixosHost, prodArgs, "lab-real");
    // The hash pulumi up pushes is the hash of the files npm start writes.
    expect(run.host.bundleHash).toBe(bundleHash(bundle));
    // Built from another lab's checks, the bundle would tell the host one thing and run another.
    expect(() => new NixosHost("lab-mixed", args({ bundle }))).toThrow(
      /generated\/health-checks\.tsv differs from the healthChecks/,
    );
  });

  it("declares preflight, push, one secrets command per service with secrets, and rebuild, each pinned to the host key", async () => {
    const run = await runProgram(NixosHost, args(), "lab-a");
    const withSecrets = [...new Set(hostSecrets(lab, secretValues(lab)).map((s) => s.serviceId))].sort();
    expect(withSecrets.length, "the test lab has several services with secrets").toBeGreaterThan(2);
    expect([...run.commands.keys()]).toEqual([
      "preflight",
      "push",
      ...withSecrets.map((id) => `secrets.${id}`),
      "rebuild",
      "confirm",
    ]);
    for (const [stage, inputs] of [...run.commands].filter(([s]) => s !== "confirm")) {
      const connection = plain(inputs.connection) as Record<string, unknown>;
      expect(connection.hostKey, stage).toBe(HOST_KEY);
      expect(connection.user, stage).toBe("root");
      expect(connection.port, stage).toBe(22);
      expect(inputs.addPreviousOutputInEnv, stage).toBe(false);
    }
    // The confirm runs ssh where Pulumi runs: the pinned key in its own known_hosts, the private key on stdin as a Pulumi secret.
    const confirm = run.commands.get("confirm")!;
    expect(String(confirm.create)).toContain(`homelab-deploy-target ${HOST_KEY}`);
    expect(String(confirm.create)).toContain("-o StrictHostKeyChecking=yes");
    expect(isSecretValue(confirm.stdin), "the confirm's stdin (the private key) is a Pulumi secret").toBe(true);
    expect(plain(confirm.stdin)).toContain("BEGIN OPENSSH PRIVATE KEY");
    expect(String(confirm.create), "never on the command line").not.toContain("PRIVATE KEY");
    const a = args();
    expect(run.host.bundleHash).toBe(
      bundleHash(
        new Map([
          ...testBundle(),
          ...deployLists(
            a.healthChecks,
            a.secrets.map((s) => s.path),
            paths,
          ),
        ]),
      ),
    );
  });

  it("the same program declares byte-identical inputs twice: no timestamps, no ordering noise", async () => {
    const a = await runProgram(NixosHost, args(), "lab-b");
    const reordered = args({
      secrets: [...hostSecrets(lab, secretValues(lab))].reverse(),
      bundle: new Map([...testBundle()].reverse()),
    });
    const b = await runProgram(NixosHost, reordered, "lab-b");
    for (const [stage, inputs] of a.commands)
      expect(JSON.stringify(b.commands.get(stage)), stage).toBe(JSON.stringify(inputs));
  });

  it("secret values reach only the secrets stdin, which is a Pulumi secret", async () => {
    const run = await runProgram(NixosHost, args(), "lab-c");
    const values = [...secretValues(lab).values()];
    expect(isSecretValue(run.commands.get("secrets.mosquitto")!.stdin)).toBe(true);
    for (const [stage, inputs] of run.commands) {
      const { stdin, connection: _connection, ...rest } = inputs;
      const visible = JSON.stringify(rest) + (stage.startsWith("secrets.") ? "" : JSON.stringify(stdin));
      for (const v of values) expect(visible.includes(v.split("\n")[0]), `${stage} shows a value`).toBe(false);
    }
  });

  it("a changed secret value changes only its service's secrets command (and the preflight fingerprint)", async () => {
    const a = await runProgram(NixosHost, args(), "lab-d");
    const b = await runProgram(
      NixosHost,
      args({ secrets: hostSecrets(lab, secretValues(lab, { "mosquitto.password": "new" })) }),
      "lab-d",
    );
    const changed = [...a.commands.keys()].filter(
      (stage) => JSON.stringify(b.commands.get(stage)) !== JSON.stringify(a.commands.get(stage)),
    );
    expect(changed).toEqual(["preflight", "secrets.mosquitto"]);
    const ta = plain(a.commands.get("secrets.mosquitto")!.triggers) as string[];
    const tb = plain(b.commands.get("secrets.mosquitto")!.triggers) as string[];
    expect(tb.filter((t) => !ta.includes(t))).toEqual([expect.stringMatching(/^mosquitto\.password value=/)]);
  });

  it("a changed bundle leaves every service's secrets command as it is", async () => {
    const a = await runProgram(NixosHost, args(), "lab-e");
    const b = await runProgram(NixosHost, args({ bundle: testBundle({ "modules/extra.nix": "{ }\n" }) }), "lab-e");
    const changed = [...a.commands.keys()].filter(
      (stage) => JSON.stringify(b.commands.get(stage)) !== JSON.stringify(a.commands.get(stage)),
    );
    expect(changed).toEqual(["preflight", "push", "rebuild", "confirm"]);
  });

  it("refuses a secret whose file is not in its own service's directory", () => {
    const [first, ...rest] = hostSecrets(lab, secretValues(lab));
    const misplaced = { ...first, path: `${paths.secretsDir}/other-service/${first.name}` };
    expect(() => new NixosHost("misplaced", args({ secrets: [misplaced, ...rest] }))).toThrow(
      new RegExp(`secret ${first.key}: .*own directory`),
    );
  });
});
