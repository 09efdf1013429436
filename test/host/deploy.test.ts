import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enabledSecrets, type Homelab } from "../../components/catalog/resolve";
import { bundleHash, bundleStdin } from "../../components/host/bundle";
import { pushCommand } from "../../components/host/commands";
import { observeHost } from "../../components/host/observe";
import {
  hostArgs,
  secretValues,
  testBundle,
  testChecks,
  testLab,
  SCRIPT,
  SECRET_GROUPS,
  type Listeners,
} from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import {
  FakeEngine,
  isSecretValue,
  plain,
  runCaptured,
  runProgram,
  type NixosHostClass,
  type ProgramRun,
} from "./support/program";
import { freePort, ownership, sshdTier, type TestHost } from "./support/testhost";

const sshd = sshdTier();

describe.skipIf(!sshd.available)("deploying to a real sshd test host", () => {
  let host: TestHost;
  let listeners: Listeners;
  let lab: Homelab;
  let NixosHost: NixosHostClass;
  let session: HostSession;
  const engine = new FakeEngine();
  let first: ProgramRun;
  /** The release the first deploy made live: the test bundle with the program's deploy lists. */
  let liveHash: string;

  beforeAll(async () => {
    session = await startHostSession();
    ({ host, listeners, NixosHost } = session);
    lab = testLab(host.paths);
  });

  afterAll(async () => {
    await session?.stop();
  });

  const args = (o: Parameters<typeof hostArgs>[4] = {}) => hostArgs(host.target(), host.paths, lab, listeners, o);
  const newHostLog = (before: number) => host.hostLog().slice(before);

  it("first deploy: links the release, writes every secret with its owner and mode, switches once", async () => {
    first = await runProgram(NixosHost, args());
    const result = await engine.up(first);
    expect(result.failed?.result.stderr ?? "", "no stage fails").toBe("");
    if (process.env.HOMELAB_SHOW_DEPLOY)
      for (const s of result.steps) console.log(`--- ${s.stage}\n${s.result.stdout}${s.result.stderr}`);
    expect(result.steps.map((s) => `${s.stage}:${s.op}`)).toEqual(
      [...first.commands.keys()].map((stage) => `${stage}:create`),
    );
    expect([...first.commands.keys()]).toEqual([
      "preflight",
      "push",
      "secrets.dashboard",
      "secrets.home-assistant",
      "secrets.mosquitto",
      "secrets.transmission",
      "rebuild",
      "confirm",
    ]);

    const hash = first.host.bundleHash;
    liveHash = hash;
    expect(readlinkSync(host.paths.bundleDir)).toBe(`${host.paths.stateDir}/releases/${hash}`);
    expect(readFileSync(join(host.paths.bundleDir, "generated/services.json"), "utf8")).toBe(
      testBundle().get("generated/services.json"),
    );
    expect(readFileSync(join(host.paths.bundleDir, "deploy/homelab-deploy.sh"), "utf8")).toBe(SCRIPT);

    const values = secretValues(lab);
    for (const s of enabledSecrets(lab)) {
      expect(readFileSync(s.path, "utf8"), `content of ${s.key}`).toBe(values.get(s.key));
      expect(ownership(s.path), `owner and mode of ${s.key}`).toBe(`root:${s.group}:${s.mode.slice(1)}`);
    }
    expect(ownership(host.paths.secretsDir), "the secrets directory is root's, traversable, not listable").toBe(
      "root:root:711",
    );
    expect(host.hostLog().filter((l) => l === "nixos-rebuild switch")).toHaveLength(1);
    // Groups the switch creates: their files stay root-only until then, and their consumers restart after it.
    const rebuild = result.steps.find((s) => s.stage === "rebuild")!.result.stdout;
    expect(rebuild).toContain("passed its health checks as system generation 2; waiting");
    expect(
      result.steps.find((s) => s.stage === "confirm")!.result.stdout,
      "live once the deployer confirmed",
    ).toContain("is live as system generation 2");
    for (const g of SECRET_GROUPS) expect(rebuild).toContain(`now readable by group ${g}`);
    expect(host.hostLog()).toContain("systemctl restart -- mosquitto.service");
    expect(host.generation()).toBe(2);
    expect(readFileSync(join(host.paths.stateDir, "deployed-generation"), "utf8").trim()).toBe("2");
    expect(readFileSync(join(host.paths.stateDir, "applied-release"), "utf8").trim()).toBe(hash);
  });

  it("the program never puts a secret value on a command line, in triggers or in the logs", async () => {
    const values = [...secretValues(lab).values()];
    const secretsInputs = first.commands.get("secrets.mosquitto")!;
    expect(isSecretValue(secretsInputs.stdin), "the secrets stdin is a Pulumi secret").toBe(true);
    // The private key makes the whole connection a secret.
    expect(
      isSecretValue(first.commands.get("push")!.connection),
      "the connection (private key) is a Pulumi secret",
    ).toBe(true);
    for (const [stage, inputs] of first.commands) {
      const visible = JSON.stringify({
        ...inputs,
        stdin: stage.startsWith("secrets.") ? undefined : inputs.stdin,
        connection: undefined,
      });
      for (const v of values)
        for (const line of v.split("\n")) expect(visible.includes(line), `${stage} shows a secret value`).toBe(false);
    }
    const logs = [...host.sshLog(), ...host.hostLog()].join("\n");
    for (const v of values)
      expect(logs.includes(v.split("\n")[0]), "a secret value reached a command line").toBe(false);
    expect(secretsInputs.logging, "secrets stage logs stdout only").toBe("stdout");
  });

  it("a second deploy with nothing changed declares byte-identical inputs and runs nothing on the host", async () => {
    const sshBefore = host.sshLog().length;
    const hostBefore = host.hostLog().length;
    const second = await runProgram(NixosHost, args());
    for (const [stage, inputs] of first.commands)
      expect(JSON.stringify(second.commands.get(stage)), `${stage} inputs`).toBe(JSON.stringify(inputs));
    const result = await engine.up(second);
    expect(result.steps, "no stage runs").toEqual([]);
    // Only the program's read-only observation reached the host.
    expect(
      host
        .sshLog()
        .slice(sshBefore)
        .every((c) => c.startsWith("bash -s -- observe")),
    ).toBe(true);
    expect(newHostLog(hostBefore).filter((l) => !l.startsWith("systemctl list-units"))).toEqual([]);
  });

  it("re-running the rebuild of the applied bundle (a rotated key, a refresh) does not rebuild", async () => {
    const before = host.hostLog().length;
    const result = await runCaptured(first.commands.get("rebuild")!);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("no rebuild");
    expect(newHostLog(before).some((l) => l.startsWith("nixos-rebuild"))).toBe(false);
  });

  it("a secret-only change rewrites that file and restarts only its consumers, with no rebuild", async () => {
    const before = host.hostLog().length;
    const others = enabledSecrets(lab).filter((s) => s.serviceId !== "mosquitto");
    const mtimes = () => others.map((s) => statSync(s.path).mtimeMs);
    const othersBefore = mtimes();
    const values = secretValues(lab, { "mosquitto.password": "a brand new password" });
    const run = await runProgram(NixosHost, args({ values }));
    const changed = [...engine.plan(run)].filter(([, op]) => op !== "same");
    expect(changed).toEqual([
      ["preflight", "replace"],
      ["secrets.mosquitto", "replace"],
    ]);
    const result = await engine.up(run);
    expect(result.failed?.result.stderr ?? "").toBe("");
    expect(result.steps.map((s) => s.stage)).toEqual(["preflight", "secrets.mosquitto"]);
    expect(mtimes(), "no other service's file was rewritten").toEqual(othersBefore);

    const mosquitto = enabledSecrets(lab).find((s) => s.key === "mosquitto.password")!;
    expect(readFileSync(mosquitto.path, "utf8")).toBe("a brand new password");
    expect(ownership(mosquitto.path)).toBe(`root:${mosquitto.group}:440`);
    const log = newHostLog(before).filter((l) => !l.startsWith("systemctl list-units"));
    // Asked whether it runs (only a running unit holds the old value), then restarted.
    expect(log).toEqual([
      "systemctl is-active --quiet -- mosquitto.service",
      "systemctl try-restart -- mosquitto.service",
    ]);
    // The trigger names the key and carries an HMAC, never the value.
    const triggers = plain(run.commands.get("secrets.mosquitto")!.triggers) as string[];
    expect(triggers.find((t) => t.startsWith("mosquitto.password "))).toMatch(
      new RegExp(`^mosquitto\\.password value=[0-9a-f]{16} group=${mosquitto.group} mode=0440$`),
    );
    expect(JSON.stringify(triggers)).not.toContain("brand new");
    first = run;
  });

  it("a service's secrets leave the host with it, but never by the delete of a command its rotation replaced", async () => {
    const mosquitto = enabledSecrets(lab).filter((s) => s.serviceId === "mosquitto");
    const dir = join(host.paths.secretsDir, "mosquitto");
    const before = first.commands.get("secrets.mosquitto")!;
    const rotated = await runProgram(
      NixosHost,
      args({ values: secretValues(lab, { "mosquitto.password": "rotated once more" }) }),
    );
    expect(engine.plan(rotated).get("secrets.mosquitto")).toBe("replace");
    expect((await engine.up(rotated)).failed?.result.stderr ?? "").toBe("");

    // Pulumi creates the replacement first, then deletes the replaced command.
    const stale = await runCaptured(before, before.delete as string);
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.stdout).toContain("written by a newer deploy; nothing removed");
    expect(readFileSync(mosquitto.find((s) => s.name === "password")!.path, "utf8")).toBe("rotated once more");

    // Dropped from the catalog, or pulumi destroy: the current command's delete.
    const current = rotated.commands.get("secrets.mosquitto")!;
    const removed = await runCaptured(current, current.delete as string);
    expect(removed.code, removed.stderr).toBe(0);
    expect(existsSync(dir), "the service's secrets directory is gone").toBe(false);
    for (const f of ["secrets.d/mosquitto.manifest", "secrets.d/mosquitto.pending", "record.secrets.mosquitto"])
      expect(existsSync(join(host.paths.stateDir, f)), f).toBe(false);
    for (const s of enabledSecrets(lab).filter((x) => x.serviceId !== "mosquitto"))
      expect(existsSync(s.path), `${s.key} stays`).toBe(true);
    const values = [...secretValues(lab).values()];
    expect(JSON.stringify(current.delete)).not.toMatch(new RegExp(values.map((v) => v.split("\n")[0]).join("|")));

    // Declared again, the next up puts it back.
    engine.state.delete("secrets.mosquitto");
    const again = await runProgram(
      NixosHost,
      args({ values: secretValues(lab, { "mosquitto.password": "a brand new password" }) }),
    );
    expect((await engine.up(again)).failed?.result.stderr ?? "").toBe("");
    expect(readFileSync(mosquitto.find((s) => s.name === "password")!.path, "utf8")).toBe("a brand new password");
    first = again;
  });

  it("a failing health check rolls back the generation and the bundle, and the error names the service", async () => {
    const before = host.hostLog().length;
    const oldLink = readlinkSync(host.paths.bundleDir);
    const deadPort = await freePort();
    const bundle = testBundle({ "modules/jellyfin.nix": "{ services.jellyfin.enable = true; }\n" });
    const checks = [
      ...testChecks(lab, listeners),
      { id: "jellyfin", kind: "http" as const, port: deadPort, path: "/health" },
    ];
    const run = await runProgram(
      NixosHost,
      args({
        bundle,
        checks,
        healthTimeoutSeconds: 3,
        values: secretValues(lab, { "mosquitto.password": "a brand new password" }),
      }),
    );
    const result = await engine.up(run);

    expect(result.failed?.stage).toBe("rebuild");
    const output = result.failed!.result.stderr + result.failed!.result.stdout;
    expect(output).toMatch(/health checks failed after 3s: jellyfin \(http 127\.0\.0\.1:\d+\/health\)/);
    expect(output).toContain("rolled back to system generation 2");
    expect(output).not.toMatch(/portal|mosquitto \(/);

    const log = newHostLog(before);
    expect(log).toContain("nixos-rebuild switch");
    // Back by the journal's record: the generation that held the previous system, activated again.
    expect(
      log.some((l) => /^nix-env -p \S+ --switch-generation 2$/.test(l)),
      log.join("\n"),
    ).toBe(true);
    expect(log.filter((l) => l.startsWith("switch-to-configuration switch"))).toHaveLength(2);
    expect(host.generation(), "back on the previous generation").toBe(2);
    expect(
      existsSync(join(host.root, "host/nix/var/nix/profiles/system-3-link")),
      "the failed generation is deleted",
    ).toBe(false);
    expect(readlinkSync(host.paths.bundleDir), "the previous bundle is linked again").toBe(oldLink);
    expect(existsSync(join(host.paths.bundleDir, "modules/jellyfin.nix"))).toBe(false);
    expect(readFileSync(join(host.paths.stateDir, "applied-release"), "utf8").trim()).toBe(liveHash);
  });

  it("a switch that fails while activating (the generation already moved) rolls back too", async () => {
    host.control("activation-fails");
    try {
      const oldLink = readlinkSync(host.paths.bundleDir);
      const bundle = testBundle({ "modules/broken.nix": "{ systemd.services.broken = {}; }\n" });
      const run = await runProgram(
        NixosHost,
        args({ bundle, values: secretValues(lab, { "mosquitto.password": "a brand new password" }) }),
      );
      const result = await engine.up(run);
      expect(result.failed?.stage).toBe("rebuild");
      expect(result.failed!.result.stderr).toContain("nixos-rebuild switch failed; rolled back to system generation 2");
      expect(host.generation()).toBe(2);
      expect(readlinkSync(host.paths.bundleDir)).toBe(oldLink);
    } finally {
      host.clearControl("activation-fails");
    }
  });

  it("a push cut mid-transfer leaves the previous configuration intact", async () => {
    const oldLink = readlinkSync(host.paths.bundleDir);
    // Random text: the stream is compressed, and a repeated letter would shrink to nothing.
    const bundle = testBundle({ "modules/big.nix": `# ${randomBytes(200_000).toString("hex")}\n` });
    const hash = bundleHash(bundle);
    const push = { ...first.commands.get("push")!, create: pushCommand(host.paths, hash), stdin: bundleStdin(bundle) };
    const store = join(host.paths.stateDir, "store");
    const leftovers = () => readdirSync(store).filter((d) => d.startsWith(".incoming."));

    // The connection drops halfway through the stream.
    const killed = await runCaptured(push, push.create as string, {
      cutStdinAt: Math.floor((push.stdin as string).length / 2),
    });
    expect(killed.code).not.toBe(0);
    // A stream that ends early, as a truncated upload would.
    const cut = await runCaptured({ ...push, stdin: (push.stdin as string).slice(0, 300_000) });
    expect(cut.code).not.toBe(0);
    expect(cut.stderr).toMatch(
      /^homelab-deploy: push refused: the bundle was cut off in transfer \(300000 bytes arrived, without the end of the stream\); nothing on the host changed\. Run pulumi up again/,
    );

    for (let i = 0; i < 50 && leftovers().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(leftovers(), "the partial unpack is removed").toEqual([]);
    expect(existsSync(join(host.paths.stateDir, "releases", hash)), "no release for the cut bundle").toBe(false);
    expect(readlinkSync(host.paths.bundleDir)).toBe(oldLink);
    expect(
      execFileSync(
        "bash",
        [
          "-c",
          `cd ${host.paths.bundleDir}/ && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum -- | sha256sum | cut -d' ' -f1`,
        ],
        { encoding: "utf8" },
      ).trim(),
    ).toBe(liveHash);
  });

  it("a bundle altered on the way is refused by its hash before anything changes", async () => {
    const oldLink = readlinkSync(host.paths.bundleDir);
    const declared = testBundle({ "modules/extra.nix": "{ }\n" });
    const altered = testBundle({ "modules/extra.nix": "{ services.openssh.enable = false; }\n" });
    const push = {
      ...first.commands.get("push")!,
      create: pushCommand(host.paths, bundleHash(declared)),
      stdin: bundleStdin(altered),
    };
    const result = await runCaptured(push);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `push refused: the bundle arrived altered (content hash ${bundleHash(altered)}, the program declared ${bundleHash(declared)}); nothing on the host changed`,
    );
    expect(readlinkSync(host.paths.bundleDir)).toBe(oldLink);
  });

  it("a host presenting another key is refused before any command reaches it", async () => {
    const otherKey = execFileSync(
      "bash",
      ["-c", `d=$(mktemp -d) && ssh-keygen -q -t ed25519 -N '' -f "$d/k" && cut -d' ' -f1,2 "$d/k.pub" && rm -rf "$d"`],
      { encoding: "utf8" },
    ).trim();
    const before = host.sshLog().length;
    const preflight = first.commands.get("preflight")!;
    const refused = await runCaptured({
      ...preflight,
      connection: { ...(plain(preflight.connection) as object), hostKey: otherKey },
    });
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Host key verification failed/);
    const observed = await observeHost({ ...host.target(), hostKey: otherKey }, { paths: host.paths, script: SCRIPT });
    expect(observed).toMatchObject({ reachable: false });
    const error = observed.reachable === false ? observed.error : "";
    expect(error).toContain("does not match homelab:sshHostKey");
    expect(error, "the temporary known_hosts file is gone by the time anyone reads this").not.toMatch(
      /known_hosts|homelab-ssh-/,
    );
    expect(error).toMatch(/it offered SHA256:[A-Za-z0-9+/=]+\)/);
    expect(error).toContain("ssh-keyscan -t ed25519 127.0.0.1");
    expect(host.sshLog().length, "nothing ran on the host").toBe(before);
  });

  it("an unreachable host fails the read-only preflight, so no later stage runs", async () => {
    const port = await freePort();
    const run = await runProgram(NixosHost, args({ detectDrift: false }));
    const inputs = run.commands.get("preflight")!;
    const result = await runCaptured({ ...inputs, connection: { ...(plain(inputs.connection) as object), port } });
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Connection refused/);
    // The engine stops at the failed preflight: push, secrets and rebuild depend on it.
    const broken = new FakeEngine();
    const offline = {
      ...run,
      commands: new Map(
        [...run.commands].map(([s, i]) => [s, { ...i, connection: { ...(plain(i.connection) as object), port } }]),
      ),
    };
    const up = await broken.up(offline);
    expect(up.failed?.stage).toBe("preflight");
    expect(up.steps.map((s) => s.stage)).toEqual(["preflight"]);
  });
});
