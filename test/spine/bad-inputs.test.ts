import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ValidationError, type Problem } from "../../components/catalog/validate";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { CONFIG_KEYS, parseStackConfig, type ConfigProblem, type ConfigSource } from "../../components/config/schema";
import { runPlan } from "../../components/plan/cli";

/**
 * Issue 26, part 3: whole groups of bad input, refused at plan time. Each rule
 * is an allow-list, so each describe generates many members of its bad group
 * (and checks every one is refused, naming the key and a fix), and a set of
 * good values that must stay accepted.
 */

const REPO = join(__dirname, "..", "..");
const BASE = { domain: "javiersc.com", lanAddress: "192.0.2.10", edge: "none" };
const TWO_HOSTS = {
  main: { lanAddress: "192.0.2.10", lanHostname: "nixos.local" },
  gpu: { lanAddress: "192.0.2.11", lanHostname: "gpu.local" },
};

const problemsOf = (extra: Record<string, unknown>, from: ConfigSource = {}): ConfigProblem[] =>
  parseStackConfig("prod", { ...BASE, ...extra }, "plan", from).problems;

/** The problem for `key` (a full key, `homelab:bundleDir`), asserting there is one and that its fix says what to do. */
function refusal(problems: ConfigProblem[], key: string, what: string): ConfigProblem {
  const found = problems.find((p) => p.key === key);
  expect(found, `${what} is refused naming ${key}; got ${JSON.stringify(problems)}`).toBeDefined();
  expect(found!.fix.length, `${what}: the refusal says how to fix it`).toBeGreaterThan(10);
  return found!;
}

/** A refusal from the schema's value check: the fix names the key it asks to change. */
function keyRefusal(problems: ConfigProblem[], key: string, what: string): ConfigProblem {
  const p = refusal(problems, key, what);
  expect(p.fix, `${what}: the fix names ${key}`).toContain(key);
  return p;
}

const cross = <A, B>(as: readonly A[], bs: readonly B[]): [A, B][] => as.flatMap((a) => bs.map((b): [A, B] => [a, b]));

describe("rule 1: homelab:bundleDir is a folder of /etc/nixos/", () => {
  // Everywhere but /etc/nixos/: system directories, their insides, and places that only look close.
  const ROOTS = [
    "/etc",
    "/etc/pam.d",
    "/etc/ssh",
    "/etc/systemd",
    "/etc/static",
    "/etc/nixos-old",
    "/etc/nixosx",
    "/var",
    "/var/lib",
    "/var/lib/nixos",
    "/var/lib/systemd",
    "/var/lib/homelab",
    "/var/log",
    "/var/cache",
    "/var/empty",
    "/nix",
    "/nix/var",
    "/nix/store",
    "/run",
    "/run/wrappers",
    "/run/current-system",
    "/boot",
    "/home",
    "/home/owner",
    "/root",
    "/usr",
    "/usr/local",
    "/bin",
    "/sbin",
    "/lib",
    "/opt",
    "/srv",
    "/tmp",
    "/var/tmp",
    "/dev",
    "/dev/shm",
    "/proc",
    "/sys",
    "/mnt",
    "/media",
  ];
  const SUBPATHS = ["", "/homelab", "/a/b", "/sub/nixos/homelab"];
  const outside = cross(ROOTS, SUBPATHS).map(([r, s]) => `${r}${s}`);
  // Below /etc/nixos/, but a file of the configuration, a hidden folder or not a plain name.
  const NAMES = [
    "configuration.nix",
    "hardware-configuration.nix",
    "flake.nix",
    "flake.lock",
    ".git",
    ".homelab",
    "homelab.d",
    "homelab.old",
    "-homelab",
    "home lab",
    "homelab$",
  ];
  const inside = [...NAMES.map((n) => `/etc/nixos/${n}`), ...NAMES.map((n) => `/etc/nixos/homelab/${n}`)];
  const bad = [...new Set([...outside, ...inside])];

  it("generates the group", () => {
    expect(bad.length).toBeGreaterThanOrEqual(170);
  });

  it.each(bad)("refuses %s", (dir) => {
    const p = keyRefusal(problemsOf({ bundleDir: dir }), "homelab:bundleDir", dir);
    expect(p.fix).toContain("/etc/nixos/");
  });

  it.each([
    "/etc/nixos/homelab",
    "/etc/nixos/homelab-prod",
    "/etc/nixos/homelab_2",
    "/etc/nixos/hosts/nixos/homelab",
    "/etc/nixos/Homelab",
  ])("accepts %s", (dir) => {
    expect(problemsOf({ bundleDir: dir })).toEqual([]);
  });

  it("says in the key's expect text which roots are allowed", () => {
    expect(CONFIG_KEYS.bundleDir.expect).toContain("/etc/nixos/");
  });
});

