import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enabledSecrets, type Homelab } from "../../components/catalog/resolve";
import { hostArgs, secretValues, testLab, type Listeners } from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import { FakeEngine, runCaptured, runProgram, type NixosHostClass } from "./support/program";
import { ownership, snapshot, sshdTier, type TestHost } from "./support/testhost";

const sshd = sshdTier();

/**
 * A service's secrets command runs as root and writes, chowns and chmods
 * under the secrets directory. Whatever is found there that is not a real
 * directory or a regular file makes it stop before it writes anything, and a
 * write that fails halfway replaces none of the service's files.
 */
describe.skipIf(!sshd.available)("a service's secrets command writes its files safely or not at all", () => {
  let host: TestHost;
  let listeners: Listeners;
  let lab: Homelab;
  let NixosHost: NixosHostClass;
  let session: HostSession;
  const engine = new FakeEngine();
  /** Values that differ from the deployed ones, so a run that went through would write. */
  const rotated = () =>
    secretValues(lab, { "mosquitto.password": "rotated password", "mosquitto.username": "rotated user" });
  const mosquittoSecrets = () => enabledSecrets(lab).filter((s) => s.serviceId === "mosquitto");
  /** The mosquitto secrets command of a program whose values were rotated. */
  const rotatedRun = async () =>
    (
      await runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners, { values: rotated() }))
    ).commands.get("secrets.mosquitto")!;
  /** Somewhere outside the secrets directory the link points to, with a file of its own. */
  const elsewhere = () => {
    const dir = join(host.root, `elsewhere-${Math.random().toString(16).slice(2, 8)}`);
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, "password"), "not a secret of ours", { mode: 0o644 });
    return dir;
  };

  beforeAll(async () => {
    session = await startHostSession();
    ({ host, listeners, NixosHost } = session);
    lab = testLab(host.paths);
    const first = await engine.up(await runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners)));
    expect(first.failed?.result.stderr ?? "", "the first deploy succeeds").toBe("");
  });

  afterAll(async () => {
    await session?.stop();
  });

  const expectDeployedValues = () => {
    for (const s of mosquittoSecrets())
      expect(readFileSync(s.path, "utf8"), `${s.key} keeps the deployed value`).toBe(secretValues(lab).get(s.key));
  };

  /** Once the path is sound again, the same command goes through; then back to the deployed values for the next test. */
  async function worksAgain() {
    const again = await runCaptured(await rotatedRun());
    expect(again.code, `the same command succeeds on a sound path: ${again.stderr}`).toBe(0);
    for (const s of mosquittoSecrets()) expect(readFileSync(s.path, "utf8"), s.key).toBe(rotated().get(s.key));
    const back = await runCaptured(
      (await runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners))).commands.get(
        "secrets.mosquitto",
      )!,
    );
    expect(back.code, back.stderr).toBe(0);
  }

  /** After a refused run and `restore` putting the real directory back: it still holds the deployed values, and the command works again. */
  async function expectUntouchedThenWorks(restore: () => void) {
    restore();
    expectDeployedValues();
    await worksAgain();
  }

  it("a service's directory replaced by a link to another directory: refused, nothing written there, the link and the directory untouched", async () => {
    const serviceDir = join(host.paths.secretsDir, "mosquitto");
    const target = elsewhere();
    const saved = `${serviceDir}.saved`;
    renameSync(serviceDir, saved);
    symlinkSync(target, serviceDir);
    const before = snapshot(target);
    const result = await runCaptured(await rotatedRun());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `secrets: ${serviceDir} is a symbolic link; refusing to write secrets through it, nothing written`,
    );
    expect(snapshot(target), "no file, mode, owner or mtime changed in the linked directory").toEqual(before);
    expect(readdirSync(target)).toEqual(["password"]);
    expect(lstatSync(serviceDir).isSymbolicLink()).toBe(true);
    expect(readlinkSync(serviceDir)).toBe(target);
    expect(ownership(target)).toBe("root:root:755");
    await expectUntouchedThenWorks(() => {
      rmSync(serviceDir);
      renameSync(saved, serviceDir);
    });
  });

  it("the secrets directory itself a link: refused before anything is created or changed", async () => {
    const target = elsewhere();
    const saved = `${host.paths.secretsDir}.saved`;
    renameSync(host.paths.secretsDir, saved);
    symlinkSync(target, host.paths.secretsDir);
    const before = snapshot(target);
    const result = await runCaptured(await rotatedRun());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `secrets: ${host.paths.secretsDir} is a symbolic link; refusing to write secrets through it, nothing written`,
    );
    expect(snapshot(target)).toEqual(before);
    expect(readlinkSync(host.paths.secretsDir)).toBe(target);
    await expectUntouchedThenWorks(() => {
      rmSync(host.paths.secretsDir);
      renameSync(saved, host.paths.secretsDir);
    });
  });

  it("a secret file replaced by a link: refused for the whole service, the linked file keeps its content, owner and mode", async () => {
    const [first, second] = mosquittoSecrets();
    const target = join(elsewhere(), "password");
    const saved = readFileSync(second.path, "utf8");
    rmSync(second.path);
    symlinkSync(target, second.path);
    const firstBefore = snapshot(first.path);
    const targetBefore = snapshot(target);
    const result = await runCaptured(await rotatedRun());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `secrets: ${second.key}: ${second.path} is a symbolic link; refusing to replace it, nothing written`,
    );
    expect(snapshot(target)).toEqual(targetBefore);
    expect(readFileSync(target, "utf8")).toBe("not a secret of ours");
    expect(ownership(target)).toBe("root:root:644");
    expect(readlinkSync(second.path)).toBe(target);
    expect(snapshot(first.path), `${first.key}, which comes first, was not written either`).toEqual(firstBefore);
    rmSync(second.path);
    writeFileSync(second.path, saved, { mode: 0o440 });
    expectDeployedValues();
    await worksAgain();
  });

  it("a service's directory that is a plain file: refused, the file untouched", async () => {
    const serviceDir = join(host.paths.secretsDir, "mosquitto");
    const saved = `${serviceDir}.saved`;
    renameSync(serviceDir, saved);
    writeFileSync(serviceDir, "a file where a directory belongs");
    const before = snapshot(serviceDir);
    const result = await runCaptured(await rotatedRun());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`secrets: ${serviceDir} is not a directory; nothing written`);
    expect(snapshot(serviceDir)).toEqual(before);
    await expectUntouchedThenWorks(() => {
      rmSync(serviceDir);
      renameSync(saved, serviceDir);
    });
  });

  it("a write that fails on the second file replaces no file and leaves no temporary file, and the error names the file and the cause", async () => {
    const [first, second] = mosquittoSecrets();
    const dir = join(host.paths.secretsDir, "mosquitto");
    const manifest = join(host.paths.stateDir, "secrets.d/mosquitto.manifest");
    // The first value fits in the 1 KiB file-size limit below, the second does not.
    const values = secretValues(lab, { [first.key]: "a new value that fits", [second.key]: "x".repeat(8192) });
    const inputs = (
      await runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners, { values }))
    ).commands.get("secrets.mosquitto")!;
    // The directory's own mtime moves when a temporary file comes and goes; its entries must not.
    const files = () => new Map([...snapshot(dir)].filter(([p]) => p !== dir));
    const before = files();
    const manifestBefore = snapshot(manifest);
    // A file-size limit on this command alone, the way a full disk or a quota
    // fails a write: base64 gets EFBIG instead of being killed by SIGXFSZ.
    const result = await runCaptured(inputs, `trap '' XFSZ; ulimit -f 1; ${inputs.create as string}`);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `secrets: file too large writing ${second.path}; no file of mosquitto was replaced`,
    );
    expect(files(), "every old file keeps its content, owner, mode and mtime; no temporary file is left").toEqual(
      before,
    );
    expect(ownership(dir)).toBe("root:root:711");
    expect(
      readdirSync(dir).filter((f) => f.startsWith(".")),
      "temporary files",
    ).toEqual([]);
    expect(snapshot(manifest), "the record of what was written is the old one").toEqual(manifestBefore);
    expectDeployedValues();

    const again = await runCaptured(inputs);
    expect(again.code, `without the limit the same command goes through: ${again.stderr}`).toBe(0);
    expect(readFileSync(first.path, "utf8")).toBe("a new value that fits");
    expect(readFileSync(second.path, "utf8")).toBe("x".repeat(8192));
    expect(readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([]);
    const back = await runCaptured(
      (await runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners))).commands.get(
        "secrets.mosquitto",
      )!,
    );
    expect(back.code, back.stderr).toBe(0);
  });
  it("a restart that fails after the new files are in place is owed: the next run restarts it, though the files are already up to date", async () => {
    const inputs = await rotatedRun();
    host.control("restart-fails");
    let failed: Awaited<ReturnType<typeof runCaptured>>;
    try {
      failed = await runCaptured(inputs);
    } finally {
      host.clearControl("restart-fails");
    }
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(
      "secrets: files written, but restarting mosquitto.service failed; the next run of this command restarts them",
    );
    for (const s of mosquittoSecrets())
      expect(readFileSync(s.path, "utf8"), `${s.key} is new already`).toBe(rotated().get(s.key));

    // pulumi up again runs the same command (the failed one left the state as it was).
    const logBefore = host.hostLog().length;
    const again = await runCaptured(inputs);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("restarting what an earlier run wrote new values for and did not restart");
    expect(host.hostLog().slice(logBefore)).toContain("systemctl try-restart -- mosquitto.service");

    const settled = host.hostLog().length;
    const third = await runCaptured(inputs);
    expect(third.stdout, "nothing is owed any more").toContain("already up to date; nothing restarted");
    expect(
      host
        .hostLog()
        .slice(settled)
        .filter((l) => l.includes("try-restart")),
    ).toEqual([]);
    const back = await runCaptured(
      (await runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners))).commands.get(
        "secrets.mosquitto",
      )!,
    );
    expect(back.code, back.stderr).toBe(0);
    expectDeployedValues();
  });

  it("a unit that is not there yet (a new service, before the rebuild that adds it) is not restarted and owes nothing", async () => {
    const inputs = await rotatedRun();
    host.control("missing-units", "mosquitto.service\n");
    const logBefore = host.hostLog().length;
    try {
      const result = await runCaptured(inputs);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(
        "secrets: mosquitto.service is not running; it reads the new files when it starts",
      );
    } finally {
      host.clearControl("missing-units");
    }
    expect(
      host
        .hostLog()
        .slice(logBefore)
        .filter((l) => l.includes("try-restart")),
      "no restart tried",
    ).toEqual([]);
    expect(existsSync(join(host.paths.stateDir, "secrets.d/mosquitto.restart")), "nothing owed").toBe(false);
    for (const s of mosquittoSecrets()) expect(readFileSync(s.path, "utf8"), s.key).toBe(rotated().get(s.key));
    const back = await runCaptured(
      (await runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners))).commands.get(
        "secrets.mosquitto",
      )!,
    );
    expect(back.code, back.stderr).toBe(0);
    expectDeployedValues();
  });

  it("secrets commands share the deploy lock: they run beside each other, and wait for a push, an apply or a removal", async () => {
    const lock = join(host.paths.stateDir, "lock");
    const inputs = await rotatedRun();
    // Another service's secrets command holding the lock shared: this one goes through while it still holds it.
    const shared = await holdLock(lock, "-s");
    let besideDone = false;
    const beside = runCaptured(inputs).finally(() => (besideDone = true));
    try {
      const queued = await lockWaiter(lock, () => besideDone);
      expect(queued, "the secrets command queued behind another shared holder").toBe(false);
      expect(shared.running(), "the shared holder still held the lock when the command finished").toBe(true);
    } finally {
      await shared.release();
    }
    const besideResult = await beside;
    expect(besideResult.code, besideResult.stderr).toBe(0);
    // An apply holding it exclusively: the secrets command queues behind it and goes through once it lets go.
    const holder = await holdLock(lock, "-x");
    let finished = false;
    try {
      const after = runProgram(NixosHost, hostArgs(host.target(), host.paths, lab, listeners))
        .then((run) => runCaptured(run.commands.get("secrets.mosquitto")!))
        .finally(() => (finished = true));
      expect(await lockWaiter(lock, () => finished), "the secrets command queued behind the exclusive holder").toBe(
        true,
      );
      await holder.release();
      const result = await after;
      expect(result.code, result.stderr).toBe(0);
    } finally {
      await holder.release();
    }
    expectDeployedValues();
  });
});

