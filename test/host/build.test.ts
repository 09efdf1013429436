import {
  existsSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Homelab } from "../../components/catalog/resolve";
import { hostArgs, testBundle, testLab, type Listeners } from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import { FakeEngine, runProgram, type NixosHostClass, type ProgramRun } from "./support/program";
import { sshdTier, type TestHost } from "./support/testhost";
import { takeoverList } from "../../components/host/commands";

const sshd = sshdTier();

/** What nixos-rebuild prints when the host's own configuration already defines a catalog service's option with another value. */
const CONFLICT = [
  "error: The option `services.jellyfin.port' has conflicting definition values:",
  "       - In `/etc/nixos/configuration.nix': 8097",
  "       - In `/etc/nixos/homelab/modules/media.nix': 8096",
  "       Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.",
].join("\n");

/**
 * The build before the switch, on the sshd test host, for a channel host and
 * a flake host: a release that does not build changes nothing, and the units
 * the switch will touch are printed before it.
 */
describe.skipIf(!sshd.available).each(["channel", "flake"] as const)("building before the switch (%s host)", (mode) => {
  let host: TestHost;
  let listeners: Listeners;
  let lab: Homelab;
  let NixosHost: NixosHostClass;
  let session: HostSession;
  const engine = new FakeEngine();
  let counter = 0;
  const flakeDir = () => dirname(host.paths.bundleDir);
  const flake = () => (mode === "flake" ? { ref: `${flakeDir()}#nixos`, input: "homelab" } : undefined);
  // Each release lists its services for the first deploy's takeover report, as renderNixosBundle does.
  const takeover = () =>
    takeoverList([{ id: "mosquitto", units: ["mosquitto.service"], port: 1883, paths: ["/var/lib/mosquitto"] }]);
  const release = (): Promise<ProgramRun> =>
    runProgram(
      NixosHost,
      hostArgs(host.target(), host.paths, lab, listeners, {
        bundle: testBundle({ "modules/marker.nix": `# release ${++counter}\n`, ...Object.fromEntries(takeover()) }),
        detectDrift: false,
        flake: flake(),
      }),
    );
  const journal = () => join(host.paths.stateDir, "apply-journal");
  const linked = () => (existsSync(host.paths.bundleDir) ? readlinkSync(host.paths.bundleDir) : null);

  beforeAll(async () => {
    session = await startHostSession();
    ({ host, listeners, NixosHost } = session);
    lab = testLab(host.paths);
    if (mode === "flake")
      writeFileSync(join(flakeDir(), "flake.nix"), '{ inputs.homelab.url = "path:./homelab"; outputs = _: { }; }\n');
  });

  afterAll(async () => {
    await session?.stop();
  });

  it("a first deploy that fails to build leaves no link, no generation and no journal, and pulumi up shows nixos-rebuild's lines", async () => {
    // The host already runs the catalog's services by hand: the report says which, and a restic snapshot comes first.
    host.control("unit-files", "restic-backups-b2.service\n");
    host.control("build-fails", `${CONFLICT}\n`);
    try {
      const result = await engine.up(await release());
      expect(result.failed?.stage).toBe("rebuild");
      const out = result.failed!.result.stdout + result.failed!.result.stderr;
      expect(out).toContain("error: The option `services.jellyfin.port' has conflicting definition values:");
      expect(out).toContain("In `/etc/nixos/configuration.nix': 8097");
      expect(out).toMatch(
        mode === "flake"
          ? /nothing on the host was changed \(no link, no switch\)/
          : /nothing was switched and .* was put back as it was/,
      );
      expect(out).toContain(
        "apply: first deploy to this host; what of the release already runs here (the switch takes it over):",
      );
      expect(out).toMatch(
        / {2}\| mosquitto: running mosquitto\.service; port 1883 \((free|"[^"]+")\); state \/var\/lib\/mosquitto/,
      );
      expect(out).toContain("running restic-backups-b2.service for a snapshot before anything changes");
      expect(host.hostLog()).toContain("systemctl start --wait -- restic-backups-b2.service");
    } finally {
      host.clearControl("build-fails");
      host.clearControl("unit-files");
    }
    expect(linked(), "no bundle link").toBe(null);
    expect(host.generation(), "the system it was installed with").toBe(1);
    expect(existsSync(journal())).toBe(false);
    expect(
      host.hostLog().some((l) => l.startsWith("nixos-rebuild switch")),
      "never switched",
    ).toBe(false);
  });

  it("builds with the host's flake and the release as its input, or the channel configuration as it stands", async () => {
    const run = await release();
    const before = host.hostLog().length;
    const result = await engine.up(run);
    expect(result.failed?.result.stderr ?? "", "deploys").toBe("");
    const calls = host
      .hostLog()
      .slice(before)
      .filter((l) => l.startsWith("nixos-rebuild"));
    const release_ = `${host.paths.stateDir}/releases/${run.host.bundleHash}`;
    const tail = mode === "flake" ? ` --flake ${flakeDir()}#nixos --override-input homelab path:${release_}` : "";
    expect(calls).toEqual([`nixos-rebuild build${tail}`, `nixos-rebuild switch${tail}`]);
    expect(linked()).toBe(release_);
  });

  it("prints the units the switch will stop, start, restart and reload before it, and keeps them in the apply log", async () => {
    const units =
      "would stop the following units: transmission.service\nwould restart the following units: jellyfin.service, nginx.service\nwould start the following units: backrest.service\nwould reload the following units: dbus.service\n";
    host.control("dry-activate", units);
    try {
      const result = await engine.up(await release());
      expect(result.failed?.result.stderr ?? "").toBe("");
      const out = result.steps.find((s) => s.stage === "rebuild")!.result.stdout;
      expect(out).toContain("the switch will change these units (switch-to-configuration dry-activate):");
      for (const line of units.trim().split("\n")) expect(out).toContain(`  | ${line}`);
      // The dry run comes before the switch.
      expect(out.indexOf("would restart the following units")).toBeLessThan(
        out.indexOf("nixos-rebuild switch from generation"),
      );
      const logs = readdirSync(join(host.paths.stateDir, "apply-log"))
        .filter((f) => f.endsWith(".out"))
        .sort();
      const newest = readFileSync(join(host.paths.stateDir, "apply-log", logs.at(-1)!), "utf8");
      expect(newest).toContain("  | would restart the following units: jellyfin.service, nginx.service");
    } finally {
      host.clearControl("dry-activate");
    }
  });

  it("a snapshot that fails stops the first deploy before anything changes", async () => {
    // A fresh state directory: the host looks like one no deploy has reached.
    const saved = `${host.paths.stateDir}.saved`;
    const live = linked();
    renameSync(host.paths.stateDir, saved);
    rmSync(host.paths.bundleDir, { force: true });
    host.control("unit-files", "restic-backups-b2.service\n");
    host.control("start-fails");
    const rebuilds = () => host.hostLog().filter((l) => l.startsWith("nixos-rebuild")).length;
    const before = rebuilds();
    try {
      const result = await engine.up(await release());
      expect(result.failed?.stage, JSON.stringify(result.steps.map((s) => s.result.stdout + s.result.stderr))).toBe(
        "rebuild",
      );
      expect(result.failed!.result.stderr).toContain(
        "the snapshot before the first deploy failed (restic-backups-b2.service",
      );
      expect(linked(), "nothing linked").toBe(null);
      expect(rebuilds(), "nothing built").toBe(before);
    } finally {
      host.clearControl("unit-files");
      host.clearControl("start-fails");
      rmSync(host.paths.stateDir, { recursive: true, force: true });
      renameSync(saved, host.paths.stateDir);
      rmSync(host.paths.bundleDir, { force: true });
      if (live) symlinkSync(live, host.paths.bundleDir);
    }
  });

  it("a later release that fails to build leaves the live release linked and running", async () => {
    const live = linked();
    const gen = host.generation();
    host.control(
      "build-fails",
      "error: hash mismatch in fixed-output derivation '/nix/store/abc-hacs-2.0.5.drv':\n         specified: sha256-AAAA\n            got:    sha256-BBBB\n",
    );
    try {
      const result = await engine.up(await release());
      expect(result.failed?.stage).toBe("rebuild");
      expect(result.failed!.result.stdout + result.failed!.result.stderr).toContain(
        "hash mismatch in fixed-output derivation",
      );
    } finally {
      host.clearControl("build-fails");
    }
    expect(linked()).toBe(live);
    expect(host.generation()).toBe(gen);
    expect(existsSync(journal())).toBe(false);
  });
});
