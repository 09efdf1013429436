import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOY_SCRIPT_PATH, bundleHash, bundleStdin, bundleTar } from "../../components/host/bundle";
import { pushCommand } from "../../components/host/commands";
import { testBundle } from "./support/fixture";
import { startHostSession, type HostSession } from "./support/session";
import { runOverSsh, snapshot, sshdTier, type TestHost } from "./support/testhost";

const sshd = sshdTier();

/**
 * Every upload the push bootstrap refuses: each gets one line that says what
 * arrived, that nothing on the host changed and what to do, and the host's
 * files are exactly as before. Never a raw tar or gzip error, never a
 * missing script.
 */
describe.skipIf(!sshd.available)("a push the host refuses changes nothing and says why in one line", () => {
  let host: TestHost;
  let session: HostSession;
  const declared = testBundle({ "modules/refusals.nix": `# ${randomBytes(20_000).toString("hex")}\n` });
  const good = bundleStdin(declared);

  /**
   * Everything under the fake host's root: type, owner, mode, content hash,
   * link target, and file mtimes. A directory's mtime is left out: the
   * bootstrap stages in a fresh directory under store/ and removes it, which
   * touches store/ itself and nothing else.
   */
  const hostState = () =>
    new Map(
      [...snapshot(join(host.root, "host"))].map(([p, d]) => [
        p,
        d.startsWith("4") ? d.split(" ").slice(0, 2).join(" ") : d,
      ]),
    );

  const push = (stdin: string, hash = bundleHash(declared)) =>
    runOverSsh(host.target(), pushCommand(host.paths, hash), stdin);

  beforeAll(async () => {
    session = await startHostSession();
    host = session.host;
    // A host that already has a release, so there is something to leave alone.
    const first = testBundle();
    const r = await runOverSsh(host.target(), pushCommand(host.paths, bundleHash(first)), bundleStdin(first));
    expect(r.code, r.stderr).toBe(0);
  });

  afterAll(async () => {
    await session?.stop();
  });

  const tarWithSymlink = () => {
    const dir = mkdtempSync(join(tmpdir(), "homelab-evil-"));
    try {
      mkdirSync(join(dir, "deploy"));
      writeFileSync(join(dir, "default.nix"), "{ }\n");
      symlinkSync("/etc", join(dir, "deploy/etc"));
      return `${execFileSync("tar", ["-c", "-z", "-f", "-", "-C", dir, "."]).toString("base64")}\n`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const CASES: [string, () => string, RegExp][] = [
    ["empty stdin", () => "", /no bundle arrived, stdin was empty/],
    ["text that is not base64", () => "this is not a bundle!\n", /what arrived \(22 bytes\) is not a base64 bundle/],
    ["base64 that does not decode", () => "abcde\n", /what arrived \(6 bytes\) is not valid base64/],
    [
      "a stream cut in transfer",
      () => good.slice(0, Math.floor(good.length / 2)),
      new RegExp(
        `the bundle was cut off in transfer \\(${Math.floor(good.length / 2)} bytes arrived, without the end of the stream\\)`,
      ),
    ],
    [
      "a compressed stream cut short",
      () => `${gzipSync(bundleTar(declared)).subarray(0, 4000).toString("base64")}\n`,
      /the bundle was cut off in transfer \(the compressed stream of \d+ bytes ends early or is damaged\)/,
    ],
    [
      "base64 of something else",
      () => `${Buffer.from("plain text, not compressed").toString("base64")}\n`,
      /is base64 but not a gzip-compressed tar bundle/,
    ],
    [
      "gzip of something that is not a tar",
      () => `${gzipSync(Buffer.from("hello\n".repeat(100))).toString("base64")}\n`,
      /is not a tar archive/,
    ],
    [
      "a tar with a symbolic link in it",
      tarWithSymlink,
      /the bundle holds entries other than regular files and directories \(link or device\)/,
    ],
    [
      "a bundle altered on the way",
      () => bundleStdin(testBundle({ "modules/refusals.nix": "{ services.openssh.enable = false; }\n" })),
      new RegExp(
        `the bundle arrived altered \\(content hash [0-9a-f]{64}, the program declared ${bundleHash(declared)}\\)`,
      ),
    ],
    // The old bootstrap asked the uploaded script to check its own upload; this one would have said yes.
    [
      "a bundle whose deploy script was swapped for one that says yes",
      () =>
        bundleStdin(
          new Map([
            ...declared,
            [DEPLOY_SCRIPT_PATH, 'mkdir -p "$FAKE_ROOT/host/var/lib/homelab/state/releases/pwned"; exit 0\n'],
          ]),
        ),
      /the bundle arrived altered/,
    ],
  ];

  it.each(CASES)("%s", async (_name, stdin, says) => {
    const before = hostState();
    const r = await push(stdin());
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^homelab-deploy: push refused: .*; nothing on the host changed\. Run pulumi up again to send the bundle again$/,
    );
    expect(lines[0]).toMatch(says);
    expect(r.stderr).not.toMatch(/tar:|gzip:|base64:|No such file/);
    expect(hostState(), "nothing on the host changed").toEqual(before);
  });

  it("the declared bundle itself is taken", async () => {
    const r = await push(good);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`push: release ${bundleHash(declared)} staged; nothing applied yet`);
  });
});