/**
 * Hold `lock` with flock(1) until release(): the holder is a `cat` on a pipe,
 * so ending its stdin ends it, and the lock goes with it.
 */
async function holdLock(lock: string, mode: "-s" | "-x") {
  const proc = spawn("flock", [mode, lock, "sh", "-c", "echo held; exec cat >/dev/null"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.once("data", () => resolve());
    proc.once("exit", (code) => reject(new Error(`flock ${mode} ${lock} ended (${code}) before it held the lock`)));
  });
  return {
    running: () => proc.exitCode === null && proc.signalCode === null,
    release: async () => {
      proc.stdin.end();
      await exited;
    },
  };
}

/**
 * Whether some process queues on `lock` before `done()` holds, as the kernel
 * lists it in /proc/locks ("->" lines are the waiters, named by device and inode).
 */
async function lockWaiter(lock: string, done: () => boolean): Promise<boolean> {
  const inode = `:${lstatSync(lock).ino} `;
  for (let i = 0; i < 600; i++) {
    const waiters = readFileSync("/proc/locks", "utf8")
      .split("\n")
      .filter((l) => l.includes("->") && l.includes(inode));
    if (waiters.length > 0) return true;
    if (done()) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`after 30 s, nothing had queued on ${lock} and the secrets command had not finished`);
}