describe("rule 2: homelab:stateDir and homelab:credentialsDir are the home lab's own, persistent directory", () => {
  // Volatile, shared or someone else's: tmpfs, other users' homes, other services' state, the configuration.
  const ROOTS = [
    "/tmp",
    "/var/tmp",
    "/dev/shm",
    "/run",
    "/run/user/1000",
    "/run/user/0",
    "/run/homelab",
    "/run/secrets",
    "/proc",
    "/sys",
    "/dev",
    "/home/owner",
    "/root",
    "/srv",
    "/mnt/data",
    "/media/usb",
    "/opt",
    "/var/cache",
    "/var/log",
    "/var/spool",
    "/var/empty",
    "/var/lib/nixos",
    "/var/lib/systemd",
    "/var/lib/private",
    "/var/lib/postgresql",
    "/var/lib/hass",
    "/var/lib/homelabx",
    "/var/lib/lab",
    "/etc/nixos",
    "/etc/homelab",
    "/nix/var",
    "/usr/local",
    "/boot/efi",
  ];
  const SUBPATHS = ["/homelab", "/homelab/state", "/x"];
  const bad = cross(ROOTS, SUBPATHS).map(([r, s]) => `${r}${s}`);
  const cases = cross(["stateDir", "credentialsDir"] as const, bad);

  it("generates the group", () => {
    expect(cases.length).toBeGreaterThanOrEqual(190);
  });

  it.each(cases)("homelab:%s refuses %s", (key, dir) => {
    const p = keyRefusal(problemsOf({ [key]: dir }), `homelab:${key}`, dir);
    expect(p.fix).toContain("/var/lib/homelab");
  });

  it.each([
    ["/var/lib/homelab/secrets", "/var/lib/homelab/state"],
    ["/var/lib/homelab-secrets", "/var/lib/homelab-state"],
    ["/var/lib/homelab-staging/secrets", "/var/lib/homelab-staging/state"],
    ["/var/lib/homelab_ci/credentials", "/var/lib/homelab_ci/deploy/state"],
    ["/var/lib/homelab/secrets", "/var/lib/homelab-state"],
  ])("accepts credentialsDir %s with stateDir %s", (credentialsDir, stateDir) => {
    expect(problemsOf({ credentialsDir, stateDir })).toEqual([]);
  });

  it("checks a test host's directories below its root, and only there", () => {
    const root = "/tmp/homelab-host-abc123/host";
    const dirs = {
      bundleDir: `${root}/etc/nixos/homelab`,
      credentialsDir: `${root}/var/lib/homelab/secrets`,
      stateDir: `${root}/var/lib/homelab/state`,
    };
    expect(problemsOf(dirs, { hostRoot: root })).toEqual([]);
    expect(
      problemsOf(dirs)
        .map((p) => p.key)
        .sort(),
    ).toEqual(["homelab:bundleDir", "homelab:credentialsDir", "homelab:stateDir"]);
    expect(problemsOf({ ...dirs, stateDir: `${root}/tmp/state` }, { hostRoot: root }).map((p) => p.key)).toEqual([
      "homelab:stateDir",
    ]);
    expect(problemsOf({ ...dirs, stateDir: "/var/lib/homelab/state" }, { hostRoot: root }).map((p) => p.key)).toEqual([
      "homelab:stateDir",
    ]);
  });

  it("says in the keys' expect text which roots are allowed", () => {
    for (const key of ["stateDir", "credentialsDir"])
      expect(CONFIG_KEYS[key].expect, key).toContain("/var/lib/homelab");
  });
});

