import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CATALOG } from "../../components/catalog/services";
import { enabledServices, resolveHomelab } from "../../components/catalog/resolve";
import { hostBundleFromOutputs } from "../../components/render/outputs";
import { parseStackConfig } from "../../components/config/schema";
import {
  HEALTH_CHECKS_PATH,
  SECRET_FILES_PATH,
  bundleEntries,
  bundleHash,
  bundleStdin,
  bundleTar,
} from "../../components/host/bundle";
import {
  applyCommand,
  confirmCommand,
  confirmLocalCommand,
  deployLists,
  healthChecksFor,
  pinnedHostKey,
  pushCommand,
  secretTrigger,
  secretsCommand,
  secretsStdin,
  shq,
  sortedSecretSpecs,
  triggerKey,
  validatePaths,
  type SecretFileSpec,
} from "../../components/host/commands";
import { testBundle } from "./support/fixture";

const paths = {
  bundleDir: "/etc/nixos/homelab",
  secretsDir: "/var/lib/homelab/secrets",
  stateDir: "/var/lib/homelab/state",
};
const HASH = "a".repeat(64);
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

function prodLab() {
  const parsed = parseStackConfig("prod", { domain: "example.test", lanAddress: "192.0.2.10", edge: "none" });
  return resolveHomelab(CATALOG, parsed.config!);
}

