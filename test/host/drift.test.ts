import { appendFileSync, chmodSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { enabledSecrets, type Homelab } from "../../components/catalog/resolve";
import { observeCommand, secretsCommand } from "../../components/host/commands";
import { NO_DEPLOY_REASON, UNREACHABLE_REASON } from "../../components/host/drift";
import { SCRIPT, hostArgs, secretValues, testBundle, testLab, type Listeners } from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import { FakeEngine, installMocks, plain, runProgram, type NixosHostClass, type ProgramRun } from "./support/program";
import { freePort, runOverSsh, snapshot, sshdTier, type TestHost } from "./support/testhost";

const sshd = sshdTier();

describe.skipIf(!sshd.available)("pulumi preview shows drift on the host", () => {
  let host: TestHost;
  let listeners: Listeners;
  let lab: Homelab;
  let NixosHost: NixosHostClass;
  let session: HostSession;
  const engine = new FakeEngine();
  let baseline: ProgramRun;
  let warnings: string[] = [];

  const args = (o: Parameters<typeof hostArgs>[4] = {}) => hostArgs(host.target(), host.paths, lab, listeners, o);
  const triggers = (run: ProgramRun, stage: string) => plain(run.commands.get(stage)!.triggers) as string[];
  const secretStages = (run: ProgramRun) => [...run.commands.keys()].filter((s) => s.startsWith("secrets."));
  const preview = async (o: Parameters<typeof hostArgs>[4] = {}) => {
    installMocks(true);
    return runProgram(NixosHost, args(o));
  };
  const up = async () => {
    installMocks(false);
    const result = await engine.up(await runProgram(NixosHost, args()));
    expect(result.failed?.result.stderr ?? "", "pulumi up succeeds").toBe("");
    return result;
  };
  const ssh = (cmd: string) => runOverSsh(host.target(), cmd);
  /**
   * After a repair, the host in sync again declares exactly what the state
   * holds: no change, no settle run. `unchangeable`: the drift left that no
   * deploy can change (files no deploy wrote), which must trigger nothing.
   */
  const expectNoChange = async (unchangeable: string[] = []) => {
    const run = await preview();
    expect(run.drift).toEqual(unchangeable);
    expect(
      [...engine.plan(run)].filter(([, op]) => op !== "same"),
      "every stage unchanged",
    ).toEqual([]);
    return run;
  };

  beforeAll(async () => {
    session = await startHostSession();
    ({ host, listeners, NixosHost } = session);
    lab = testLab(host.paths);
    vi.spyOn(console, "warn").mockImplementation((...a: unknown[]) => void warnings.push(a.join(" ")));
    await up();
    baseline = await preview();
    expect(baseline.drift).toEqual([]);
    expect(
      [...engine.plan(baseline)].filter(([, op]) => op !== "same"),
      "a preview right after the first deploy shows no change",
    ).toEqual([]);
  });

  afterEach(() => {
    warnings = [];
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await session?.stop();
  });

  it("an untouched host gives byte-identical inputs across runs, so preview shows no change", async () => {
    const again = await preview();
    for (const [stage, inputs] of baseline.commands)
      expect(JSON.stringify(again.commands.get(stage)), stage).toBe(JSON.stringify(inputs));
    expect(again.drift).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("observing runs one read-only command and changes nothing on the host", async () => {
    const sshBefore = host.sshLog().length;
    const hostBefore = host.hostLog().length;
    const before = snapshot(join(host.root, "host"));
    await preview();
    expect(snapshot(join(host.root, "host")), "no file, mode, owner or mtime changed").toEqual(before);
    expect(host.sshLog().slice(sshBefore), "the only command is observe").toEqual([observeCommand(host.paths)]);
    expect(host.hostLog().slice(hostBefore)).toEqual([
      "systemctl list-units --state=failed --plain --no-legend --no-pager",
    ]);
  });

  it("an edited bundle file shows as a push and rebuild update, and up restores it without a rebuild", async () => {
    const file = join(host.paths.bundleDir, "default.nix");
    appendFileSync(file, "# edited by hand on the host\n");
    const run = await preview();
    const reason = "bundle on host differs from declared: files under the bundle directory were changed";
    expect(run.drift).toEqual([reason]);
    expect(triggers(run, "push")).toContain(`drift: ${reason}`);
    expect(triggers(run, "rebuild")).toContain(`drift: ${reason}`);
    expect(secretStages(run).every((s) => engine.plan(run).get(s) === "same")).toBe(true);
    expect(engine.plan(run).get("push")).toBe("replace");
    expect(warnings.join("\n")).toContain(reason);

    const hostBefore = host.hostLog().length;
    await up();
    expect(readFileSync(file, "utf8")).toBe(testBundle().get("default.nix"));
    expect(
      host
        .hostLog()
        .slice(hostBefore)
        .some((l) => l.startsWith("nixos-rebuild")),
      "the running system was never built from the edit",
    ).toBe(false);
    const after = await expectNoChange();
    expect(triggers(after, "push"), "the repaired stage keeps the entry it ran with").toContain(`drift: ${reason}`);
  });

  it("a missing copy of the script the secrets commands run is push drift; a secrets command without it says what to do, and up puts it back", async () => {
    const copy = join(host.paths.stateDir, "bin/homelab-deploy.sh");
    rmSync(copy);
    const refused = await ssh(secretsCommand(host.paths, "mosquitto"));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      `homelab-deploy: secrets: ${copy} is missing; the push stage installs it. Run pulumi up again`,
    );

    const run = await preview();
    const reason = "the deploy script the secrets commands run is missing on the host (the push puts it back)";
    expect(run.drift).toEqual([reason]);
    expect(engine.plan(run).get("push")).toBe("replace");
    expect(secretStages(run).every((s) => engine.plan(run).get(s) === "same")).toBe(true);

    const hostBefore = host.hostLog().length;
    await up();
    expect(readFileSync(copy, "utf8")).toBe(SCRIPT);
    expect(statSync(copy).mode & 0o777).toBe(0o700);
    expect(
      host
        .hostLog()
        .slice(hostBefore)
        .some((l) => l.startsWith("nixos-rebuild")),
      "the bundle was live all along: no switch",
    ).toBe(false);
    await expectNoChange();
  });

  it("a replaced secret file shows as a secrets update naming the key, and up restores it", async () => {
    const secret = enabledSecrets(lab).find((s) => s.key === "mosquitto.password")!;
    await ssh(`printf 'changed by hand' > ${secret.path}`);
    const run = await preview();
    const reason = "secret file mosquitto.password on host differs from declared";
    expect(run.drift).toEqual([reason]);
    expect(triggers(run, "secrets.mosquitto")).toContain(`drift: ${reason}`);
    expect(
      [...engine.plan(run)].filter(([, op]) => op !== "same").map(([s]) => s),
      "only mosquitto's secrets (and the preflight) re-run",
    ).toEqual(["preflight", "secrets.mosquitto"]);
    expect(JSON.stringify(run.commands.get("secrets.mosquitto")!.triggers)).not.toContain("changed by hand");

    const hostBefore = host.hostLog().length;
    await up();
    expect(readFileSync(secret.path, "utf8")).toBe(secretValues(lab).get("mosquitto.password"));
    expect(host.hostLog().slice(hostBefore)).toContain("systemctl try-restart -- mosquitto.service");
    await expectNoChange();
  });

  it("the same hand edit made again after that repair is repaired again", async () => {
    const secret = enabledSecrets(lab).find((s) => s.key === "mosquitto.password")!;
    await ssh(`printf 'changed by hand' > ${secret.path}`);
    const run = await preview();
    expect(run.drift).toEqual(["secret file mosquitto.password on host differs from declared"]);
    expect(
      [...engine.plan(run)].filter(([, op]) => op !== "same").map(([s]) => s),
      "the same reason as last time still re-runs the command",
    ).toEqual(["preflight", "secrets.mosquitto"]);
    const repair = (t: string[]) =>
      Number(t.find((x) => x.startsWith("drift repair #"))?.slice("drift repair #".length));
    const stored = plain(engine.state.get("secrets.mosquitto")!.triggers) as string[];
    expect(repair(triggers(run, "secrets.mosquitto")), "numbered past the repair the state holds").toBe(
      repair(stored) + 1,
    );
    await up();
    expect(readFileSync(secret.path, "utf8")).toBe(secretValues(lab).get("mosquitto.password"));
    await expectNoChange();
  });

  it("a secret file with another mode shows as drift on the command that repairs it; files no deploy wrote are warned about and left alone", async () => {
    const secret = enabledSecrets(lab).find((s) => s.key === "transmission.rpc-password")!;
    chmodSync(secret.path, 0o644);
    const stray = join(host.paths.secretsDir, "stray");
    const strayInService = join(host.paths.secretsDir, "mosquitto", "stray");
    writeFileSync(stray, "left here");
    writeFileSync(strayInService, "left here too");
    const strayReasons = [strayInService, stray].map(
      (f) => `file in the secrets directory that no deploy wrote, left in place: ${f}`,
    );
    const run = await preview();
    const modeReason = `secret file transmission.rpc-password on host has owner root:${secret.group} mode 0644, declared root:${secret.group} mode 0440`;
    expect(run.drift).toEqual([...strayReasons, modeReason]);
    expect(triggers(run, "secrets.transmission")).toContain(`drift: ${modeReason}`);
    // Nothing a deploy runs would remove them, so they re-run nothing.
    for (const [stage] of run.commands)
      for (const r of strayReasons) expect(triggers(run, stage), stage).not.toContain(`drift: ${r}`);
    expect([...engine.plan(run)].filter(([, op]) => op !== "same").map(([s]) => s)).toEqual([
      "preflight",
      "secrets.transmission",
    ]);
    expect(warnings.join("\n")).toContain(`no deploy wrote; pulumi up leaves them alone`);
    await up();
    expect(statSync(secret.path).mode & 0o777).toBe(0o440);
    expect(readFileSync(stray, "utf8"), "a file no deploy wrote is not removed").toBe("left here");
    expect(readFileSync(strayInService, "utf8")).toBe("left here too");
    // Still reported, yet up has nothing left to do: it settles.
    await expectNoChange(strayReasons);
    rmSync(stray);
    rmSync(strayInService);
    await expectNoChange();
  });

  it("a generation switched outside Pulumi shows as a rebuild update, and up switches back to the declared bundle", async () => {
    // A rebuild of the same configuration makes no new generation (the fake, like Nix, reuses the store path); a rollback by hand does move it.
    const deployed = host.generation()!;
    const result = await ssh("nixos-rebuild switch --rollback");
    expect(result.code, result.stderr).toBe(0);
    const gen = host.generation()!;
    expect(gen).toBeLessThan(deployed);
    const run = await preview();
    const reason = `system generation changed outside Pulumi: the last deploy made ${deployed}, the host is on ${gen}`;
    expect(run.drift).toEqual([reason]);
    expect(triggers(run, "rebuild")).toContain(`drift: ${reason}`);
    expect(engine.plan(run).get("push")).toBe("same");
    expect(engine.plan(run).get("rebuild")).toBe("replace");

    const hostBefore = host.hostLog().length;
    await up();
    expect(host.hostLog().slice(hostBefore)).toContain("nixos-rebuild switch");
    // The declared system is still the newest generation's store path, so the switch goes back to that generation.
    expect(readFileSync(join(host.paths.stateDir, "deployed-generation"), "utf8").trim()).toBe(String(deployed));
    expect(host.generation()).toBe(deployed);
    await expectNoChange();
  });

  it("failed units are warned about by name and trigger nothing: no deploy step restarts them, so up settles while they stay failed", async () => {
    host.control("failed-units", "restic-backups-homelab.service\nbackrest.service\n");
    try {
      const reported = "units failed: backrest.service, restic-backups-homelab.service";
      const run = await expectNoChange([reported]);
      expect(
        warnings.some((w) => w.includes(`${reported}. pulumi up does not restart them; look at journalctl -u <unit>`)),
        warnings.join("\n"),
      ).toBe(true);
      await up();
      await expectNoChange([reported]);
      expect(triggers(run, "rebuild").some((t) => t.includes("units failed"))).toBe(false);
    } finally {
      host.clearControl("failed-units");
    }
    await expectNoChange();
  });

  it("a declared change that is not yet deployed is a pending change, not drift", async () => {
    const run = await preview({
      bundle: testBundle({ "modules/new.nix": "{ }\n" }),
      values: secretValues(lab, { "dashboard.hass-token": "rotated" }),
    });
    expect(run.drift).toEqual([]);
    expect(engine.plan(run).get("push")).toBe("replace");
    expect(engine.plan(run).get("secrets.dashboard")).toBe("replace");
    expect(engine.plan(run).get("secrets.mosquitto")).toBe("same");
    expect(warnings).toEqual([]);
  });

  it("a host whose state directory is gone (a reinstall) shows as drift on every step, and up deploys it all again", async () => {
    await ssh(`rm -rf -- ${host.paths.stateDir} ${host.paths.secretsDir}`);
    const run = await preview();
    expect(run.drift).toEqual([NO_DEPLOY_REASON]);
    const changed = [...engine.plan(run)].filter(([, op]) => op !== "same").map(([stage]) => stage);
    expect(changed.sort(), "every step runs again").toEqual([...run.commands.keys()].sort());
    await up();
    for (const s of enabledSecrets(lab)) expect(readFileSync(s.path, "utf8"), s.key).toBe(secretValues(lab).get(s.key));
    expect(statSync(join(host.paths.bundleDir, "generated")).isDirectory(), "the bundle link resolves again").toBe(
      true,
    );
    await expectNoChange();
  });

  it("an unreachable host warns what could not be checked and never looks like no change", async () => {
    const reachable = await preview();
    const port = await freePort();
    const target = { ...host.target(), port };
    installMocks(true);
    const run = await runProgram(NixosHost, hostArgs(target, host.paths, lab, listeners));
    expect(run.drift).toEqual([UNREACHABLE_REASON]);
    expect(triggers(run, "rebuild")).toContain(`drift: ${UNREACHABLE_REASON}`);
    expect(triggers(run, "rebuild")).not.toEqual(triggers(reachable, "rebuild"));
    expect(triggers(run, "preflight")).not.toEqual(triggers(reachable, "preflight"));
    // An up that ran while only the drift check failed stored this run's inputs; the next unread run still differs.
    installMocks(true);
    const next = await runProgram(NixosHost, hostArgs(target, host.paths, lab, listeners));
    expect(triggers(next, "rebuild")).not.toEqual(triggers(run, "rebuild"));
    expect(warnings.join("\n")).toMatch(
      /could not read root@127\.0\.0\.1:\d+ to check for drift.*could not check bundle, secrets, generation/s,
    );
  });
});