describe("rule 3: a host name that ends in a number is a canonical IPv4 address or refused", () => {
  // Dotted numbers a resolver, ssh or a browser would read as some address, or as none.
  const leadingZeros = [0, 1, 2, 3].flatMap((i) =>
    ["0", "00", "01", "001", "010", "0255"]
      .filter((z) => z !== "0")
      .map((z) => [192, 168, 1, 10].map((o, j) => (j === i ? z : String(o))).join(".")),
  );
  const outOfRange = [0, 1, 2, 3].flatMap((i) =>
    ["256", "300", "999", "1000", "4294967296"].map((big) =>
      [10, 0, 0, 1].map((o, j) => (j === i ? big : String(o))).join("."),
    ),
  );
  const wrongCount = [
    "1",
    "1.2",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.4.5.6",
    "192.168.1",
    "10.1",
    "127.1",
    "127.0.1",
    "2130706433",
  ];
  const otherBases = [
    "0x7f.1",
    "0x7f.0.0.1",
    "0x7f000001",
    "0X7F.0.0.1",
    "0177.0.0.1",
    "0177.1",
    "1.2.3.0x4",
    "0x.0x.0x.0x",
    "0xc0.0xa8.0x01.0x0a",
    "017700000001",
  ];
  const shapes = [
    "192.168.1.10.",
    "1..2.3",
    ".1.2.3",
    "1.2.3.",
    "-1.2.3.4",
    "nixos.1",
    "host.123",
    "example.0x1f",
    "a.b.c.4",
  ];
  const bad = [...new Set([...leadingZeros, ...outOfRange, ...wrongCount, ...otherBases, ...shapes])];
  // Every key that takes a host name or address, alone and as a host field of homelab:hosts.
  const keys: [string, (v: string) => Record<string, unknown>, string][] = [
    ["sshHost", (v) => ({ sshHost: v }), "homelab:sshHost"],
    ["lanHostname", (v) => ({ lanHostname: v }), "homelab:lanHostname"],
    ["domain", (v) => ({ domain: v }), "homelab:domain"],
    ["lanAddress", (v) => ({ lanAddress: v }), "homelab:lanAddress"],
    [
      "hosts.gpu.sshHost",
      (v) => ({
        lanAddress: undefined,
        hosts: { ...TWO_HOSTS, gpu: { ...TWO_HOSTS.gpu, sshHost: v } },
        placement: { ollama: "gpu" },
      }),
      "homelab:hosts.gpu.sshHost",
    ],
    [
      "hosts.gpu.lanHostname",
      (v) => ({
        lanAddress: undefined,
        hosts: { ...TWO_HOSTS, gpu: { ...TWO_HOSTS.gpu, lanHostname: v } },
        placement: { ollama: "gpu" },
      }),
      "homelab:hosts.gpu.lanHostname",
    ],
    [
      "hosts.gpu.lanAddress",
      (v) => ({
        lanAddress: undefined,
        hosts: { ...TWO_HOSTS, gpu: { ...TWO_HOSTS.gpu, lanAddress: v } },
        placement: { ollama: "gpu" },
      }),
      "homelab:hosts.gpu.lanAddress",
    ],
  ];
  const without = (extra: Record<string, unknown>) =>
    Object.fromEntries(Object.entries({ ...BASE, ...extra }).filter(([, v]) => v !== undefined));
  const cases = cross(keys, bad).map(([[name, build, key], v]) => [name, v, build, key] as const);

  it("generates the group", () => {
    expect(bad.length).toBeGreaterThanOrEqual(65);
    expect(cases.length).toBe(bad.length * keys.length);
  });

  it.each(cases)("%s refuses %s", (_name, value, build, key) => {
    keyRefusal(parseStackConfig("prod", without(build(value))).problems, key, value);
  });

  it("says why a numeric-looking sshHost is refused", () => {
    const p = keyRefusal(problemsOf({ sshHost: "192.168.001.10" }), "homelab:sshHost", "192.168.001.10");
    expect(p.message).toContain("canonical form");
  });

  it.each([
    "192.168.1.10",
    "10.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "::1",
    "fe80::1",
    "::ffff:192.0.2.1",
    "nixos.local",
    "nixos",
    "gpu-box",
    "host1",
    "a1.b2.example.com",
    "0x7f.example",
    "1.2.3.a",
  ])("homelab:sshHost accepts %s", (v) => {
    expect(problemsOf({ sshHost: v })).toEqual([]);
  });

  it.each(["nixos.local", "nixos-1.local", "1.example.com", "123.example.com", "1e100.net"])(
    "homelab:lanHostname and homelab:domain accept %s",
    (v) => {
      expect(problemsOf({ lanHostname: v })).toEqual([]);
      expect(problemsOf({ domain: v })).toEqual([]);
    },
  );

  it.each(["192.168.1.10", "10.0.0.1"])(
    "homelab:lanHostname and homelab:domain refuse the address %s: they take names",
    (v) => {
      expect(refusal(problemsOf({ lanHostname: v }), "homelab:lanHostname", v).message).toContain("IPv4 address");
      expect(refusal(problemsOf({ domain: v }), "homelab:domain", v).message).toContain("IPv4 address");
    },
  );
});