/**
 * A push onto a full disk names the disk: its file system, where it is
 * mounted and how much is free, whichever step ran out of room. The test
 * host's store directory gets a small tmpfs of its own (root may mount one
 * under the test's temp dir; where it may not, the case is skipped and says
 * so), and nothing is left on it after the refusal.
 */
describe.skipIf(!sshd.available)("a push onto a full disk names the disk", () => {
  let session: HostSession;
  let host: TestHost;
  let store: string;
  let mounted = false;
  const declared = testBundle({ "modules/padding.nix": `# ${randomBytes(60_000).toString("hex")}\n` });
  const stdin = bundleStdin(declared);

  beforeAll(async () => {
    session = await startHostSession();
    host = session.host;
    store = join(host.paths.stateDir, "store");
    mkdirSync(store, { recursive: true });
  });

  afterAll(async () => {
    if (mounted) execFileSync("umount", [store]);
    await session?.stop();
  });

  /** A tmpfs of `kib` KiB over the store directory, or false where this machine refuses the mount. */
  function smallDisk(kib: number): boolean {
    if (mounted) execFileSync("umount", [store]);
    mounted = false;
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${kib}k,mode=0755`, "tmpfs", store], { stdio: "pipe" });
      mounted = true;
    } catch {
      return false;
    }
    return true;
  }

  const CASES: [string, number, RegExp][] = [
    // Less room than the upload itself.
    ["while it arrives", 16, /while the bundle arrived/],
    // Room for the upload and its decoded copy, not for the unpacked tree.
    [
      "when it is unpacked",
      Math.ceil((stdin.length * 1.9) / 1024 / 4) * 4 + 16,
      /for the unpacked bundle, which needs \d+ KiB|while the bundle was (decoded|unpacked)/,
    ],
  ];

  it.for(CASES)("%s", async ([, kib, when], ctx) => {
    if (!smallDisk(kib))
      ctx.skip("this machine refuses a tmpfs mount (no CAP_SYS_ADMIN), so a full disk cannot be made cheaply here");
    const r = await runOverSsh(host.target(), pushCommand(host.paths, bundleHash(declared)), stdin);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(
      `push refused: the disk that holds ${store} is full (file system tmpfs mounted on ${store}: `,
    );
    expect(lines[0]).toMatch(/: \d+ KiB free of \d+ KiB\)/);
    expect(lines[0]).toMatch(when);
    expect(lines[0]).toMatch(
      /nix-collect-garbage .*; nothing on the host changed\. Run pulumi up again to send the bundle again$/,
    );
    expect(r.stderr).not.toContain("could not be unpacked");
    expect(readdirSync(store), "what was staged is removed").toEqual([]);
  });
});
