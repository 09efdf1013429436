/**
 * The LAN-exposed services' doors, as the modules build them: Backrest's
 * declared login (evaluated unit, and the real script it runs with the real
 * htpasswd), Cockpit over TLS only, and the binds the catalog chose.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { HOMELAB_JSON, NIXOS_SOURCE_DIR } from "../../components/render/nixos";
import { findProgram, tier } from "../support/tiers";
import { ROOT, bundleOf, dataOf, stackFromFile, writeTree } from "./helpers";
import { NIX, NIX_ENV, nixTier } from "./nix-tier";

interface Unit {
  serviceConfig?: Record<string, unknown>;
  environment?: Record<string, string>;
}
interface Evaluated {
  config: {
    services: Record<string, any>;
    systemd: { services: Record<string, Unit>; sockets: Record<string, unknown> };
  };
  failedAssertions: string[];
}

function evalModules(dir: string): Evaluated {
  const args = [
    "--store",
    "dummy://",
    "--eval",
    "--strict",
    "--json",
    join(ROOT, "test", "nixos", "eval-modules.nix"),
    "--argstr",
    "bundle",
    dir,
    "--arg",
    "withSshMcp",
    "true",
  ];
  return JSON.parse(execFileSync(NIX as string, args, { env: NIX_ENV, encoding: "utf8", stdio: "pipe" })) as Evaluated;
}

const SECRET = "/var/lib/homelab/secrets/backrest/ui-password";

describe.skipIf(!nixTier.available)("LAN-exposed services, evaluated against the prod data", () => {
  const bundle = bundleOf(stackFromFile("prod"));
  let ev: Evaluated;
  beforeAll(() => {
    ev = evalModules(writeTree(bundle, "homelab-bundle-"));
  });

  it("fails no assertion", () => {
    expect(ev.failedAssertions).toEqual([]);
  });

  it("Backrest: the generated data hands the module the ui-password secret's path, never a value", () => {
    expect(dataOf(bundle).services.backrest.secrets["ui-password"]).toBe(SECRET);
  });

  it("Backrest: before each start, as its own user, it writes the login into its config from the ui-password credential", () => {
    const sc = ev.config.systemd.services.backrest.serviceConfig!;
    expect(sc.ExecStartPre).toEqual([
      "/nix/store/00000000000000000000000000000000-backrest-login/bin/backrest-login '/var/lib/backrest/config.json' 'homelab'",
    ]);
    expect(sc.LoadCredential).toEqual([`ui-password:${SECRET}`]);
    expect(sc.User).toBe("backrest");
    // Not "+"/"!": the step runs with the service's sandbox and user, and writes only the service's own file.
    expect(String((sc.ExecStartPre as string[])[0])).toMatch(/^\/nix\/store\//);
  });

  it("Backrest: no secret path on a command line or in the environment", () => {
    const unit = ev.config.systemd.services.backrest;
    const visible = JSON.stringify([
      unit.serviceConfig?.ExecStart,
      unit.serviceConfig?.ExecStartPre,
      unit.environment ?? {},
    ]);
    expect(visible).not.toContain("/var/lib/homelab/secrets");
  });

  it("Backrest: refuses to evaluate without a ui-password secret, naming the catalog fix", () => {
    const data = JSON.parse(bundle.get(HOMELAB_JSON) as string);
    delete data.services.backrest.secrets["ui-password"];
    const without = new Map(bundle);
    without.set(HOMELAB_JSON, JSON.stringify(data));
    const failed = evalModules(writeTree(without, "homelab-bundle-")).failedAssertions;
    expect(failed).toEqual([
      expect.stringMatching(
        /backrest catalog entry has no ui-password secret.*first visitor of port 9898.*components\/catalog\/services\.ts/,
      ),
    ]);
  });

  it("Cockpit: serves its login over TLS only; the plain-HTTP switch is never set", () => {
    const cockpit = ev.config.services.cockpit;
    expect(cockpit.enable).toBe(true);
    expect(cockpit.settings.WebService).not.toHaveProperty("AllowUnencrypted");
    expect(cockpit.settings.WebService.ProtocolHeader).toBe("X-Forwarded-Proto");
  });

  it("Cockpit: accepts WebSockets from the LAN address and mDNS name over HTTPS, and from the public route", () => {
    expect(ev.config.services.cockpit["allowed-origins"]).toEqual([
      "https://192.0.2.10:9090",
      "https://nixos.local:9090",
      "https://cockpit-home.javiersc.com",
    ]);
  });

  it("no file of the bundle sets AllowUnencrypted", () => {
    for (const [path, content] of bundle) expect(content, path).not.toMatch(/AllowUnencrypted/i);
  });

  it("Ollama and PicoClaw listen where the catalog says, for the owner's Local links", () => {
    expect(ev.config.services.ollama).toMatchObject({ host: "0.0.0.0", port: 11434 });
    expect(ev.config.systemd.services.picoclaw.environment).toMatchObject({
      PICOCLAW_GATEWAY_HOST: "0.0.0.0",
      PICOCLAW_GATEWAY_PORT: "18800",
    });
  });
});

describe("no AllowUnencrypted in the source", () => {
  it("greps the modules and the renderers clean", () => {
    // grep exits 1 when nothing matches.
    const grep = spawnSync("grep", ["-rIil", "AllowUnencrypted", NIXOS_SOURCE_DIR, join(ROOT, "components")], {
      encoding: "utf8",
    });
    expect(grep.stdout, "files that still name AllowUnencrypted").toBe("");
    expect(grep.status).toBe(1);
  }, 10_000);
});

/* ---------------------------------------------------------- the script -- */