describe("rule 4: a secret in plain text, or a private key anywhere in plain text", () => {
  const SECRET_KEYS = Object.entries(CONFIG_KEYS)
    .filter(([, s]) => s.secret)
    .map(([k]) => k);
  const PEM_TYPES = [
    "RSA PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "EC PRIVATE KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "DSA PRIVATE KEY",
    "PGP PRIVATE KEY BLOCK",
  ];
  const BODY = "MARKER0of0the0key0body";
  const pem = (type: string) => `-----BEGIN ${type}-----\n${BODY}\n-----END ${type}-----\n`;
  const PLAIN: unknown[] = [
    "x",
    "hunter2",
    "ops_0123456789abcdef0123",
    JSON.stringify({ "mosquitto.password": "pw" }),
    { "mosquitto.password": "pw" },
    { a: { secure: "v1:abc" }, b: "plain" },
    ["a"],
    ...PEM_TYPES.map(pem),
  ];

  /** A host's own login key, named by a host so that nothing else is refused. */
  const hostKeyStack = (value: unknown) => ({
    lanAddress: undefined,
    hosts: { ...TWO_HOSTS, gpu: { ...TWO_HOSTS.gpu, sshKeyConfig: "sshPrivateKeyGpu" } },
    placement: { ollama: "gpu" },
    sshPrivateKeyGpu: value,
  });
  const stripped = (extra: Record<string, unknown>) =>
    Object.fromEntries(Object.entries({ ...BASE, ...extra }).filter(([, v]) => v !== undefined));
  const secretCases = [
    ...cross(SECRET_KEYS, PLAIN).map(([k, v]) => [k, v, { [k]: v }] as const),
    ...PLAIN.map((v) => ["sshPrivateKeyGpu", v, hostKeyStack(v)] as const),
  ];

  it("generates the group", () => {
    expect(SECRET_KEYS.sort()).toEqual(["cloudflareApiToken", "onePasswordToken", "secretValues", "sshPrivateKey"]);
    expect(secretCases.length).toBeGreaterThanOrEqual(70);
  });

  it.each(secretCases.map(([k, v, raw], i) => [k, i, v, raw] as const))(
    "homelab:%s refuses plain value #%i",
    (key, _i, _value, raw) => {
      const p = refusal(parseStackConfig("prod", stripped(raw)).problems, `homelab:${key}`, key);
      expect(p.fix).toContain(`pulumi config set --secret homelab:${key} `);
      expect(`${p.message} ${p.fix}`, "the value is never repeated").not.toContain(BODY);
      expect(`${p.message} ${p.fix}`).not.toContain("hunter2");
    },
  );

  it.each(SECRET_KEYS)("homelab:%s, as the program gets it: refused unless the engine holds it as a secret", (key) => {
    expect(refusal(problemsOf({ [key]: "{}" }, { engineSecrets: [] }), `homelab:${key}`, key).fix).toContain(
      `--secret homelab:${key}`,
    );
    expect(problemsOf({ [key]: "{}" }, { engineSecrets: [key] })).toEqual([]);
  });

  it.each(SECRET_KEYS)("homelab:%s accepts secure: ciphertext, whole or set with --path", (key) => {
    expect(problemsOf({ [key]: { secure: "v1:abc" } })).toEqual([]);
    expect(
      problemsOf({ [key]: { "mosquitto.password": { secure: "v1:abc" }, "mosquitto.username": { secure: "v1:def" } } }),
    ).toEqual([]);
  });

  it("a host's own login key accepts secure: ciphertext", () => {
    expect(parseStackConfig("prod", stripped(hostKeyStack({ secure: "v1:abc" }))).problems).toEqual([]);
  });

  // A private key pasted anywhere: a homelab key, a host field, an unknown key, another namespace, a key without one.
  const PLACES: [string, (v: string) => Record<string, unknown>, string][] = [
    ["homelab:sshHostKey", (v) => ({ "homelab:sshHostKey": v }), "homelab:sshHostKey"],
    [
      "homelab:generatedCredentialsItem",
      (v) => ({ "homelab:generatedCredentialsItem": v }),
      "homelab:generatedCredentialsItem",
    ],
    ["homelab:notes (unknown)", (v) => ({ "homelab:notes": v }), "homelab:notes"],
    ["homelab:services (a list)", (v) => ({ "homelab:services": ["portal", v] }), "homelab:services.1"],
    [
      "homelab:hosts.gpu.sshHostKey",
      (v) => ({
        "homelab:lanAddress": null,
        "homelab:lanHostname": null,
        "homelab:hosts": { ...TWO_HOSTS, gpu: { ...TWO_HOSTS.gpu, sshHostKey: v } },
        "homelab:placement": { ollama: "gpu" },
      }),
      "homelab:hosts.gpu.sshHostKey",
    ],
    ["command:privateKey", (v) => ({ "command:privateKey": v }), "command:privateKey"],
    ["cloudflare:apiToken", (v) => ({ "cloudflare:apiToken": v }), "cloudflare:apiToken"],
    ["sshKey (no namespace)", (v) => ({ sshKey: v }), "sshKey"],
  ];
  const PROD = readStackFile(REPO, "prod");
  const loadProblems = (change: Record<string, unknown>, from: ConfigSource = {}): Problem[] => {
    const raw: Record<string, unknown> = { ...PROD };
    for (const [k, v] of Object.entries(change)) {
      if (v === null) delete raw[k];
      else raw[k] = v;
    }
    try {
      loadStack("prod", raw, undefined, "plan", from);
      return [];
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return err.problems;
    }
  };
  const pemCases = cross(PLACES, PEM_TYPES).map(
    ([[place, build, field], type]) => [place, type, build, field] as const,
  );

  it.each(pemCases)("%s refuses a %s in plain text, without quoting it", (_place, type, build, field) => {
    const problems = loadProblems(build(pem(type)));
    const p = problems.find((q) => q.field === field);
    expect(p, `${field}: ${JSON.stringify(problems)}`).toBeDefined();
    expect(p!.message).toBe("holds a private key in plain text");
    expect(p!.fix).toContain("pulumi config set --secret");
    expect(JSON.stringify(problems), "the key is never repeated").not.toContain(BODY);
  });

  it("generates the private-key group", () => {
    expect(pemCases.length).toBeGreaterThanOrEqual(56);
  });

  it("accepts a private key held as secure: ciphertext, or as an engine secret, and public material in plain text", () => {
    expect(loadProblems({ "command:privateKey": { secure: "v1:abc" } })).toEqual([]);
    expect(
      loadProblems({ "command:privateKey": pem("OPENSSH PRIVATE KEY") }, { engineSecrets: ["command:privateKey"] }),
    ).toEqual([]);
    expect(loadProblems({ "command:cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" })).toEqual(
      [],
    );
    expect(
      loadProblems({ "command:publicKey": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n" }),
    ).toEqual([]);
    expect(loadProblems({ "homelab:sshHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Q=" })).toEqual([]);
  });
});

describe("rule 5: homelab:apiClientKeyOverlapUntil is a real UTC time in 2020-2099", () => {
  const pad = (n: number) => String(n).padStart(2, "0");
  const at = (y: number, m: number, d: number, time = "00:00:00") =>
    `${String(y).padStart(4, "0")}-${pad(m)}-${pad(d)}T${time}Z`;
  // Days past the end of each month (Date.parse rolls them over into the next month).
  const rolledOver = [2025, 2026, 2027, 2028].flatMap((y) =>
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].flatMap((m) => {
      const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
      return Array.from({ length: 32 - last }, (_, i) => at(y, m, last + 1 + i));
    }),
  );
  const impossible = [
    at(2026, 0, 10),
    at(2026, 13, 1),
    at(2026, 6, 0),
    at(2026, 12, 31, "24:00:00"),
    at(2026, 12, 31, "23:60:00"),
    at(2026, 12, 31, "23:59:60"),
    at(2026, 12, 31, "99:99:99"),
  ];
  const outOfWindow = [
    at(0, 1, 1),
    at(1, 1, 1),
    at(1970, 1, 1),
    at(2000, 6, 1),
    at(2019, 12, 31, "23:59:59"),
    at(2100, 1, 1),
    at(2500, 6, 1),
    at(9999, 12, 31, "23:59:59"),
  ];
  const malformed = [
    "2026-12-31",
    "2026-12-31T00:00:00.000Z",
    "2026-12-31T00:00:00+00:00",
    "2026-12-31 00:00:00Z",
    "2026-12-31T00:00Z",
    "2026-1-31T00:00:00Z",
    "+02026-12-31T00:00:00Z",
    "20261231T000000Z",
    "next week",
    "1798675200",
  ];
  const bad = [...rolledOver, ...impossible, ...outOfWindow, ...malformed];

  it("generates the group", () => {
    expect(rolledOver).toContain("2026-02-31T00:00:00Z");
    expect(rolledOver).toContain("2026-02-29T00:00:00Z");
    expect(rolledOver).not.toContain("2028-02-29T00:00:00Z");
    expect(bad.length).toBeGreaterThanOrEqual(60);
  });

  it.each(bad)("refuses %s", (v) => {
    keyRefusal(
      problemsOf({ apiClientKeyVersion: 2, apiClientKeyOverlapUntil: v }),
      "homelab:apiClientKeyOverlapUntil",
      v,
    );
  });

  it("says how Date.parse would have read an impossible date", () => {
    expect(
      refusal(problemsOf({ apiClientKeyOverlapUntil: "2026-02-31T00:00:00Z" }), "homelab:apiClientKeyOverlapUntil", "")
        .message,
    ).toContain("2026-03-03T00:00:00Z");
  });

  const lastDays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) =>
    at(2026, m, new Date(Date.UTC(2026, m, 0)).getUTCDate(), "23:59:59"),
  );
  it.each([
    ...lastDays,
    "2028-02-29T00:00:00Z",
    "2020-01-01T00:00:00Z",
    "2099-12-31T23:59:59Z",
    "2026-12-07T00:00:00Z",
  ])("accepts %s", (v) => {
    expect(problemsOf({ apiClientKeyVersion: 2, apiClientKeyOverlapUntil: v })).toEqual([]);
  });

  it("explains the fixed window in the key's expect text", () => {
    expect(CONFIG_KEYS.apiClientKeyOverlapUntil.expect).toContain("2020-2099");
  });
});

