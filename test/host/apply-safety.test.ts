import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enabledSecrets, type Homelab } from "../../components/catalog/resolve";
import { liveBundleOf } from "../../components/host/bundle";
import type { HostHealthCheck } from "../../components/host/commands";
import { hostArgs, secretValues, testBundle, testChecks, testLab, SERVICES, type Listeners } from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import {
  FakeEngine,
  rebuildAndConfirm,
  runCaptured,
  runProgram,
  type NixosHostClass,
  type ProgramRun,
} from "./support/program";
import { freePort, ownership, sshdTier, type TestHost } from "./support/testhost";

const sshd = sshdTier();

/**
 * What a deploy leaves on the host when it goes wrong halfway: a switch that
 * fails after the secrets stage dropped a service's secret, and an SSH
 * connection that drops while nixos-rebuild switch runs.
 */
describe.skipIf(!sshd.available)("a deploy that fails or loses its connection halfway", () => {
  let host: TestHost;
  let listeners: Listeners;
  let full: Homelab;
  let reduced: Homelab;
  let NixosHost: NixosHostClass;
  let session: HostSession;
  const engine = new FakeEngine();
  /** The service the second deploy drops, with its secret. */
  const DROPPED = "transmission";
  const REDUCED = SERVICES.filter((s) => s !== DROPPED);
  let droppedSecret: string;
  let deadPort: number;

  /** The bundle of the reduced lab: services.json without the dropped service, plus `extra`. */
  const reducedBundle = (extra: Record<string, string> = {}) =>
    testBundle({ "generated/services.json": `${JSON.stringify({ services: REDUCED }, null, 2)}\n`, ...extra });
  const reducedArgs = (o: Parameters<typeof hostArgs>[4] = {}) =>
    hostArgs(host.target(), host.paths, reduced, listeners, { bundle: reducedBundle(), ...o });
  const failingChecks = (): HostHealthCheck[] => [
    ...testChecks(reduced, listeners),
    { id: "jellyfin", kind: "http", port: deadPort, path: "/health" },
  ];
  const state = (name: string) => readFileSync(join(host.paths.stateDir, name), "utf8").trim();
  const output = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;
  const applyLogs = () =>
    existsSync(join(host.paths.stateDir, "apply-log"))
      ? readdirSync(join(host.paths.stateDir, "apply-log")).filter((f) => f.endsWith(".out"))
      : [];

  /**
   * Run the rebuild of `run` over real ssh and kill the ssh client as soon as
   * nixos-rebuild switch has started on the host (the fake sleeps in it). Then
   * start the next deploy's secrets stage, which takes the deploy lock only
   * once the apply has finished, whatever became of it. Returns what the cut
   * connection saw, the host's log since, and the apply's own log files.
   */
  async function rebuildWithDroppedConnection(run: ProgramRun) {
    // Every stage before the rebuild; the confirm comes after it, and Pulumi never runs it after a failed rebuild.
    for (const stage of [...run.commands.keys()].filter((s) => s !== "rebuild" && s !== "confirm")) {
      const r = await runCaptured(run.commands.get(stage)!);
      expect(r.code, `${stage}: ${r.stderr}`).toBe(0);
    }
    const logsBefore = new Set(applyLogs());
    const hostBefore = host.hostLog().length;
    host.control("switch-delay", "2");
    try {
      const cut = await runCaptured(run.commands.get("rebuild")!, undefined, {
        killWhen: () => host.hostLog().slice(hostBefore).includes("nixos-rebuild switch"),
      });
      expect(cut.code, "ssh was killed").toBe(255);
      // The connection is gone and the switch still runs, holding the deploy lock.
      expect(
        () => execFileSync("flock", ["-n", join(host.paths.stateDir, "lock"), "true"]),
        "the deploy lock is held",
      ).toThrow();
      const next = await runCaptured(run.commands.get("secrets.mosquitto")!);
      expect(next.code, next.stderr).toBe(0);
      const log = applyLogs().filter((f) => !logsBefore.has(f));
      const applyLog = () => {
        expect(log, "one new apply log").toHaveLength(1);
        const base = join(host.paths.stateDir, "apply-log", log[0].replace(/\.out$/, ""));
        // Written before the lock is released, so the next deploy found it there.
        expect(existsSync(`${base}.status`), "the apply had finished when the next deploy ran").toBe(true);
        return {
          status: readFileSync(`${base}.status`, "utf8").trim(),
          stdout: readFileSync(`${base}.out`, "utf8"),
          stderr: readFileSync(`${base}.err`, "utf8"),
        };
      };
      return { cut, hostLog: host.hostLog().slice(hostBefore), applyLog };
    } finally {
      host.clearControl("switch-delay");
    }
  }

  beforeAll(async () => {
    session = await startHostSession();
    ({ host, listeners, NixosHost } = session);
    full = testLab(host.paths);
    reduced = testLab(host.paths, REDUCED);
    droppedSecret = enabledSecrets(full).find((s) => s.key === "transmission.rpc-password")!.path;
    deadPort = await freePort();
    const first = await engine.up(await runProgram(NixosHost, hostArgs(host.target(), host.paths, full, listeners)));
    expect(first.failed?.result.stderr ?? "", "the first deploy succeeds").toBe("");
    expect(host.generation()).toBe(2);
  });

  afterAll(async () => {
    await session?.stop();
  });

  it("a deploy that drops a service and then fails its health checks leaves the service's secret in place for the rolled-back generation", async () => {
    const content = readFileSync(droppedSecret, "utf8");
    const owner = ownership(droppedSecret);
    const oldLink = readlinkSync(host.paths.bundleDir);
    const run = await runProgram(NixosHost, reducedArgs({ checks: failingChecks(), healthTimeoutSeconds: 3 }));
    const result = await engine.up(run);

    // transmission has no secrets command any more; the others' inputs did not change.
    expect(result.steps.map((s) => s.stage)).toEqual(["preflight", "push", "rebuild"]);
    expect(run.commands.has("secrets.transmission")).toBe(false);
    expect(result.failed?.stage).toBe("rebuild");
    expect(output(result.failed!.result)).toMatch(
      /health checks failed after 3s: jellyfin .*rolled back to system generation 2/,
    );
    expect(host.generation(), "back on the generation that runs transmission").toBe(2);
    expect(readlinkSync(host.paths.bundleDir)).toBe(oldLink);
    expect(existsSync(droppedSecret), "the old generation's secret is still there").toBe(true);
    expect(readFileSync(droppedSecret, "utf8")).toBe(content);
    expect(ownership(droppedSecret)).toBe(owner);
    expect(result.steps.map((s) => output(s.result)).join("\n")).not.toContain(`removed ${droppedSecret}`);
    // Waiting for the next switch is a pending change, not something changed by hand.
    expect(
      (await runProgram(NixosHost, reducedArgs({ checks: failingChecks(), healthTimeoutSeconds: 3 }))).drift,
    ).toEqual([]);
  });

  it("the same deploy, once its checks pass, removes the dropped service's secret after them", async () => {
    // Files no deploy wrote, inside a service's directory and beside them: not the apply's to remove.
    const byHand = [join(host.paths.secretsDir, "hand-made"), join(host.paths.secretsDir, "mosquitto", "notes")];
    for (const f of byHand) writeFileSync(f, `kept: ${f}`);
    const run = await runProgram(NixosHost, reducedArgs());
    const result = await engine.up(run);
    expect(result.failed?.result.stderr ?? "").toBe("");
    // Secrets already ran; the checks are part of the release, so without jellyfin's it is pushed anew. The confirmed rebuild alone removes the file.
    expect(result.steps.map((s) => s.stage)).toEqual(["preflight", "push", "rebuild", "confirm"]);
    const out = ["rebuild", "confirm"]
      .map((stage) => result.steps.find((s) => s.stage === stage)!.result.stdout)
      .join("");
    const checksPass = out.indexOf("health: all");
    const removed = out.indexOf(`secrets: removed ${droppedSecret}, which is no longer declared`);
    expect(checksPass, out).toBeGreaterThan(-1);
    expect(removed, "removed only after the checks passed").toBeGreaterThan(checksPass);
    expect(
      result.steps.find((s) => s.stage === "rebuild")!.result.stdout,
      "and only once the deployer confirmed the switch",
    ).not.toContain(`secrets: removed ${droppedSecret}`);
    expect(existsSync(droppedSecret)).toBe(false);
    expect(existsSync(dirname(droppedSecret)), "its empty directory goes too").toBe(false);
    expect(
      existsSync(join(host.paths.stateDir, "secrets.d", `${DROPPED}.manifest`)),
      "and the record of what was written there",
    ).toBe(false);
    expect(readFileSync(join(host.paths.stateDir, "applied-secrets"), "utf8").split("\0").filter(Boolean)).toEqual(
      enabledSecrets(reduced)
        .map((s) => s.path)
        .sort(),
    );
    expect(state("applied-release")).toBe(run.host.bundleHash);
    for (const s of enabledSecrets(reduced))
      expect(readFileSync(s.path, "utf8"), s.key).toBe(secretValues(reduced).get(s.key));
    for (const f of byHand) expect(readFileSync(f, "utf8"), `${f} left alone`).toBe(`kept: ${f}`);
    expect(out).not.toContain("hand-made");
    expect(out).not.toContain("notes");
    const after = await runProgram(NixosHost, reducedArgs());
    expect(after.drift, "reported, not repaired").toEqual(
      [...byHand].sort().map((f) => `file in the secrets directory that no deploy wrote, left in place: ${f}`),
    );
    expect(
      [...engine.plan(after).values()].every((op) => op === "same"),
      "nothing left to do",
    ).toBe(true);
    for (const f of byHand) rmSync(f);
    expect((await runProgram(NixosHost, reducedArgs())).drift).toEqual([]);
  });

  it("a service's secrets command removes at once a file its last run wrote that no release declares, and leaves a file no deploy wrote", async () => {
    const password = enabledSecrets(reduced).find((s) => s.key === "mosquitto.password")!;
    const dropped = join(dirname(password.path), "old-password");
    const byHand = join(dirname(password.path), "notes");
    writeFileSync(byHand, "the owner's notes");
    // An earlier run still declared old-password: it wrote the file and recorded it in mosquitto's manifest.
    const args = reducedArgs();
    const withDropped = {
      ...args,
      secrets: [
        ...args.secrets,
        { ...password, key: "mosquitto.old-password", name: "old-password", path: dropped, value: "old" },
      ],
    };
    const earlier = await runCaptured((await runProgram(NixosHost, withDropped)).commands.get("secrets.mosquitto")!);
    expect(earlier.code, earlier.stderr).toBe(0);
    expect(readFileSync(dropped, "utf8")).toBe("old");

    const hostBefore = host.hostLog().length;
    const run = await runProgram(NixosHost, args);
    const result = await runCaptured(run.commands.get("secrets.mosquitto")!);
    expect(result.code, result.stderr).toBe(0);
    // The live release never declared it, so no generation reads it: it goes now.
    expect(result.stdout).toContain(`secrets: removed ${dropped}, which is no longer declared`);
    expect(existsSync(dropped)).toBe(false);
    expect(readFileSync(byHand, "utf8")).toBe("the owner's notes");
    expect(result.stdout).not.toContain(byHand);
    expect(
      host
        .hostLog()
        .slice(hostBefore)
        .some((l) => l.startsWith("nixos-rebuild")),
    ).toBe(false);
    rmSync(byHand);
  });

  it("an apply whose SSH connection drops during the switch still runs its checks, and the next up confirms it without switching again", async () => {
    const bundle = reducedBundle({ "modules/detached.nix": "{ }\n" });
    const run = await runProgram(NixosHost, reducedArgs({ bundle }));
    const hash = run.host.bundleHash;
    const r = await rebuildWithDroppedConnection(run);

    expect(r.cut.stdout, "the connection dropped before the apply ended").not.toContain("is live");
    // The switch passed its checks and waits for a confirm that Pulumi, after the failed rebuild, never sent.
    expect(readFileSync(join(host.paths.stateDir, "apply-journal"), "utf8")).toContain("phase\tawaiting");
    expect(host.pendingTimers()).toHaveLength(1);
    // pulumi up again: the rebuild comes over a new connection, checks again and waits again; the confirm follows.
    const hostBefore = host.hostLog().length;
    const resumed = await rebuildAndConfirm(run);
    expect(resumed.code, output(resumed)).toBe(0);
    expect(resumed.stdout).toContain(
      `release ${hash} already passed its health checks and waits for confirmation (the rebuild that switched to it lost its connection); checking it again`,
    );
    expect(
      host
        .hostLog()
        .slice(hostBefore)
        .some((l) => l.startsWith("nixos-rebuild")),
      "no second switch",
    ).toBe(false);
    expect(host.pendingTimers(), "the confirm disarmed the rollback").toEqual([]);
    // The result is the one a connection that stayed up would have left.
    expect(host.generation()).toBe(4);
    expect(readlinkSync(host.paths.bundleDir)).toBe(`${host.paths.stateDir}/releases/${hash}`);
    expect(state("applied-release")).toBe(hash);
    expect(state("deployed-generation")).toBe("4");
    const record = /--record (\S+)/.exec(run.commands.get("rebuild")!.create as string)![1];
    expect(state("record.rebuild"), "the stage's record is kept as after a normal run").toBe(record);
    const again = await runCaptured(run.commands.get("rebuild")!);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`bundle ${hash} is already live as system generation 4; no rebuild`);
    // What the stack output appliedBundleHash reads from the confirm's output: nothing from the cut run, whose state Pulumi keeps.
    expect(liveBundleOf(resumed.confirm!.stdout)).toBe(hash);
    expect(liveBundleOf(r.cut.stdout)).toBeUndefined();
    // The apply's own log says the checks ran, for whoever looks after a dropped deploy.
    const log = r.applyLog();
    expect(log.status, log.stderr).toBe("0");
    expect(log.stdout).toContain(`health: all ${testChecks(reduced, listeners).length} checks pass`);
    expect(log.stdout).toContain(`apply: release ${hash} passed its health checks as system generation 4; waiting`);
  });

  it("an apply whose SSH connection drops during the switch still rolls back when a check fails", async () => {
    const oldLink = readlinkSync(host.paths.bundleDir);
    const applied = state("applied-release");
    const bundle = reducedBundle({ "modules/broken.nix": "{ }\n" });
    const run = await runProgram(NixosHost, reducedArgs({ bundle, checks: failingChecks(), healthTimeoutSeconds: 3 }));
    const r = await rebuildWithDroppedConnection(run);

    expect(
      r.hostLog.some((l) => /^nix-env -p \S+ --switch-generation 4$/.test(l)),
      r.hostLog.join("\n"),
    ).toBe(true);
    expect(host.generation()).toBe(4);
    expect(
      existsSync(join(host.root, "host/nix/var/nix/profiles/system-5-link")),
      "the failed generation is deleted",
    ).toBe(false);
    expect(readlinkSync(host.paths.bundleDir)).toBe(oldLink);
    expect(state("applied-release")).toBe(applied);
    const log = r.applyLog();
    expect(log.status).toBe("1");
    expect(log.stderr).toMatch(
      /health checks failed after 3s: jellyfin \(http 127\.0\.0\.1:\d+\/health\); rolled back to system generation 4/,
    );
  });
});
