import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enabledSecrets, hostView, resolveHomelab, type Homelab } from "../../components/catalog/resolve";
import { parseStackConfig } from "../../components/config/schema";
import type { NixosHostArgs } from "../../components/host/nixos-host";
import {
  SECRET_GROUPS,
  SERVICES,
  TEST_CATALOG,
  hostSecrets,
  secretValues,
  startListeners,
  testBundle,
  testChecks,
  type Listeners,
} from "./support/fixture";
import {
  FakeEngine,
  installMocks,
  runCaptured,
  runProgram,
  type NixosHostClass,
  type ProgramRun,
  type UpResult,
} from "./support/program";
import { freePort, groupExists, sshdTier, startTestHost, testHostRoot, type TestHost } from "./support/testhost";

/**
 * Two sshd test hosts at once on loopback, each a machine of one stack: the
 * portal and Home Assistant on "a", Transmission on "b". Each host gets its
 * own NixosHost, as the root component declares them, and the stand-in
 * engine runs them the way `pulumi up` does: in parallel, or the rollout's
 * canary first.
 */

const sshd = sshdTier();
const NAMES = ["a", "b"] as const;
type Name = (typeof NAMES)[number];
/** Where the tests' services run unless a test moves them: Transmission on b, the rest on a. */
const PLACEMENT: Record<string, Name> = { transmission: "b" };

/** A deploy of every host: each host's result, by name; a host the rollout stopped has none. */
type Deploy = Partial<Record<Name, UpResult>>;