const HTPASSWD = findProgram("htpasswd");
const scriptTier = tier("backrest login script", [
  ...["bash", "jq"].filter((p) => !findProgram(p)),
  ...(HTPASSWD ? [] : ["htpasswd (Debian: apache2-utils)"]),
]);
const SCRIPT = join(NIXOS_SOURCE_DIR, "scripts", "backrest-login.sh");
const PASSWORD = "correct horse CANARY-7f3";

describe.skipIf(!scriptTier.available)("backrest-login.sh with the real htpasswd", () => {
  /** A scratch dir with the credential, and an htpasswd on PATH that records its argv before running the real one. */
  function setup(password: string | null = PASSWORD): {
    dir: string;
    config: string;
    run: () => ReturnType<typeof spawnSync>;
    argv: () => string;
  } {
    const dir = mkdtempSync(join(tmpdir(), "homelab-backrest-login-"));
    const creds = join(dir, "creds");
    const bin = join(dir, "bin");
    mkdirSync(creds);
    mkdirSync(bin);
    if (password !== null) writeFileSync(join(creds, "ui-password"), password);
    const log = join(dir, "argv.log");
    writeFileSync(join(bin, "htpasswd"), `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> ${log}\nexec ${HTPASSWD} "$@"\n`);
    chmodSync(join(bin, "htpasswd"), 0o755);
    const config = join(dir, "config.json");
    const run = () =>
      spawnSync("bash", [SCRIPT, config, "homelab"], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CREDENTIALS_DIRECTORY: creds },
        encoding: "utf8",
      });
    return { dir, config, run, argv: () => (existsSync(log) ? readFileSync(log, "utf8") : "") };
  }

  const hashOf = (config: string): string => {
    const users = JSON.parse(readFileSync(config, "utf8")).auth.users as { name: string; passwordBcrypt: string }[];
    return Buffer.from(users[0].passwordBcrypt, "base64").toString("utf8");
  };

  /** Whether htpasswd accepts `password` for the hash: the check Backrest makes with Go's bcrypt. */
  const verifies = (dir: string, hash: string, password: string): boolean => {
    const file = join(dir, "check.htpasswd");
    writeFileSync(file, `homelab:${hash}\n`);
    return spawnSync(HTPASSWD as string, ["-v", "-i", file, "homelab"], { input: password }).status === 0;
  };

  it("gives a fresh Backrest a login: auth on, one user, the base64 of a bcrypt hash of the password", () => {
    const t = setup();
    const r = t.run();
    expect(r.status, String(r.stderr)).toBe(0);
    const auth = JSON.parse(readFileSync(t.config, "utf8")).auth;
    expect(auth.disabled).toBe(false);
    expect(auth.users).toHaveLength(1);
    expect(auth.users[0].name).toBe("homelab");
    const hash = hashOf(t.config);
    expect(hash).toMatch(/^\$2[aby]\$12\$[./A-Za-z0-9]{53}$/);
    expect(verifies(t.dir, hash, PASSWORD)).toBe(true);
    expect(verifies(t.dir, hash, "wrong")).toBe(false);
  });

  it("gives a config it creates a format version, which Backrest requires of any config with content", () => {
    const t = setup();
    expect(t.run().status).toBe(0);
    expect(JSON.parse(readFileSync(t.config, "utf8")).version).toBe(3);
    // An empty file or object is a fresh config too.
    writeFileSync(t.config, "{}");
    expect(t.run().status).toBe(0);
    expect(JSON.parse(readFileSync(t.config, "utf8")).version).toBe(3);
  });

  it("never puts the password on a command line, in its output or in the file", () => {
    const t = setup();
    const r = t.run();
    expect(r.status, String(r.stderr)).toBe(0);
    expect(t.argv()).not.toBe("");
    expect(t.argv()).not.toContain("CANARY");
    expect(`${r.stdout}${r.stderr}`).not.toContain("CANARY");
    expect(readFileSync(t.config, "utf8")).not.toContain("CANARY");
  });

  it("keeps everything set in the UI and replaces only the login, turning auth back on", () => {
    const t = setup();
    const before = {
      modno: 7,
      version: 6,
      instance: "nixos",
      repos: [{ id: "b2", uri: "b2:homelab-prod:homelab" }],
      plans: [{ id: "daily", repo: "b2" }],
      auth: { disabled: true, users: [{ name: "intruder", passwordBcrypt: "eA==" }] },
    };
    writeFileSync(t.config, JSON.stringify(before));
    expect(t.run().status).toBe(0);
    const after = JSON.parse(readFileSync(t.config, "utf8"));
    expect({ ...after, auth: undefined }).toEqual({ ...before, auth: undefined });
    expect(after.auth.disabled).toBe(false);
    expect(after.auth.users.map((u: { name: string }) => u.name)).toEqual(["homelab"]);
  });

  it("is idempotent: a second start leaves the file byte for byte as it was", () => {
    const t = setup();
    expect(t.run().status).toBe(0);
    const first = readFileSync(t.config, "utf8");
    const again = t.run();
    expect(again.status).toBe(0);
    expect(readFileSync(t.config, "utf8")).toBe(first);
    expect(String(again.stderr)).toBe("");
  });

  it("hashes a rotated password, and the old one stops working", () => {
    const t = setup();
    expect(t.run().status).toBe(0);
    writeFileSync(join(t.dir, "creds", "ui-password"), "rotated-CANARY-2\n");
    expect(t.run().status).toBe(0);
    const hash = hashOf(t.config);
    expect(verifies(t.dir, hash, "rotated-CANARY-2")).toBe(true);
    expect(verifies(t.dir, hash, PASSWORD)).toBe(false);
  });

  it.each([
    ["a missing credential", null, /ui-password credential is missing or empty/],
    ["an empty credential", "", /ui-password credential is missing or empty/],
    ["a password bcrypt would cut at 72 bytes", "x".repeat(73), /73 bytes long; bcrypt takes at most 72/],
  ])("refuses %s and leaves the config untouched", (_what, password, message) => {
    const t = setup(password);
    writeFileSync(t.config, '{"instance":"nixos"}');
    const r = t.run();
    expect(r.status).not.toBe(0);
    expect(String(r.stderr)).toMatch(message);
    expect(readFileSync(t.config, "utf8")).toBe('{"instance":"nixos"}');
  });

  it("refuses a config that is not a JSON object, naming the file", () => {
    const t = setup();
    writeFileSync(t.config, "[1,2]");
    const r = t.run();
    expect(r.status).not.toBe(0);
    expect(String(r.stderr)).toContain(`${t.config} is not a JSON object`);
    expect(readFileSync(t.config, "utf8")).toBe("[1,2]");
  });

  it("passes shellcheck as writeShellApplication runs it", () => {
    if (!findProgram("shellcheck")) return;
    execFileSync("shellcheck", ["--shell=bash", SCRIPT], { stdio: "pipe" });
  });
});