describe("the bundle stream", () => {
  it("GNU tar unpacks the archive to exactly the bundle's files, long paths included", () => {
    const long = `modules/${"deep/".repeat(25)}file.nix`;
    const bundle = testBundle({ [long]: "{ }\n", "empty.txt": "" });
    const dir = mkdtempSync(join(tmpdir(), "homelab-tar-"));
    try {
      execFileSync("bash", ["-c", `base64 -d | tar -x -z -m --no-same-owner -f - -C ${dir}`], {
        input: bundleStdin(bundle),
      });
      const hostHash = execFileSync(
        "bash",
        [
          "-c",
          `cd ${dir} && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum -- | sha256sum | cut -d' ' -f1`,
        ],
        { encoding: "utf8" },
      ).trim();
      expect(hostHash, "the host's hash rule matches bundleHash").toBe(bundleHash(bundle));
      expect(
        execFileSync("stat", ["-c", "%a", join(dir, "deploy/homelab-deploy.sh")], { encoding: "utf8" }).trim(),
      ).toBe("755");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is the same bytes whatever order the files come in", () => {
    const a = testBundle();
    const b = new Map([...a.entries()].reverse());
    expect(bundleTar(b).equals(bundleTar(a))).toBe(true);
    expect(bundleHash(b)).toBe(bundleHash(a));
  });

  it("changes hash when one byte of one file changes", () => {
    expect(bundleHash(testBundle({ "default.nix": "{ }\n" }))).not.toBe(
      bundleHash(testBundle({ "default.nix": "{ } \n" })),
    );
  });

  it("refuses paths that are not plain relative paths", () => {
    for (const bad of ["../etc/passwd", "/abs.nix", "a b.nix", "a/./b", "x/../y", "a\nb", "-rf"]) {
      expect(() => bundleEntries(new Map([[bad, ""]])), bad).toThrow(/not a plain relative path/);
    }
  });

  it("takes one host's part of the plan's outputs, hosts/<name>/nixos/, and no other host's", () => {
    const out = new Map([
      ["plan.json", "{}"],
      ["hosts/main/nixos/default.nix", "x"],
      ["hosts/main/nixos/deploy/homelab-deploy.sh", "y"],
      ["hosts/gpu/nixos/default.nix", "z"],
    ]);
    expect([...hostBundleFromOutputs(out, "main").keys()]).toEqual(["default.nix", "deploy/homelab-deploy.sh"]);
  });
});

describe("the commands", () => {
  it("shell quoting survives bash for any string", () => {
    for (const s of ["plain", "it's", "a b", "$(rm -rf /)", "`x`", 'dq"q', "new\nline", "", "*"]) {
      expect(execFileSync("bash", ["-c", `printf %s ${shq(s)}`], { encoding: "utf8" })).toBe(s);
    }
  });

  it("the push bootstrap is valid bash and names the hash it expects", () => {
    const cmd = pushCommand(paths, HASH);
    expect(cmd).toContain(HASH);
    execFileSync("bash", ["-n", "-c", cmd]);
  });

  it("the release's deploy lists are sorted, so reordering services changes nothing", () => {
    const a = deployLists(
      [
        { id: "b", kind: "tcp", port: 2 },
        { id: "a", kind: "http", port: 1, path: "/x" },
      ],
      [`${paths.secretsDir}/b/key`, `${paths.secretsDir}/a/key`],
      paths,
    );
    const b = deployLists(
      [
        { id: "a", kind: "http", port: 1, path: "/x" },
        { id: "b", kind: "tcp", port: 2 },
      ],
      [`${paths.secretsDir}/a/key`, `${paths.secretsDir}/b/key`],
      paths,
    );
    expect([...a]).toEqual([...b]);
    const body = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(body(a.get(HEALTH_CHECKS_PATH)!)).toEqual(["a\thttp\t1\t/x", "b\ttcp\t2\t"]);
    expect(body(a.get(SECRET_FILES_PATH)!)).toEqual([`${paths.secretsDir}/a/key`, `${paths.secretsDir}/b/key`]);
    expect(a.get(HEALTH_CHECKS_PATH)!.startsWith("# Generated")).toBe(true);
    expect(() => deployLists([{ id: "x", kind: "http", port: 1, path: "/a b" }], [], paths)).toThrow(/x: path/);
    expect(() => applyCommand(paths, HASH, { keepGenerations: 0, healthTimeoutSeconds: 1 })).toThrow(/keepGenerations/);
  });

  it("the release's secret-file list refuses a file outside the secrets directory", () => {
    expect(() => deployLists([], ["/etc/shadow"], paths)).toThrow(/"\/etc\/shadow" is not under paths.secretsDir/);
  });

  it("the apply command carries no per-service data: the same length for one service or 5,000", () => {
    const cmd = applyCommand(paths, HASH, { keepGenerations: 10, healthTimeoutSeconds: 120 }, "e30=");
    expect(cmd).not.toMatch(/--check|--secret-file/);
    expect(cmd.length).toBeLessThan(400);
  });

  it("the apply carries the confirm timeout, refused outside its bounds with the field's name", () => {
    expect(
      applyCommand(paths, HASH, { keepGenerations: 10, healthTimeoutSeconds: 120, confirmTimeoutSeconds: 90 }),
    ).toContain(" --confirm-timeout 90 ");
    for (const bad of [0, 9, 3601, 1.5, Number.NaN]) {
      expect(() =>
        applyCommand(paths, HASH, { keepGenerations: 10, healthTimeoutSeconds: 120, confirmTimeoutSeconds: bad }),
      ).toThrow(/confirmTimeoutSeconds must be a whole number from 10 to 3600/);
    }
  });

  it("the confirm runs the release's script for that release, over a connection that trusts the pinned key only, with the key on stdin", () => {
    const remote = confirmCommand(paths, HASH, "e30=");
    expect(remote).toBe(
      `bash /var/lib/homelab/state/releases/${HASH}/deploy/homelab-deploy.sh confirm --bundle-dir /etc/nixos/homelab --secrets-dir /var/lib/homelab/secrets --state-dir /var/lib/homelab/state --record e30= ${HASH}`,
    );
    const local = confirmLocalCommand({ host: "192.0.2.10", port: 22, user: "root", hostKey: KEY }, remote, 120, "gpu");
    expect(local).toContain("-o StrictHostKeyChecking=yes");
    expect(local).toContain(`homelab-deploy-target ${KEY}`);
    expect(local, "the private key comes from stdin into a temp file").toContain('cat >"$dir/id"');
    expect(local).toContain("could not be reached over a new SSH connection after the switch");
    expect(local).toContain("host gpu");
    execFileSync("sh", ["-n", "-c", local]);
    expect(() =>
      confirmLocalCommand({ host: "-oProxyCommand=x", port: 22, user: "root", hostKey: KEY }, remote, 120),
    ).toThrow(/homelab:sshHost/);
  });

  it("a service's secrets command names the service and no value or release: values travel on stdin only", () => {
    const cmd = secretsCommand(paths, "mosquitto");
    expect(cmd).toContain(
      'exec bash "$script" secrets --service mosquitto --bundle-dir /etc/nixos/homelab --secrets-dir /var/lib/homelab/secrets --state-dir /var/lib/homelab/state',
    );
    expect(cmd, "the push's copy of the script, not a release's").toContain(
      "script=/var/lib/homelab/state/bin/homelab-deploy.sh",
    );
    expect(cmd).not.toMatch(/releases\/|[0-9a-f]{64}/);
    expect(() => secretsCommand(paths, "../etc")).toThrow(/not a catalog service id/);
  });

  it("paths must be absolute and plain", () => {
    expect(() => validatePaths({ ...paths, bundleDir: "relative" })).toThrow(/paths.bundleDir/);
    expect(() => validatePaths({ ...paths, stateDir: "/var/lib/x/" })).toThrow(/paths.stateDir/);
    expect(() => validatePaths({ ...paths, secretsDir: "/etc/nixos/homelab/secrets" })).toThrow(/inside the bundle/);
  });
});

describe("the pinned host key", () => {
  it("a missing key is refused, naming homelab:sshHostKey and the command that sets it", () => {
    expect(() => pinnedHostKey(undefined, "192.0.2.10", 22)).toThrow(
      /homelab:sshHostKey.*pulumi config set homelab:sshHostKey "\$\(ssh-keyscan -t ed25519 192\.0\.2\.10/,
    );
    expect(() => pinnedHostKey("", "h", 2222)).toThrow(/ssh-keyscan -t ed25519 -p 2222 h/);
  });

  it("a whole ssh-keyscan line is refused with a hint; a comment is dropped", () => {
    expect(() => pinnedHostKey(`nixos.local ${KEY}`, "h", 22)).toThrow(/drop the leading host name/);
    expect(pinnedHostKey(`${KEY} root@nixos`, "h", 22)).toBe(KEY);
  });
});

describe("health checks", () => {
  it("every enabled host service with a port and an http or tcp check gets one, from its catalog entry", () => {
    const lab = prodLab();
    const checks = healthChecksFor(lab.services);
    const expected = enabledServices(lab).filter((s) => s.port !== null && s.host !== null && s.health.kind !== "none");
    expect(checks.map((c) => c.id)).toEqual(expected.map((s) => s.id));
    for (const c of checks) {
      const s = lab.services.find((x) => x.id === c.id)!;
      expect(c.port, c.id).toBe(s.port);
      expect(c.kind, c.id).toBe(s.health.kind);
      if (s.health.kind === "http") expect(c.path, c.id).toBe(s.health.path);
    }
    // Pages sites, listener-less units and pending services are not probed.
    for (const id of ["docs", "tailscale", "cloudflared", "appwrite"])
      expect(
        checks.some((c) => c.id === id),
        id,
      ).toBe(false);
  });
});

describe("secrets on stdin and in triggers", () => {
  const spec = (key: string, group = "root"): SecretFileSpec => ({
    key,
    path: `${paths.secretsDir}/${key.replace(".", "/")}`,
    group,
    mode: group === "root" ? "0400" : "0440",
    units: ["b.service", "a.service"],
  });

  it("the stream holds only the secrets: a header, one base64 record per secret sorted by key, and a count trailer", () => {
    const text = secretsStdin(
      [
        { spec: spec("z.b"), value: "two\nlines" },
        { spec: spec("a.b", "hass"), value: "" },
      ],
      paths,
    );
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe("homelab-secrets v1");
    expect(lines[1].split("\t")).toEqual([
      "secret",
      "a.b",
      `${paths.secretsDir}/a/b`,
      "hass",
      "0440",
      "a.service,b.service",
      "",
    ]);
    expect(lines[2].split("\t")[6]).toBe(Buffer.from("two\nlines").toString("base64"));
    expect(lines[3]).toBe("end\t2");
  });

  it("a secret outside the secrets directory, or declared twice, is refused", () => {
    expect(() => sortedSecretSpecs([{ ...spec("a.b"), path: "/etc/shadow" }], paths)).toThrow(
      /not under paths.secretsDir/,
    );
    expect(() => sortedSecretSpecs([spec("a.b"), spec("a.b")], paths)).toThrow(/declared twice/);
  });

  it("a trigger changes with the value but never contains it, and needs the private key to recompute", () => {
    const key = triggerKey("private key one");
    const t1 = secretTrigger(spec("a.b"), "hunter2", key);
    expect(t1).toMatch(/^a\.b value=[0-9a-f]{16} group=root mode=0400$/);
    expect(t1).not.toContain("hunter2");
    expect(secretTrigger(spec("a.b"), "hunter2", key)).toBe(t1);
    expect(secretTrigger(spec("a.b"), "hunter3", key)).not.toBe(t1);
    expect(secretTrigger(spec("a.b"), "hunter2", triggerKey("private key two"))).not.toBe(t1);
  });
});
