import { existsSync, readFileSync, readlinkSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enabledSecrets, type Homelab } from "../../components/catalog/resolve";
import { confirmCommand } from "../../components/host/commands";
import { hostArgs, secretValues, testBundle, testLab, type Listeners } from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import {
  FakeEngine,
  rebuildAndConfirm,
  runCaptured,
  runProgram,
  type NixosHostClass,
  type ProgramRun,
} from "./support/program";
import { ownership, runOverSsh, sshdTier, type TestHost } from "./support/testhost";

const sshd = sshdTier();

/**
 * Confirmed activation: after a healthy switch the host commits nothing until
 * the deployer reaches it over a new SSH connection and confirms; without
 * that, its own timer rolls back. And the apply journal when it is damaged:
 * refused with the command that repairs it, which brings the host back to
 * where the next deploy converges.
 */
describe.skipIf(!sshd.available)("a switch the deployer confirms", () => {
  let host: TestHost;
  let listeners: Listeners;
  let lab: Homelab;
  let NixosHost: NixosHostClass;
  let session: HostSession;
  let counter = 0;

  const journal = () => join(host.paths.stateDir, "apply-journal");
  const state = (name: string) =>
    existsSync(join(host.paths.stateDir, name)) ? readFileSync(join(host.paths.stateDir, name), "utf8").trim() : null;
  const output = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;
  const releaseDir = (run: ProgramRun) => `${host.paths.stateDir}/releases/${run.host.bundleHash}`;

  async function release(o: { confirmTimeoutSeconds?: number } = {}): Promise<ProgramRun & { marker: string }> {
    const marker = `release ${++counter}`;
    const bundle = testBundle({ "modules/marker.nix": `# ${marker}\n` });
    const run = await runProgram(
      NixosHost,
      hostArgs(host.target(), host.paths, lab, listeners, {
        bundle,
        detectDrift: false,
        confirmTimeoutSeconds: o.confirmTimeoutSeconds,
      }),
    );
    return { ...run, marker };
  }

  async function push(run: ProgramRun) {
    const r = await runCaptured(run.commands.get("push")!);
    expect(r.code, r.stderr).toBe(0);
  }

  /** A release pushed, switched and confirmed: where each case starts. */
  async function live() {
    const run = await release();
    await push(run);
    const r = await rebuildAndConfirm(run);
    expect(r.code, output(r)).toBe(0);
    return { run, system: host.systemPath(), generation: host.generation()! };
  }

  async function until(what: string, done: () => boolean, ms: number) {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms / 1000}s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Everything that says which release is live agrees on `run`, nothing awaits and no timer is left. */
  function expectLive(run: ProgramRun & { marker: string }, why: string) {
    const hash = run.host.bundleHash;
    expect(readlinkSync(host.paths.bundleDir), `${why}: bundle link`).toBe(releaseDir(run));
    expect(state("applied-release"), `${why}: applied-release`).toBe(hash);
    expect(state("deployed-generation"), `${why}: deployed-generation`).toBe(String(host.generation()));
    expect(
      readFileSync(join(host.systemPath(), "modules/marker.nix"), "utf8"),
      `${why}: the running system is the release's`,
    ).toBe(`# ${run.marker}\n`);
    expect(Math.max(...host.generations()), `${why}: no generation newer than the live one is left`).toBe(
      host.generation(),
    );
    expect(existsSync(journal()), `${why}: the journal is gone`).toBe(false);
    expect(host.pendingTimers(), `${why}: no rollback timer is left armed`).toEqual([]);
    for (const s of enabledSecrets(lab)) {
      expect(readFileSync(s.path, "utf8"), `${why}: ${s.key}`).toBe(secretValues(lab).get(s.key));
      expect(ownership(s.path), `${why}: owner and mode of ${s.key}`).toBe(`root:${s.group}:${s.mode.slice(1)}`);
    }
  }

  beforeAll(async () => {
    session = await startHostSession();
    ({ host, listeners, NixosHost } = session);
    lab = testLab(host.paths);
    // A first deploy through every stage, so the secret files are in place for what follows.
    const first = await new FakeEngine().up(await release());
    expect(first.failed, first.failed ? output(first.failed.result) : "").toBeUndefined();
  });

  afterAll(async () => {
    await session?.stop();
  });

  it("a confirmed switch is recorded as live, with the record, the boot default and no timer left", async () => {
    const before = await live();
    const run = await release();
    await push(run);
    const r = await rebuildAndConfirm(run);
    expect(r.code, output(r)).toBe(0);
    expect(r.rebuild.stdout).toMatch(
      /passed its health checks as system generation \d+; waiting 60s \(until \d\d:\d\d:\d\dZ\) for the deployer to confirm it over a new SSH connection/,
    );
    expect(r.confirm!.stdout).toContain(
      `the deployer reached the host over a new SSH connection after the switch; release ${run.host.bundleHash} confirmed`,
    );
    expect(r.confirm!.stdout).toContain(
      `bundle ${run.host.bundleHash} is live as system generation ${before.generation + 1}`,
    );
    expectLive(run, "confirmed");
    const record = /--record (\S+)/.exec(run.commands.get("rebuild")!.create as string)![1];
    expect(state("record.rebuild"), "the confirm keeps the rebuild's record").toBe(record);
    expect(host.bootDefault(), "the next boot starts the confirmed system").toBe(host.systemPath());
    // The confirm came over its own connection: one more SSH command after the rebuild's.
    const log = host.sshLog();
    expect(log.at(-1)).toContain(" confirm ");
    expect(log.at(-2)).toContain(" apply ");
  });

  it("confirming again changes nothing, and a confirm of another release is refused", async () => {
    const confirmed = await live();
    const again = await runCaptured(confirmed.run.commands.get("confirm")!);
    expect(again.code, output(again)).toBe(0);
    expect(again.stdout).toContain(
      `bundle ${confirmed.run.host.bundleHash} is already live as system generation ${confirmed.generation}; it was confirmed before`,
    );
    expectLive(confirmed.run, "confirmed twice");

    const waiting = await release();
    await push(waiting);
    const applied = await runCaptured(waiting.commands.get("rebuild")!);
    expect(applied.code, output(applied)).toBe(0);
    expect(readFileSync(journal(), "utf8")).toContain("phase\tawaiting");
    expect(host.bootDefault(), "while unconfirmed, a reboot starts the system before").toBe(confirmed.system);
    expect(host.pendingTimers()).toHaveLength(1);
    const other = await runOverSsh(host.target(), confirmCommand(host.paths, confirmed.run.host.bundleHash));
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain(
      `confirm: the host is waiting to confirm release ${waiting.host.bundleHash}, not ${confirmed.run.host.bundleHash}; nothing confirmed`,
    );
    expect(state("applied-release"), "the refused confirm recorded nothing").toBe(confirmed.run.host.bundleHash);
    expect(readFileSync(journal(), "utf8")).toContain("phase\tawaiting");
    const ok = await runCaptured(waiting.commands.get("confirm")!);
    expect(ok.code, output(ok)).toBe(0);
    expectLive(waiting, "the awaited release confirmed");
  });

  it("a switch the deployer cannot reach to confirm is rolled back by the host's own timer", async () => {
    const before = await live();
    const engine = new FakeEngine();
    const run = await release({ confirmTimeoutSeconds: 10 });
    await push(run);
    // The new system cuts off new SSH connections, as a broken sshd or firewall would.
    host.control("switch-breaks-ssh");
    try {
      const up = await engine.up(run);
      expect(up.failed?.stage, "the confirm is what fails").toBe("confirm");
      expect(up.steps.find((s) => s.stage === "rebuild")?.result.code).toBe(0);
      const err = up.failed!.result.stderr;
      expect(err).toContain("could not be reached over a new SSH connection after the switch");
      expect(err).toContain("it rolls back by itself within homelab:confirmTimeoutSeconds (10s)");
      expect(err).toContain("Connection reset by peer");
      // Nobody is there any more: the host's timer does it.
      await until("the host's rollback", () => !existsSync(journal()), 30_000);
    } finally {
      host.clearControl("switch-breaks-ssh");
    }
    const units = readdirSync(join(host.root, "log")).filter((f) => f.startsWith("homelab-confirm-"));
    expect(units.map((f) => host.unitLog(f.replace(/\.log$/, ""))).join("")).toMatch(
      /no confirmation of release [0-9a-f]{64} arrived by \d\d:\d\d:\d\dZ; rolling back/,
    );
    expect(
      existsSync(join(host.root, "control/ssh-refused")),
      "the system before, activated again, takes connections",
    ).toBe(false);
    expect(readlinkSync(host.paths.bundleDir), "bundle link").toBe(releaseDir(before.run));
    expect(state("applied-release")).toBe(before.run.host.bundleHash);
    expect(host.systemPath(), "the system before runs").toBe(before.system);
    expect(host.generation()).toBe(before.generation);
    expect(state("deployed-generation")).toBe(String(before.generation));
    expect(Math.max(...host.generations()), "the unconfirmed generation is deleted").toBe(before.generation);
    expect(host.pendingTimers()).toEqual([]);
    expect(state("unconfirmed-rollback")).toMatch(new RegExp(`^${run.host.bundleHash} \\d{4}-\\d\\d-\\d\\dT`));

    // A late confirm says what happened.
    const late = await runCaptured(run.commands.get("confirm")!);
    expect(late.code).not.toBe(0);
    expect(late.stderr).toContain(
      `confirm: too late: no confirmation of release ${run.host.bundleHash} arrived in time, so the host rolled it back by itself`,
    );
    // The next preview shows why the rebuild runs again, and the next up applies it.
    const seen = await runProgram(
      NixosHost,
      hostArgs(host.target(), host.paths, lab, listeners, {
        bundle: testBundle({ "modules/marker.nix": `# ${run.marker}\n` }),
        confirmTimeoutSeconds: 10,
      }),
    );
    expect(seen.drift.join("\n")).toContain(
      `the host rolled back release ${run.host.bundleHash.slice(0, 12)} by itself at`,
    );
    expect(engine.plan(seen).get("rebuild"), "the rebuild runs again").toBe("replace");
    const again = await engine.up(seen);
    expect(again.failed, again.failed ? output(again.failed.result) : "").toBeUndefined();
    expectLive({ ...seen, marker: run.marker }, "applied again and confirmed");
    expect(state("unconfirmed-rollback"), "a confirmed apply clears the mark").toBe(null);
  });

  it("a reboot while the host waits starts the system before, and the next deploy rolls back and applies again", async () => {
    const before = await live();
    const run = await release();
    await push(run);
    const applied = await runCaptured(run.commands.get("rebuild")!);
    expect(applied.code, output(applied)).toBe(0);
    expect(host.bootDefault(), "the boot default is the system before").toBe(before.system);
    // The reboot: the transient timer is gone, the journal stays.
    host.reboot();
    expect(readFileSync(journal(), "utf8")).toContain("phase\tawaiting");
    const seen = await runProgram(
      NixosHost,
      hostArgs(host.target(), host.paths, lab, listeners, {
        bundle: testBundle({ "modules/marker.nix": `# ${run.marker}\n` }),
      }),
    );
    expect(seen.drift.join("\n")).toMatch(
      /passed its checks and waits for the deployer's confirmation; without it the host rolls back by itself to release [0-9a-f]{12} at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, and the next apply rolls it back first/,
    );
    const r = await rebuildAndConfirm(run);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain(
      `an earlier apply of ${run.host.bundleHash} passed its checks but was not confirmed by the deployer over a new SSH connection; rolled back to release ${before.run.host.bundleHash} and system generation ${before.generation}`,
    );
    expectLive(run, "after the reboot, applied again");
  });

  it("a confirm killed halfway is finished by the next one", async () => {
    const before = await live();
    const run = await release();
    await push(run);
    expect((await runCaptured(run.commands.get("rebuild")!)).code).toBe(0);
    host.control("kill-at", "committed");
    try {
      const killed = await runCaptured(run.commands.get("confirm")!);
      expect(killed.code, "the confirm died on the host").not.toBe(0);
    } finally {
      host.clearControl("kill-at");
    }
    expect(readFileSync(journal(), "utf8")).toContain("phase\tcommitted");
    const r = await runCaptured(run.commands.get("confirm")!);
    expect(r.code, output(r)).toBe(0);
    expectLive(run, "confirm run again");
    void before;
  });

  it("a damaged journal is refused with the command that repairs it, and after it the next deploy converges", async () => {
    const before = await live();
    const run = await release();
    await push(run);
    // Killed after the switch: link and system are the new release's, the records the old one's.
    host.control("kill-at", "switched");
    try {
      expect((await runCaptured(run.commands.get("rebuild")!)).code).not.toBe(0);
    } finally {
      host.clearControl("kill-at");
    }
    expect(host.generation()).toBe(before.generation + 1);
    // Cut short, as a write some other tool made, or a disk error, leaves it.
    writeFileSync(journal(), readFileSync(journal()).subarray(0, 60));
    const link = readlinkSync(host.paths.bundleDir);
    const generation = host.generation();

    const refused = await rebuildAndConfirm(run);
    expect(refused.code).not.toBe(0);
    const m = /On the host run: (bash \S+ journal-repair --bundle-dir \S+ --secrets-dir \S+ --state-dir \S+)/.exec(
      refused.stderr,
    );
    expect(m, refused.stderr).not.toBeNull();
    expect(refused.stderr).toContain("apply: the apply journal");
    expect(refused.stderr).toContain("is damaged (it has no phase)");
    expect(readlinkSync(host.paths.bundleDir), "the refusal changed nothing").toBe(link);
    expect(host.generation()).toBe(generation);

    // The preview says the same, and does not claim the next apply finishes it.
    const seen = await runProgram(
      NixosHost,
      hostArgs(host.target(), host.paths, lab, listeners, {
        bundle: testBundle({ "modules/marker.nix": `# ${run.marker}\n` }),
      }),
    );
    const drift = seen.drift.join("\n");
    expect(drift).toContain(`the apply journal on the host is damaged (it has no phase)`);
    expect(drift).toContain(m![1]);
    expect(drift).not.toContain("the next apply finishes it");

    const repaired = await runOverSsh(host.target(), m![1]);
    expect(repaired.code, output(repaired)).toBe(0);
    expect(repaired.stdout).toContain(`put back to release ${before.run.host.bundleHash}, as recorded`);
    expect(repaired.stdout).toContain(`switched back to generation ${before.generation}, as recorded`);
    expect(readlinkSync(host.paths.bundleDir), "the link is the recorded release's").toBe(releaseDir(before.run));
    expect(host.generation()).toBe(before.generation);
    expect(host.systemPath()).toBe(before.system);
    expect(existsSync(journal()), "the journal is set aside").toBe(false);
    expect(
      readdirSync(host.paths.stateDir).some((f) => f.startsWith("apply-journal.damaged-")),
      "kept for whoever looks into it",
    ).toBe(true);

    const r = await rebuildAndConfirm(run);
    expect(r.code, output(r)).toBe(0);
    expectLive(run, "the deploy after the repair");
  });
});