describe("rule 6: the docs keys are git branch names, repository folders and repositories", () => {
  const GIT = { docsSource: "git", docsRepository: "github:javiersc/homelab" };
  const FORBIDDEN = [
    " ",
    "\t",
    "~",
    "^",
    ":",
    "?",
    "*",
    "[",
    "\\",
    "@",
    "{",
    "}",
    "!",
    "#",
    "$",
    "'",
    '"',
    "`",
    ";",
    "&",
    "|",
    "<",
    ">",
    "(",
    ")",
    "é",
    ",",
  ];
  const badBranches = [
    ...FORBIDDEN.flatMap((c) => [`feat${c}x`, `${c}main`, `main${c}`]),
    ...[
      "..",
      "a..b",
      "main..",
      "-main",
      "--force",
      "main/",
      "/main",
      "a//b",
      "main.lock",
      "a/b.lock",
      ".hidden",
      "a/.b",
      "main.",
      "a/b.",
      "@",
      "@{u}",
      "a@{b",
      "HEAD",
      "x".repeat(201),
    ],
  ];
  const badFolders = [
    ...[
      "/abs",
      "/",
      "/out/prod/docs",
      "../site",
      "..",
      "a/../b",
      "a/..",
      "./out",
      ".",
      "out/./docs",
      "out/",
      "out//docs",
      "out docs",
      "out/$(reboot)",
      "out\\docs",
      "C:/site",
      "~/site",
      "out/*",
    ],
    ...FORBIDDEN.filter((c) => c !== "\\").map((c) => `out/${c}docs`),
  ];
  const badRepositories = [
    "github:../..",
    "github:./x",
    "github:a/..",
    "github:.a/b",
    "github:-a/b",
    "bitbucket:a/b",
    "github:a",
    "github:a/b/c",
    "a/b",
    "github:a b/c",
    "github:a/b c",
    "github:",
    "https://github.com/a/b",
    "git@github.com:a/b.git",
  ];

  it("generates the group", () => {
    expect(badBranches.length).toBeGreaterThanOrEqual(95);
    expect(badFolders.length + badRepositories.length).toBeGreaterThanOrEqual(50);
  });

  it.each(badBranches)("homelab:docsBranch refuses %j", (v) => {
    keyRefusal(problemsOf({ ...GIT, docsBranch: v }), "homelab:docsBranch", v);
  });

  it.each(badFolders)("homelab:docsOutputDir refuses %j", (v) => {
    refusal(problemsOf({ ...GIT, docsOutputDir: v }), "homelab:docsOutputDir", v);
  });

  it.each(badRepositories)("homelab:docsRepository refuses %j, once", (v) => {
    const problems = problemsOf({ docsSource: "git", docsRepository: v });
    keyRefusal(problems, "homelab:docsRepository", v);
    expect(problems.filter((p) => p.key === "homelab:docsRepository")).toHaveLength(1);
  });

  it.each(["main", "release/docs", "gh-pages", "v1.2", "feature/foo_bar", "a.b/c-d", "Docs", "2026"])(
    "homelab:docsBranch accepts %s",
    (v) => {
      expect(problemsOf({ ...GIT, docsBranch: v })).toEqual([]);
    },
  );

  it.each(["out/prod/docs", "dist", "site/_build", ".vercel/output", "docs-site/v1.2"])(
    "homelab:docsOutputDir accepts %s",
    (v) => {
      expect(problemsOf({ ...GIT, docsOutputDir: v })).toEqual([]);
    },
  );

  it.each(["github:javiersc/homelab", "gitlab:group/repo.name", "github:a_b/c-d", "github:Owner/Repo"])(
    "homelab:docsRepository accepts %s",
    (v) => {
      expect(problemsOf({ docsSource: "git", docsRepository: v })).toEqual([]);
    },
  );
});

