import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { observeHost } from "../../components/host/observe";
import { REPO } from "./support/fixture";

/**
 * observeHost puts the SSH private key in a temp file for ssh's -i. A
 * preview stopped with Ctrl-C, or a cancelled CI job, must not leave it
 * behind. A fake ssh stands in for the real one: it reports the identity
 * file it was given, then hangs, as a slow host would.
 */
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LW5vdC11c2Vk";
const PATHS = {
  bundleDir: "/etc/nixos/homelab",
  secretsDir: "/var/lib/homelab/secrets",
  stateDir: "/var/lib/homelab/state",
};
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----";

const FAKE_SSH = `#!/bin/bash
# Report the identity file (-i), then hang like a host that does not answer.
echo $$ >"$FAKE_MARK.pid"
while (($#)); do
  if [[ $1 == -i ]]; then printf '%s' "$2" >"$FAKE_MARK.tmp" && mv "$FAKE_MARK.tmp" "$FAKE_MARK"; fi
  shift
done
if [[ -n \${FAKE_OUTPUT:-} ]]; then printf '%s' "$FAKE_OUTPUT"; exit 0; fi
exec sleep 60
`;

describe("the SSH key observeHost writes for the drift check", () => {
  let dir: string;
  const cleanups: (() => void)[] = [];

  const setUp = () => {
    dir = mkdtempSync(join(tmpdir(), "homelab-observe-test-"));
    writeFileSync(join(dir, "ssh"), FAKE_SSH, { mode: 0o755 });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return { ssh: join(dir, "ssh"), mark: join(dir, "mark") };
  };

  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`is removed when the program gets ${signal} while ssh runs, and the signal still ends the program`, async () => {
      const { ssh, mark } = setUp();
      const child = join(dir, "child.ts");
      writeFileSync(
        child,
        [
          `import { observeHost } from ${JSON.stringify(join(REPO, "components/host/observe"))};`,
          `void observeHost({ host: "127.0.0.1", port: 2222, user: "root", privateKey: ${JSON.stringify(KEY)}, hostKey: ${JSON.stringify(HOST_KEY)} },`,
          `  { paths: ${JSON.stringify(PATHS)}, script: "", ssh: ${JSON.stringify(ssh)}, timeoutSeconds: 120 }).then(() => console.log("observe returned"));`,
          "",
        ].join("\n"),
      );
      const proc = spawn(process.execPath, ["--import", "tsx", child], {
        cwd: REPO,
        env: { ...process.env, FAKE_MARK: mark },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      proc.stdout.on("data", (d) => (output += String(d)));
      proc.stderr.on("data", (d) => (output += String(d)));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
        proc.on("exit", (code, sig) => r({ code, signal: sig })),
      );
      cleanups.push(() => {
        proc.kill("SIGKILL");
        if (existsSync(`${mark}.pid`)) {
          try {
            process.kill(Number(readFileSync(`${mark}.pid`, "utf8")), "SIGKILL");
          } catch {
            /* already gone */
          }
        }
      });

      const deadline = Date.now() + 30_000;
      while (!existsSync(mark) && Date.now() < deadline && proc.exitCode === null)
        await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(mark), `the fake ssh was started: ${output}`).toBe(true);
      const identity = readFileSync(mark, "utf8");
      expect(readFileSync(identity, "utf8"), "the key is on disk while ssh runs").toBe(`${KEY}\n`);

      proc.kill(signal);
      const end = await exited;
      expect(end.signal, `ended by ${signal}, as without the handler: ${output}`).toBe(signal);
      expect(existsSync(identity), "the key file is gone").toBe(false);
      expect(existsSync(dirname(identity)), "and its temp dir").toBe(false);
      expect(output).not.toContain("observe returned");
    });
  }

  it("a normal run removes the key and leaves no signal handler behind", async () => {
    const { ssh, mark } = setUp();
    const before = ["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s));
    const beforeExit = process.listenerCount("exit");
    process.env.FAKE_MARK = mark;
    process.env.FAKE_OUTPUT = "homelab-observe v1\nend\n";
    try {
      const obs = await observeHost(
        { host: "127.0.0.1", port: 2222, privateKey: KEY, hostKey: HOST_KEY },
        { paths: PATHS, script: "", ssh },
      );
      expect(obs.reachable).toBe(true);
    } finally {
      delete process.env.FAKE_MARK;
      delete process.env.FAKE_OUTPUT;
    }
    const identity = readFileSync(mark, "utf8");
    expect(existsSync(dirname(identity))).toBe(false);
    expect(["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s))).toEqual(before);
    expect(process.listenerCount("exit")).toBe(beforeExit);
  });
});