describe.skipIf(!sshd.available)("deploying two hosts at once", () => {
  const hosts = {} as Record<Name, TestHost>;
  const engines = { a: new FakeEngine(), b: new FakeEngine() };
  let listeners: Listeners;
  let NixosHost: NixosHostClass;

  beforeAll(async () => {
    const taken = SECRET_GROUPS.filter(groupExists);
    if (taken.length > 0) throw new Error(`this run's service groups already exist: ${taken.join(", ")}`);
    installMocks(false);
    ({ NixosHost } = await import("../../components/host/nixos-host"));
    const [a, b] = await Promise.all([startTestHost(), startTestHost()]);
    Object.assign(hosts, { a, b });
    listeners = await startListeners();
    for (const h of [a, b]) timeStages(h);
  });

  afterAll(async () => {
    await listeners?.close();
    await Promise.all(Object.values(hosts).map((h) => h.stop()));
    for (const g of SECRET_GROUPS) if (groupExists(g)) execFileSync("groupdel", [g]);
  });

  /**
   * The stack as host `name` sees it: both machines in homelab:hosts, this
   * host's test paths (each test host keeps its files under its own root).
   */
  function labFor(name: Name, placement: Record<string, Name> = PLACEMENT): Homelab {
    const h = hosts[name];
    const parsed = parseStackConfig(
      "ci",
      {
        domain: "example.test",
        edge: "none",
        services: [...SERVICES],
        hosts: {
          a: {
            lanAddress: "192.0.2.10",
            sshHost: "127.0.0.1",
            sshPort: String(hosts.a.port),
            sshHostKey: hosts.a.hostKey,
          },
          b: {
            lanAddress: "192.0.2.11",
            sshHost: "127.0.0.1",
            sshPort: String(hosts.b.port),
            sshHostKey: hosts.b.hostKey,
          },
        },
        placement,
        bundleDir: h.paths.bundleDir,
        credentialsDir: h.paths.secretsDir,
        stateDir: h.paths.stateDir,
      },
      "plan",
      { hostRoot: testHostRoot(h.paths) },
    );
    if (!parsed.config) throw new Error(JSON.stringify(parsed.problems));
    return hostView(resolveHomelab(TEST_CATALOG, parsed.config), name);
  }

  interface HostChange {
    placement?: Record<string, Name>;
    bundle?: Map<string, string>;
    values?: Record<string, string>;
    deadCheck?: number;
  }

  /** NixosHost args for one host: only its services' secrets and checks. */
  function argsFor(name: Name, change: HostChange = {}): NixosHostArgs {
    const lab = labFor(name, change.placement);
    const h = hosts[name];
    const checks = testChecks(lab, listeners);
    if (change.deadCheck) checks.push({ id: "transmission", kind: "http", port: change.deadCheck, path: "/health" });
    return {
      connection: { ...h.target() },
      bundle: change.bundle ?? testBundle({ [`host-${name}`]: `${name}\n` }),
      secrets: hostSecrets(lab, secretValues(lab, change.values)),
      paths: h.paths,
      healthChecks: checks,
      keepGenerations: 3,
      healthTimeoutSeconds: change.deadCheck ? 2 : 10,
      detectDrift: false,
      hostName: name,
    };
  }

  async function programs(changes: Partial<Record<Name, HostChange>> = {}): Promise<Record<Name, ProgramRun>> {
    // One component per host, as the root component declares them; the names are the stack's.
    return {
      a: await runProgram(NixosHost, argsFor("a", changes.a), "lab-host"),
      b: await runProgram(NixosHost, argsFor("b", changes.b), "lab-host-b"),
    };
  }

  /**
   * `pulumi up` over both hosts: the rollout's hosts one after another, the
   * rest in parallel once they pass; a failed host stops every host after it
   * (their preflight depends on its rebuild), and the others run on.
   */
  async function up(runs: Record<Name, ProgramRun>, rollout: Name[] = []): Promise<Deploy> {
    const result: Deploy = {};
    for (const name of rollout) {
      result[name] = await engines[name].up(runs[name]);
      if (result[name]?.failed) return result;
    }
    const rest = NAMES.filter((n) => !rollout.includes(n));
    const done = await Promise.all(rest.map((n) => engines[n].up(runs[n])));
    for (const [i, n] of rest.entries()) result[n] = done[i];
    return result;
  }

  const failedHosts = (d: Deploy) => NAMES.filter((n) => d[n]?.failed);
  const release = (name: Name) => readlinkSync(hosts[name].paths.bundleDir).split("/").pop();

  it("each host gets only its own services' secrets, and both deploy at the same time", async () => {
    for (const h of Object.values(hosts)) h.control("switch-delay", "2");
    try {
      const deploy = await up(await programs());
      expect(failedHosts(deploy), JSON.stringify(Object.values(deploy).map((d) => d?.failed?.result.stderr))).toEqual(
        [],
      );

      const secretsOn = (name: Name) => enabledSecrets(labFor(name)).map((s) => s.serviceId);
      expect([...new Set(secretsOn("b"))]).toEqual(["transmission"]);
      expect(secretsOn("a")).not.toContain("transmission");
      for (const name of NAMES) {
        for (const s of enabledSecrets(labFor(name))) expect(existsSync(s.path), `${s.key} on ${name}`).toBe(true);
        expect(hosts[name].generation(), name).toBe(2);
      }
      expect(existsSync(join(hosts.a.paths.secretsDir, "transmission")), "no transmission secrets on a").toBe(false);
      expect(existsSync(join(hosts.b.paths.secretsDir, "mosquitto")), "no mosquitto secrets on b").toBe(false);

      // The hosts' own logs: each host's deploy (first command in to last command done) started before the other's ended.
      const [wa, wb] = NAMES.map((n) => window(stages(hosts[n])));
      expect(
        wa.start < wb.end && wb.start < wa.end,
        `deploys overlap: a ${JSON.stringify(wa)}, b ${JSON.stringify(wb)}`,
      ).toBe(true);
      const span = Math.max(wa.end, wb.end) - Math.min(wa.start, wb.start);
      if (process.env.HOMELAB_SHOW_DEPLOY)
        console.log(
          `deploy windows: a ${(wa.end - wa.start).toFixed(2)} s, b ${(wb.end - wb.start).toFixed(2)} s, both ${span.toFixed(2)} s`,
        );
      expect(span, "two deploys in parallel take less than one after another").toBeLessThan(
        wa.end - wa.start + (wb.end - wb.start),
      );
    } finally {
      for (const h of Object.values(hosts)) h.clearControl("switch-delay");
    }
  });

  it("a failing health check on b rolls back b alone, names it, and leaves a on its new generation", async () => {
    const deadPort = await freePort();
    const oldB = release("b");
    const newA = testBundle({ "host-a": "a, second release\n" });
    const runs = await programs({
      a: { bundle: newA },
      b: { bundle: testBundle({ "host-b": "b, second release\n" }), deadCheck: deadPort },
    });
    const deploy = await up(runs);

    expect(failedHosts(deploy), "pulumi up fails, naming host b").toEqual(["b"]);
    const failure = deploy.b!.failed!;
    expect(failure.stage).toBe("rebuild");
    expect(failure.result.stderr + failure.result.stdout).toMatch(
      /health checks failed after 2s: transmission \(http 127\.0\.0\.1:\d+\/health\)/,
    );
    expect(failure.result.stderr + failure.result.stdout).toContain("rolled back to system generation 2");
    expect(failure.result.stderr, "the error names the host").toContain("homelab: the rebuild of host b failed (exit");
    expect(hosts.b.generation(), "b is back on its previous generation").toBe(2);
    expect(release("b"), "b links its previous bundle again").toBe(oldB);
    expect(
      hosts.b.hostLog().some((l) => /^nix-env -p \S+ --switch-generation 2$/.test(l)),
      "b switched back to generation 2",
    ).toBe(true);

    expect(hosts.a.generation(), "a stays on its new, healthy generation").toBe(3);
    expect(release("a")).toBe(runs.a.host.bundleHash);
    expect(
      hosts.a.hostLog().some((l) => l.includes("--switch-generation")),
      "a never rolled back",
    ).toBe(false);
  });

  it("with b as the rollout's canary, its failure stops a before anything runs there", async () => {
    const deadPort = await freePort();
    const sshBefore = hosts.a.sshLog().length;
    const deploy = await up(
      await programs({
        a: { bundle: testBundle({ "host-a": "a, third release\n" }) },
        b: { bundle: testBundle({ "host-b": "b, third release\n" }), deadCheck: deadPort },
      }),
      ["b"],
    );
    expect(failedHosts(deploy)).toEqual(["b"]);
    expect(deploy.a, "a did not deploy").toBeUndefined();
    expect(hosts.a.sshLog().slice(sshBefore), "nothing reached a").toEqual([]);
    expect(hosts.a.generation()).toBe(3);
  });

  it("a secret rotated for a service on a touches only a", async () => {
    // Bring both hosts back to a healthy, known state first.
    const settled = await up(
      await programs({
        a: { bundle: testBundle({ "host-a": "a, settled\n" }) },
        b: { bundle: testBundle({ "host-b": "b, settled\n" }) },
      }),
    );
    expect(failedHosts(settled)).toEqual([]);
    const sshB = hosts.b.sshLog().length;
    const hostB = hosts.b.hostLog().length;
    const mosquitto = enabledSecrets(labFor("a")).find((s) => s.key === "mosquitto.password")!;

    const changes = {
      a: { bundle: testBundle({ "host-a": "a, settled\n" }), values: { "mosquitto.password": "rotated on a" } },
      b: { bundle: testBundle({ "host-b": "b, settled\n" }) },
    };
    const runs = await programs(changes);
    expect(
      [...engines.b.plan(runs.b)].filter(([, op]) => op !== "same"),
      "nothing changes on b",
    ).toEqual([]);
    expect([...engines.a.plan(runs.a)].filter(([, op]) => op !== "same").map(([s]) => s)).toEqual([
      "preflight",
      "secrets.mosquitto",
    ]);
    const deploy = await up(runs);
    expect(failedHosts(deploy)).toEqual([]);
    expect(readFileSync(mosquitto.path, "utf8")).toBe("rotated on a");
    expect(hosts.b.sshLog().slice(sshB), "no command reached b").toEqual([]);
    expect(hosts.b.hostLog().slice(hostB)).toEqual([]);
  });

  it("moving services between hosts: each secrets command writes on its new host, and the old host drops its copies at its next healthy rebuild", async () => {
    // Transmission moves from b to a; Home Assistant, and Mosquitto with it, from a to b.
    const moved: Record<string, Name> = { "home-assistant": "b" };
    const files = (lab: Homelab, ids: string[]) => enabledSecrets(lab).filter((s) => ids.includes(s.serviceId));
    const transmissionOnB = files(labFor("b"), ["transmission"]);
    const mosquittoOnA = files(labFor("a"), ["mosquitto"]);
    for (const s of [...transmissionOnB, ...mosquittoOnA])
      expect(existsSync(s.path), `${s.key} before the move`).toBe(true);

    const runs = await programs({
      a: { placement: moved, bundle: testBundle({ "host-a": "a, after the move\n" }) },
      b: { placement: moved, bundle: testBundle({ "host-b": "b, after the move\n" }) },
    });
    // A service's secrets command is one resource of the stack whichever host it names: the engine
    // compares its new inputs, with the new host's connection, against what the old host ran.
    const replaced: Record<string, unknown>[] = [];
    for (const [to, from] of [
      ["a", "b"],
      ["b", "a"],
    ] as const) {
      for (const stage of runs[to].commands.keys()) {
        const inputs = engines[from].state.get(stage);
        if (!stage.startsWith("secrets.") || engines[to].state.has(stage) || !inputs) continue;
        engines[to].state.set(stage, inputs);
        engines[from].state.delete(stage);
        // Each test host keeps its files under its own root, so the secret paths in the triggers
        // differ and the engine replaces: it creates on the new host, then runs the old delete on
        // the old one. (In a stack the paths are stack-wide: with one login key it is an update.)
        expect(engines[to].plan(runs[to]).get(stage), `${stage} moves to ${to}`).toBe("replace");
        replaced.push(inputs);
      }
    }
    expect(replaced).toHaveLength(3);

    const deploy = await up(runs);
    expect(failedHosts(deploy), JSON.stringify(Object.values(deploy).map((d) => d?.failed?.result.stderr))).toEqual([]);
    for (const [name, ids] of [
      ["a", ["transmission"]],
      ["b", ["mosquitto"]],
    ] as const) {
      const lab = labFor(name, moved);
      const values = secretValues(lab);
      for (const s of files(lab, [...ids]))
        expect(readFileSync(s.path, "utf8"), `${s.key} on its new host, ${name}`).toBe(values.get(s.key));
    }
    // Each old host's rebuild already dropped them, as it would after an in-place update.
    for (const s of [...transmissionOnB, ...mosquittoOnA])
      expect(existsSync(s.path), `${s.key} dropped by its old host's rebuild`).toBe(false);
    // The replaced commands' deletes then find nothing left to remove, and succeed.
    for (const inputs of replaced) {
      const removed = await runCaptured(inputs, inputs.delete as string);
      expect(removed.code, removed.stderr).toBe(0);
    }
    for (const s of [...transmissionOnB, ...mosquittoOnA])
      expect(existsSync(s.path), `${s.key} left on its old host`).toBe(false);
    expect(existsSync(join(hosts.b.paths.secretsDir, "transmission")), "b's transmission directory").toBe(false);
  });
});