describe("every stack file of the repository", () => {
  const stacks = readdirSync(REPO).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);

  it.each(stacks)("Pulumi.%s.yaml still loads", (stack) => {
    expect(() => loadStack(stack, readStackFile(REPO, stack))).not.toThrow();
  });

  it("are all there", () => {
    expect(stacks.sort()).toEqual(["ci", "multihost", "prod", "staging"]);
  });
});

describe("npm start on a stack with a bad value of each group", () => {
  const PROD = readStackFile(REPO, "prod");
  let root: string;
  let out: string;
  let before: Map<string, string>;

  const snapshot = (dir: string): Map<string, string> => {
    const files = new Map<string, string>();
    for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      const path = join(d.parentPath, d.name);
      files.set(relative(dir, path), d.isFile() ? readFileSync(path).toString("base64") : "<dir>");
    }
    return files;
  };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "bad-inputs-"));
    writeFileSync(join(root, "Pulumi.bad.yaml"), stringify({ config: PROD }));
    out = join(root, "out", "bad");
    const stderr: string[] = [];
    expect(
      runPlan(["--stack", "bad", "--out", out], { root, stdout: () => {}, stderr: (t) => stderr.push(t) }),
      stderr.join(""),
    ).toBe(0);
    before = snapshot(out);
  });

  it.each([
    ["bundleDir in a system directory", { "homelab:bundleDir": "/etc/pam.d" }, "homelab:bundleDir:"],
    ["stateDir on a tmpfs", { "homelab:stateDir": "/dev/shm/homelab" }, "homelab:stateDir:"],
    ["credentialsDir in /tmp", { "homelab:credentialsDir": "/tmp/homelab/secrets" }, "homelab:credentialsDir:"],
    ["an sshHost with a leading zero", { "homelab:sshHost": "192.168.001.10" }, "homelab:sshHost:"],
    ["a lanHostname that is a shortened address", { "homelab:lanHostname": "1.2.3" }, "homelab:lanHostname:"],
    [
      "a login key in plain text",
      { "homelab:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n" },
      "homelab:sshPrivateKey:",
    ],
    [
      "a private key under another namespace",
      { "command:key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n" },
      "command:key:",
    ],
    [
      "an overlap on February 31st",
      { "homelab:apiClientKeyVersion": "2", "homelab:apiClientKeyOverlapUntil": "2026-02-31T00:00:00Z" },
      "homelab:apiClientKeyOverlapUntil:",
    ],
    [
      "a docs branch that git refuses",
      {
        "homelab:docsSource": "git",
        "homelab:docsRepository": "github:javiersc/homelab",
        "homelab:docsBranch": "main..old",
      },
      "homelab:docsBranch:",
    ],
  ])("%s is refused and the previous plan stays as it was", (_name, change, where) => {
    writeFileSync(join(root, "Pulumi.bad.yaml"), stringify({ config: { ...PROD, ...change } }));
    const stderr: string[] = [];
    const code = runPlan(["--stack", "bad", "--out", out], { root, stdout: () => {}, stderr: (t) => stderr.push(t) });
    const message = stderr.join("");
    expect(code).toBe(1);
    expect(message).toContain(where);
    expect(message.split("\n").find((l) => l.includes(where))).toMatch(/ Fix: \S/);
    expect(message).toContain(`nothing was written to ${out}`);
    expect(message).not.toContain("b3Blbn");
    expect(snapshot(out)).toEqual(before);
  });
});
