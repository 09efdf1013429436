import { existsSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enabledSecrets, type Homelab } from "../../components/catalog/resolve";
import { HEALTH_CHECKS_PATH, SECRET_FILES_PATH, bundleHash, bundleStdin } from "../../components/host/bundle";
import { applyCommand, pushCommand, type HostHealthCheck } from "../../components/host/commands";
import { SCRIPT, hostArgs, secretValues, testBundle, testChecks, testLab, type Listeners } from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import {
  FakeEngine,
  rebuildAndConfirm,
  runCaptured,
  runProgram,
  type NixosHostClass,
  type ProgramRun,
} from "./support/program";
import { freePort, ownership, runOverSsh, sshdTier, type TestHost } from "./support/testhost";

const sshd = sshdTier();

/**
 * An apply killed outright (SIGKILL: no trap, no rollback of its own) at
 * every step boundary, and during the switch and the health checks. Each
 * time, the next apply must find the journal and converge: to the new
 * release, healthy, or to the one before, with the links, the generations,
 * the records and the secret files to match.
 */
describe.skipIf(!sshd.available).each(["channel", "flake"] as const)(
  "an apply killed at any point is finished by the next one (%s host)",
  (mode) => {
    let host: TestHost;
    let listeners: Listeners;
    let lab: Homelab;
    let NixosHost: NixosHostClass;
    let session: HostSession;
    let deadPort: number;
    const engine = new FakeEngine();
    let counter = 0;

    const journal = () => join(host.paths.stateDir, "apply-journal");
    const state = (name: string) =>
      existsSync(join(host.paths.stateDir, name)) ? readFileSync(join(host.paths.stateDir, name), "utf8").trim() : null;
    const output = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;
    const failingChecks = (): HostHealthCheck[] => [
      ...testChecks(lab, listeners),
      { id: "jellyfin", kind: "http", port: deadPort, path: "/health" },
    ];

    /** A flake host's own flake, beside the bundle directory, as /etc/nixos holds it. */
    const flake = () =>
      mode === "flake" ? { ref: `${dirname(host.paths.bundleDir)}#nixos`, input: "homelab" } : undefined;

    /** A program run for a bundle of its own: a marker file tells its system apart in the store. */
    async function release(o: { failing?: boolean; marker?: string } = {}): Promise<ProgramRun & { marker: string }> {
      const marker = o.marker ?? `release ${++counter}`;
      const bundle = testBundle({ "modules/marker.nix": `# ${marker}\n` });
      const run = await runProgram(
        NixosHost,
        hostArgs(host.target(), host.paths, lab, listeners, {
          bundle,
          detectDrift: false,
          flake: flake(),
          ...(o.failing ? { checks: failingChecks(), healthTimeoutSeconds: 1 } : {}),
        }),
      );
      return { ...run, marker };
    }

    async function push(run: ProgramRun) {
      const r = await runCaptured(run.commands.get("push")!);
      expect(r.code, r.stderr).toBe(0);
    }

    /**
     * A release made live, then another pushed and not yet applied: where each
     * interrupted-apply case starts. `beforeSystem` and `genBefore` are the
     * live release's system, for the cases that go back to it.
     */
    async function liveThenPushed(o: { failing?: boolean } = {}) {
      const before = await release();
      await push(before);
      expect((await rebuild(before)).code).toBe(0);
      const beforeSystem = host.systemPath();
      const genBefore = host.generation()!;
      const next = await release(o);
      await push(next);
      return { before, beforeSystem, genBefore, next };
    }

    /** The rebuild and its confirm, with the host told to SIGKILL the deploy script at `killAt`. */
    async function rebuild(run: ProgramRun, killAt?: string) {
      if (killAt) host.control("kill-at", killAt);
      try {
        return await rebuildAndConfirm(run);
      } finally {
        host.clearControl("kill-at");
      }
    }

    /** Everything that says which release is live agrees on `run`, and no apply is left unfinished. */
    function expectLive(run: ProgramRun & { marker: string }, why: string) {
      const hash = run.host.bundleHash;
      expect(readlinkSync(host.paths.bundleDir), `${why}: bundle link`).toBe(`${host.paths.stateDir}/releases/${hash}`);
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
      for (const s of enabledSecrets(lab)) {
        expect(readFileSync(s.path, "utf8"), `${why}: ${s.key}`).toBe(secretValues(lab).get(s.key));
        expect(ownership(s.path), `${why}: owner and mode of ${s.key}`).toBe(`root:${s.group}:${s.mode.slice(1)}`);
      }
    }

    beforeAll(async () => {
      session = await startHostSession();
      ({ host, listeners, NixosHost } = session);
      lab = testLab(host.paths);
      if (mode === "flake")
        writeFileSync(
          join(dirname(host.paths.bundleDir), "flake.nix"),
          '{ inputs.homelab.url = "path:./homelab"; outputs = _: { }; }\n',
        );
      deadPort = await freePort();
    });

    afterAll(async () => {
      await session?.stop();
    });

    it("a first deploy whose checks fail keeps the new release linked and running, records nothing as applied, and says what to do", async () => {
      const run = await release({ failing: true, marker: "first" });
      // Killed once after the switch: with nothing earlier to go back to, the next run keeps the link and applies again.
      host.control("kill-at", "switched");
      try {
        const killed = await engine.up(run);
        expect(killed.failed?.stage).toBe("rebuild");
        expect(killed.failed!.result.stderr).toContain("ended without finishing");
      } finally {
        host.clearControl("kill-at");
      }
      expect(existsSync(journal())).toBe(true);
      const result = await engine.up(run);
      expect(result.failed?.stage).toBe("rebuild");
      // Put back as before the first attempt, then applied as a first deploy again, so the failure keeps what runs.
      expect(result.failed!.result.stdout).toContain(
        "the first deploy to this host, was interrupted before it finished; put the host back as it was before it (no bundle link, system generation 1)",
      );
      const out = output(result.failed!.result);
      expect(out).toMatch(
        /health checks failed after 1s: jellyfin \(http 127\.0\.0\.1:\d+\/health\)\. This was the first deploy to this host/,
      );
      expect(out).toContain("run pulumi up again");
      expect(out).not.toContain("ROLLBACK FAILED");
      // Config and running system agree: the link names the release the profile runs.
      expect(readlinkSync(host.paths.bundleDir)).toBe(`${host.paths.stateDir}/releases/${run.host.bundleHash}`);
      expect(readFileSync(join(host.systemPath(), "modules/marker.nix"), "utf8")).toBe("# first\n");
      expect(
        host.generation(),
        "the killed attempt's generation was deleted in the recovery; the second attempt made 2 again",
      ).toBe(2);
      expect(state("applied-release"), "not recorded, so the next up applies it again").toBe(null);
      expect(existsSync(journal())).toBe(false);

      const fixed = await release({ marker: "first, fixed" });
      const again = await engine.up(fixed);
      expect(again.failed?.result.stderr ?? "").toBe("");
      expectLive(fixed, "the next deploy");
    });

    it("killed between the link flip and the switch: observe reports it, the next apply rolls back first and then applies", async () => {
      const { before, genBefore, next } = await liveThenPushed();
      const killed = await rebuild(next, "linked");
      expect(killed.code).not.toBe(0);
      expect(killed.stderr).toMatch(/apply: process \d+ ended without finishing .*next deploy from its journal/);
      // Half-applied: the link is new, the system old, and the journal says where to return.
      expect(readlinkSync(host.paths.bundleDir)).toBe(`${host.paths.stateDir}/releases/${next.host.bundleHash}`);
      expect(host.generation()).toBe(genBefore);
      expect(readFileSync(journal(), "utf8")).toContain(`previous-release\t${before.host.bundleHash}`);

      const observed = await runProgram(
        NixosHost,
        hostArgs(host.target(), host.paths, lab, listeners, {
          bundle: testBundle({ "modules/marker.nix": `# ${next.marker}\n` }),
        }),
      );
      expect(observed.drift).toContain(
        `an apply of release ${next.host.bundleHash.slice(0, 12)} was interrupted before it finished; the next apply rolls back to release ${before.host.bundleHash.slice(0, 12)} first`,
      );
      expect(existsSync(journal()), "observe only reads").toBe(true);
      // The next deploy's secrets stage runs before its rebuild: it says so and leaves the journal to the rebuild.
      const secrets = await runCaptured(next.commands.get("secrets.mosquitto")!);
      expect(secrets.code, secrets.stderr).toBe(0);
      expect(secrets.stdout).toContain("secrets: an earlier apply was interrupted");
      expect(existsSync(journal())).toBe(true);

      const rerun = await rebuild(next);
      expect(rerun.code, output(rerun)).toBe(0);
      expect(rerun.stdout).toContain(
        `an earlier apply of ${next.host.bundleHash} was interrupted before it finished; rolled back to release ${before.host.bundleHash} and system generation ${genBefore}`,
      );
      expectLive(next, "re-run");
    });

    it("killed during the switch (the profile moved, nothing activated): the next apply of the old release puts it back", async () => {
      const { before, genBefore, next } = await liveThenPushed();
      host.control("switch-killed");
      try {
        const killed = await rebuild(next);
        expect(killed.code).not.toBe(0);
        expect(killed.stderr).toContain("ended without finishing");
      } finally {
        host.clearControl("switch-killed");
      }
      expect(host.generation(), "the profile had moved").toBe(genBefore + 1);
      // Going back (say the program was reverted): the old release's rebuild finds the journal first.
      const rerun = await rebuild(before);
      expect(rerun.code, output(rerun)).toBe(0);
      expect(rerun.stdout).toContain(
        `rolled back to release ${before.host.bundleHash} and system generation ${genBefore}`,
      );
      expect(rerun.stdout).toContain("already live");
      expect(host.hostLog()).toContain(`switch-to-configuration switch (${host.systemPath().split("/").pop()})`);
      expectLive(before, "back to the old release");
    });

    it("killed during the health checks: the next apply rolls back, applies again and ends healthy", async () => {
      const next = await release();
      await push(next);
      const killed = await rebuild(next, "health");
      expect(killed.code).not.toBe(0);
      expect(existsSync(journal())).toBe(true);
      const rerun = await rebuild(next);
      expect(rerun.code, output(rerun)).toBe(0);
      expect(rerun.stdout).toContain("was interrupted before it finished; rolled back");
      expect(rerun.stdout).toContain(`health: all ${testChecks(lab, listeners).length} checks pass`);
      expectLive(next, "re-run");
    });

    it("a release whose deploy lists hold a bad line is refused line by line before anything changes", async () => {
      const cases: [string, string, RegExp][] = [
        [
          HEALTH_CHECKS_PATH,
          "# checks\nportal\thttp\t80\t/a b\n",
          /generated\/health-checks\.tsv line 2: portal: "\/a b" is not a plain URL path/,
        ],
        [
          HEALTH_CHECKS_PATH,
          "portal\tudp\t80\t\n",
          /generated\/health-checks\.tsv line 1: portal: kind "udp" is not http or tcp/,
        ],
        [
          HEALTH_CHECKS_PATH,
          "portal\ttcp\t70000\t\n",
          /generated\/health-checks\.tsv line 1: portal: port "70000" is not a TCP port/,
        ],
        [
          SECRET_FILES_PATH,
          "# files\n/etc/shadow\n",
          /generated\/secret-files\.list line 2: \/etc\/shadow is not a service's file under/,
        ],
      ];
      for (const [path, content, says] of cases) {
        const bundle = new Map([
          ...testBundle({ "modules/lists.nix": `# ${says.source}\n` }),
          [HEALTH_CHECKS_PATH, "portal\ttcp\t80\t\n"],
          [SECRET_FILES_PATH, ""],
          [path, content],
        ]);
        const hash = bundleHash(bundle);
        const pushed = await runOverSsh(host.target(), pushCommand(host.paths, hash), bundleStdin(bundle));
        expect(pushed.code, pushed.stderr).toBe(0);
        const link = readlinkSync(host.paths.bundleDir);
        const gen = host.generation();
        const r = await runOverSsh(
          host.target(),
          applyCommand(host.paths, hash, { keepGenerations: 3, healthTimeoutSeconds: 5 }),
        );
        expect(r.code, path).not.toBe(0);
        expect(r.stderr).toMatch(says);
        expect(readlinkSync(host.paths.bundleDir), "the link is as it was").toBe(link);
        expect(host.generation()).toBe(gen);
        expect(existsSync(journal())).toBe(false);
      }
    });

    /**
     * The step boundaries of a healthy apply and its confirm (committed and
     * after), in order, and what the re-run says about the one before.
     */
    const STEPS: [string, RegExp][] = [
      ["journal", /interrupted before it finished; rolled back/],
      ["linked", /interrupted before it finished; rolled back/],
      ["built", /interrupted before it finished; rolled back/],
      ["switched", /interrupted before it finished; rolled back/],
      ["health", /interrupted before it finished; rolled back/],
      ["healthy", /interrupted before it finished; rolled back/],
      ["armed", /interrupted before it finished; rolled back/],
      // The journal says the switch passed its checks in this boot: the re-run checks again and waits again.
      ["awaiting", /already passed its health checks and waits for confirmation .*; checking it again/],
      ["committed", /interrupted after its health checks passed; recorded it as live/],
      ["recorded", /interrupted after its health checks passed; recorded it as live/],
      ["finished", /already live as system generation \d+; no rebuild/],
      ["cleaned", /already live as system generation \d+; no rebuild/],
    ];

    it("a rollback returns to the system that ran, not to the generation numbered just below the failed one", async () => {
      const older = await release();
      await push(older);
      expect((await rebuild(older)).code).toBe(0);
      const olderSystem = host.systemPath();
      const newer = await release();
      await push(newer);
      expect((await rebuild(newer)).code).toBe(0);
      const newest = host.generation()!;
      // Someone goes back by hand: the host runs the older system, the newer generation stays.
      const back = await runOverSsh(host.target(), "nixos-rebuild switch --rollback");
      expect(back.code, back.stderr).toBe(0);
      const ran = host.generation()!;
      expect(host.systemPath()).toBe(olderSystem);

      const failing = await release({ failing: true });
      await push(failing);
      const r = await rebuild(failing);
      expect(r.code).not.toBe(0);
      // nixos-rebuild switch --rollback would have gone to the newest generation below the failed one: the newer system.
      expect(r.stderr).toContain(`rolled back to system generation ${ran} and bundle`);
      expect(host.systemPath()).toBe(olderSystem);
      expect(host.generations(), "the generation made by hand before the apply stays; the failed one goes").toEqual(
        expect.arrayContaining([ran, newest]),
      );
      expect(Math.max(...host.generations())).toBe(newest);
      expect(existsSync(journal())).toBe(false);
      // Put the host back on the newer release for the next tests.
      const again = await rebuild(newer);
      expect(again.code, output(again)).toBe(0);
      expectLive(newer, "re-applied");
    });

    it("when the generation that ran is gone, the recovery sets the profile to its store path", async () => {
      const { before, beforeSystem, genBefore, next } = await liveThenPushed();
      expect((await rebuild(next, "switched")).code).not.toBe(0);
      // Between the crash and the next deploy, someone deletes the old generation (the store path stays).
      const del = await runOverSsh(host.target(), `nix-env -p ${host.profile} --delete-generations ${genBefore}`);
      expect(del.code, del.stderr).toBe(0);
      const logBefore = host.hostLog().length;
      const rerun = await rebuild(before);
      expect(rerun.code, output(rerun)).toBe(0);
      expect(host.hostLog().slice(logBefore)).toContain(`nix-env -p ${host.profile} --set ${beforeSystem}`);
      expect(host.systemPath()).toBe(beforeSystem);
      expect(rerun.stdout).toContain(
        `rolled back to release ${before.host.bundleHash} and system generation ${host.generation()}`,
      );
      expectLive(before, "back by store path");
    });

    it("killed while recording an apply whose checks had passed, the next run records it", async () => {
      const next = await release();
      await push(next);
      expect((await rebuild(next, "committed")).code).not.toBe(0);
      expect((await rebuild(next, "recovered")).code).not.toBe(0);
      const rerun = await rebuild(next);
      expect(rerun.code, output(rerun)).toBe(0);
      expect(rerun.stdout).toContain("interrupted after its health checks passed; recorded it as live");
      expectLive(next, "after two interrupted runs");
    });

    const ROLLBACK_STEPS = ["rollback-system", "rollback-link", "rolled-back"];

    it("every step boundary in the script is one these tests kill at", () => {
      const inScript = [...new Set([...SCRIPT.matchAll(/^\s*step ([a-z-]+)$/gm)].map((m) => m[1]))].sort();
      expect(inScript).toEqual([...STEPS.map(([s]) => s), ...ROLLBACK_STEPS, "recovered"].sort());
    });

    it.each(STEPS)("killed at step %s, a healthy apply is finished by the next run", async (step, says) => {
      const next = await release();
      await push(next);
      const killed = await rebuild(next, step);
      expect(killed.code, `killed at ${step}`).not.toBe(0);
      expect(killed.stdout, "it never got to the end").not.toContain("is live as system generation");
      const rerun = await rebuild(next);
      expect(rerun.code, output(rerun)).toBe(0);
      expect(rerun.stdout).toMatch(says);
      expectLive(next, `killed at ${step}, then run again`);
    });

    it("killed inside its own recovery, the next run finishes the recovery", async () => {
      const { before, next } = await liveThenPushed();
      expect((await rebuild(next, "switched")).code).not.toBe(0);
      // The recovering run dies after the system went back, before the journal is removed.
      expect((await rebuild(before, "recovered")).code).not.toBe(0);
      expect(existsSync(journal())).toBe(true);
      const rerun = await rebuild(before);
      expect(rerun.code, output(rerun)).toBe(0);
      expect(rerun.stdout).toContain("interrupted before it finished; rolled back");
      expectLive(before, "after two interrupted runs");
    });

    it.each(ROLLBACK_STEPS)(
      "killed at %s while rolling back a failed release, the next run ends on the old release",
      async (step) => {
        const { before, next: failing } = await liveThenPushed({ failing: true });
        const killed = await rebuild(failing, step);
        expect(killed.code).not.toBe(0);
        expect(existsSync(journal()), "the rollback had not finished").toBe(true);
        // pulumi up again runs the same failing rebuild: recovery, a new attempt, a rollback that finishes.
        const rerun = await rebuild(failing);
        expect(rerun.code).not.toBe(0);
        expect(rerun.stdout).toContain("interrupted before it finished; rolled back");
        expect(rerun.stderr).toMatch(
          /health checks failed after 1s: jellyfin .*; rolled back to system generation \d+ and bundle [0-9a-f]{64}/,
        );
        expectLive(before, `killed at ${step}, then run again`);
      },
    );
  },
);