/**
 * Wrap the test host's sshd command recorder so each command that arrives
 * logs when it started and ended, in the host's own log folder: the record
 * the overlap check reads. Stdin, output and exit code pass through.
 */
function timeStages(host: TestHost): void {
  const dir = join(host.root, "sshd");
  renameSync(join(dir, "record-command"), join(dir, "record-command.inner"));
  const log = join(host.root, "log", "stages.log");
  writeFileSync(
    join(dir, "record-command"),
    `#!/bin/bash\necho "start $(date +%s.%N)" >>"${log}"\n"${dir}/record-command.inner"\nrc=$?\necho "end $(date +%s.%N)" >>"${log}"\nexit $rc\n`,
    { mode: 0o755 },
  );
}

/** Every command the host ran over SSH, with its start and end in seconds since the epoch. */
function stages(host: TestHost): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const open: number[] = [];
  for (const line of readFileSync(join(host.root, "log", "stages.log"), "utf8").split("\n")) {
    const m = /^(start|end) (\d+\.\d+)$/.exec(line);
    if (!m) continue;
    // Commands run one at a time per host here, so an end closes the last start.
    if (m[1] === "start") open.push(Number(m[2]));
    else out.push({ start: open.pop() ?? Number.NaN, end: Number(m[2]) });
  }
  return out;
}

/** From the first command's start to the last command's end. */
function window(all: { start: number; end: number }[]): { start: number; end: number } {
  return { start: Math.min(...all.map((s) => s.start)), end: Math.max(...all.map((s) => s.end)) };
}
