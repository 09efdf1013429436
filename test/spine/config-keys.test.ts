import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import { HOST_FIELDS } from "../../components/config/hosts";
import { defaultShown, defaultValue, type LeafField, type TargetOf } from "../../components/config/key";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import {
  CONFIG_KEYS,
  RENAMED_KEYS,
  parseStackConfig,
  type ConfigRecords,
  type FieldsBuiltByCode,
} from "../../components/config/schema";
import { DOCS_CONTENT_DIR, renderDocsPages } from "../../components/render/docs";

/**
 * `pulumi config set <key> <value>` without --secret refuses a value when the
 * key's name matches this pattern and the value looks random ("config value
 * for '<key>' looks like a secret; rerun with --secret ... or --plaintext").
 * Ported from looksLikeSecret and keyPattern in pulumi/pulumi
 * pkg/cmd/pulumi/config/config.go at b42d45245ef04200ccb8b979160558e90ec4a69b
 * (called from config_set.go at the same revision):
 *
 *   var keyPattern = regexp.MustCompile("(?i)passwd|pass|password|pwd|secret|token")
 *   func looksLikeSecret(k config.Key, v string) bool {
 *     if !keyPattern.MatchString(k.Name()) { return false }
 *     ... zxcvbn entropy of the first 16 characters of v ...
 *   }
 *
 * k.Name() is the key without its namespace. The value half (zxcvbn entropy)
 * is not ported: a name the pattern does not match is never refused, whatever
 * the value, and that is the guarantee the non-secret keys need.
 */
const PULUMI_SECRET_KEY_PATTERN = /passwd|pass|password|pwd|secret|token/i;

function pulumiMayRefusePlaintext(keyName: string): boolean {
  return PULUMI_SECRET_KEY_PATTERN.test(keyName);
}

const plainKeys = Object.entries(CONFIG_KEYS)
  .filter(([, spec]) => !spec.secret)
  .map(([key]) => key);
const secretKeys = Object.entries(CONFIG_KEYS)
  .filter(([, spec]) => spec.secret)
  .map(([key]) => key);

describe("config key names and the Pulumi CLI's secret heuristic", () => {
  it.each(plainKeys)("non-secret key homelab:%s can be set with plain `pulumi config set`", (key) => {
    expect(pulumiMayRefusePlaintext(key), `homelab:${key} matches ${PULUMI_SECRET_KEY_PATTERN}`).toBe(false);
  });

  it.each(HOST_FIELDS.map((f) => `hosts.gpu.${f}`))(
    "a host field homelab:%s can be set with plain `pulumi config set --path`",
    (path) => {
      expect(pulumiMayRefusePlaintext(path), `homelab:${path} matches ${PULUMI_SECRET_KEY_PATTERN}`).toBe(false);
    },
  );

  it("the port flags the names the CLI refused, so the check above can fail", () => {
    for (const key of [
      "secretsDir",
      "cloudflareApiTokenRef",
      "generatedSecretsItem",
      "onePasswordVault",
      "sshPassword",
      "apiPwd",
    ]) {
      expect(pulumiMayRefusePlaintext(key), key).toBe(true);
    }
  });

  it("every old key name was one the CLI could refuse, and its new name is a known non-secret key", () => {
    for (const [old, renamed] of Object.entries(RENAMED_KEYS)) {
      expect(pulumiMayRefusePlaintext(old), old).toBe(true);
      expect(plainKeys, renamed).toContain(renamed);
    }
  });

  it("keeps the secret keys secret: each is set with --secret, so its name may match", () => {
    expect(secretKeys.sort()).toEqual(["cloudflareApiToken", "onePasswordToken", "secretValues", "sshPrivateKey"]);
  });

  it.each(Object.entries(RENAMED_KEYS))(
    "an old key homelab:%s is refused with the key to use instead, homelab:%s",
    (old, renamed) => {
      const { problems } = parseStackConfig("prod", {
        domain: "javiersc.com",
        lanAddress: "192.0.2.10",
        edge: "none",
        [old]: "x",
      });
      expect(problems).toEqual([
        {
          key: `homelab:${old}`,
          message: `was renamed to homelab:${renamed}`,
          fix: `rename it to homelab:${renamed} in Pulumi.prod.yaml`,
        },
      ]);
    },
  );
});

describe("homelab:nixosFlake and homelab:nixosFlakeInput", () => {
  const parse = (extra: Record<string, unknown>) =>
    parseStackConfig("prod", {
      domain: "javiersc.com",
      ...(extra.hosts ? {} : { lanAddress: "192.0.2.10" }),
      accessEmails: ["o@javiersc.com"],
      accessTeamName: "javiersc",
      cloudflareAccountId: "0".repeat(32),
      cloudflareZoneId: "0".repeat(32),
      ...extra,
    });
  const problem = (extra: Record<string, unknown>) =>
    parse(extra)
      .problems.map((p) => `${p.key}: ${p.message}`)
      .join("\n");

  it("makes the one host a flake host with the default input homelab", () => {
    expect(parse({ nixosFlake: "/etc/nixos#nixos" }).config?.hosts?.[0].flake).toEqual({
      ref: "/etc/nixos#nixos",
      input: "homelab",
    });
    expect(parse({}).config?.hosts?.[0].flake).toBeUndefined();
  });

  it.each([
    ["/etc/nixos", /names no configuration/],
    ["etc/nixos#nixos", /is not an absolute path/],
    ["/etc/../nixos#nixos", /path that is not plain/],
    ["/etc/nix os#nixos", /path that is not plain/],
    ["/etc/nixos#1nixos", /not a nixosConfigurations attribute name/],
    ["/etc/nixos#nixos#x", /not a nixosConfigurations attribute name/],
  ])("refuses %s, naming the key", (ref, says) => {
    expect(problem({ nixosFlake: ref })).toMatch(new RegExp(`homelab:nixosFlake: .*${says.source}`));
  });

  it("refuses an input name Nix would refuse, and an input without a flake", () => {
    expect(problem({ nixosFlake: "/etc/nixos#nixos", nixosFlakeInput: "home lab" })).toMatch(
      /homelab:nixosFlakeInput: "home lab" is not a flake input name Nix accepts/,
    );
    expect(problem({ nixosFlakeInput: "homelab" })).toMatch(
      /homelab:nixosFlakeInput: names a flake input, but the stack sets no nixosFlake/,
    );
  });

  it("is a host field of homelab:hosts", () => {
    const hosts = {
      main: { lanAddress: "192.0.2.10", nixosFlake: "/etc/nixos#main", nixosFlakeInput: "lab" },
      gpu: { lanAddress: "192.0.2.11" },
    };
    const parsed = parse({ hosts });
    expect(parsed.problems).toEqual([]);
    const config = parsed.config!;
    expect(config.hosts!.map((h) => h.flake)).toEqual([{ ref: "/etc/nixos#main", input: "lab" }, undefined]);
  });
});

describe("homelab:apiClientKeyVersion", () => {
  const base = {
    domain: "javiersc.com",
    lanAddress: "192.0.2.10",
    accessEmails: ["o@javiersc.com"],
    accessTeamName: "javiersc",
    cloudflareAccountId: "0".repeat(32),
    cloudflareZoneId: "0".repeat(32),
  };
  it("above 1 needs homelab:apiClientKeyOverlapUntil, which Cloudflare requires with a rotation, and says so", () => {
    const { problems } = parseStackConfig("prod", { ...base, apiClientKeyVersion: 2 });
    expect(problems.map((p) => `${p.key}: ${p.message}`)).toEqual([
      "homelab:apiClientKeyOverlapUntil: is unset, but homelab:apiClientKeyVersion 2 rotates the API client keys, and Cloudflare needs the time the previous keys stop working",
    ]);
    expect(
      parseStackConfig("prod", { ...base, apiClientKeyVersion: 2, apiClientKeyOverlapUntil: "2026-12-31T00:00:00Z" })
        .problems,
    ).toEqual([]);
    expect(parseStackConfig("prod", { ...base, apiClientKeyVersion: 1 }).problems).toEqual([]);
  });
});

describe("an empty homelab:services", () => {
  const base = {
    domain: "javiersc.com",
    lanAddress: "192.0.2.10",
    accessEmails: ["o@javiersc.com"],
    accessTeamName: "javiersc",
    cloudflareAccountId: "0".repeat(32),
    cloudflareZoneId: "0".repeat(32),
  };
  it("is refused on a one-host stack, naming the key and the way to empty the host on purpose", () => {
    const { problems } = parseStackConfig("prod", { ...base, services: [] });
    expect(problems).toHaveLength(1);
    expect(problems[0].key).toBe("homelab:services");
    expect(problems[0].message).toBe(
      "is empty, so the next deploy would remove every service and its secret files from the host",
    );
    expect(problems[0].fix).toContain("homelab:removeAllServices true");
  });

  it("is taken with homelab:removeAllServices true, and only then", () => {
    expect(parseStackConfig("prod", { ...base, services: [], removeAllServices: true }).problems).toEqual([]);
    expect(
      parseStackConfig("prod", { ...base, services: [], removeAllServices: false }).problems.map((p) => p.key),
    ).toEqual(["homelab:services"]);
    expect(parseStackConfig("prod", { ...base, services: ["jellyfin"] }).problems).toEqual([]);
  });
});

describe("one declaration per config key", () => {
  const ROOT = join(__dirname, "..", "..");
  const CONFIG_DIR = join(ROOT, "components", "config");
  const base = {
    domain: "javiersc.com",
    lanAddress: "192.0.2.10",
    accessEmails: ["o@javiersc.com"],
    accessTeamName: "javiersc",
    cloudflareAccountId: "0".repeat(32),
    cloudflareZoneId: "0".repeat(32),
  };
  // Keys that only mean something beside another key get it, so that their own value is what is tested.
  const gitDocs = { docsSource: "git", docsRepository: "github:owner/repo" };
  const needs: Record<string, Record<string, unknown>> = {
    nixosFlakeInput: { nixosFlake: "/etc/nixos#nixos" },
    docsBranch: gitDocs,
    docsBuildCommand: gitDocs,
    docsOutputDir: gitDocs,
  };
  const configOf = (raw: Record<string, unknown>) => {
    const parsed = parseStackConfig("prod", raw);
    expect(parsed.problems).toEqual([]);
    return parsed.config as unknown as Record<string, unknown>;
  };
  const fieldAt = (config: Record<string, unknown>, path: string) =>
    path.split(".").reduce<unknown>((at, step) => (at as Record<string, unknown> | undefined)?.[step], config);
  const withTarget = Object.entries(CONFIG_KEYS).filter(([, spec]) => spec.target !== undefined);
  const withDefault = Object.entries(CONFIG_KEYS).filter(([, spec]) => spec.default !== undefined);

  it("declares every key the program accepts once, with option() in components/config/", () => {
    const declared: string[] = [];
    for (const file of readdirSync(CONFIG_DIR).filter((f) => f.endsWith(".ts"))) {
      for (const m of readFileSync(join(CONFIG_DIR, file), "utf8").matchAll(/^\s+([A-Za-z][A-Za-z0-9]*): option\(/gm))
        declared.push(m[1]);
    }
    expect(
      declared.filter((key, i) => declared.indexOf(key) !== i),
      "keys declared twice",
    ).toEqual([]);
    expect([...declared].sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
  });

  it("no two keys fill the same StackConfig field", () => {
    const targets = withTarget.map(([, spec]) => spec.target as string);
    expect(targets.filter((t, i) => targets.indexOf(t) !== i)).toEqual([]);
  });

  it("every StackConfig field is filled by a record or by the cross-key code, never both (checked by tsc)", () => {
    expectTypeOf<Exclude<LeafField, TargetOf<ConfigRecords> | FieldsBuiltByCode>>().toBeNever();
    expectTypeOf<Extract<TargetOf<ConfigRecords>, FieldsBuiltByCode>>().toBeNever();
  });

  it.each(Object.keys(CONFIG_KEYS))(
    "the doc of homelab:%s does not spell out a default; the record holds it",
    (key) => {
      expect(CONFIG_KEYS[key].doc, `homelab:${key}`).not.toMatch(/\bdefault\b/i);
    },
  );

  it.each(withTarget.map(([key]) => key).filter((key) => !(key in base)))(
    "an unset homelab:%s fills its field with its record's default",
    (key) => {
      const spec = CONFIG_KEYS[key];
      const config = configOf({ ...base, ...needs[key] });
      const expected =
        spec.defaultFrom !== undefined
          ? fieldAt(config, CONFIG_KEYS[spec.defaultFrom].target as string)
          : defaultValue(spec, "prod");
      expect(fieldAt(config, spec.target as string), `${spec.target} of an unset homelab:${key}`).toEqual(expected);
    },
  );

  it.each(withDefault.map(([key]) => key))("homelab:%s set to its default is accepted and changes nothing", (key) => {
    const extra = { ...base, ...needs[key] };
    expect(configOf({ ...extra, [key]: defaultValue(CONFIG_KEYS[key], "prod") }), `homelab:${key}`).toEqual(
      configOf(extra),
    );
  });

  it.each(Object.entries(CONFIG_KEYS).filter(([, spec]) => spec.defaultFrom !== undefined))(
    "homelab:%s takes its default from a key of the same kind",
    (key, spec) => {
      const from = CONFIG_KEYS[spec.defaultFrom as string];
      expect(from, `homelab:${key}.defaultFrom`).toBeDefined();
      expect(from.kind, `homelab:${key}.defaultFrom`).toBe(spec.kind);
    },
  );

  it("the configuration reference shows each key's default from its record, and none for a key without one", () => {
    const { lab } = loadStack("prod", readStackFile(ROOT, "prod"));
    const page = renderDocsPages(lab).get(`${DOCS_CONTENT_DIR}/reference/configuration.md`) as string;
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      const row = page.split("\n").find((line) => line.startsWith(`| \`homelab:${key}\` |`));
      expect(row, `the reference's row of homelab:${key}`).toBeDefined();
      const shown = defaultShown(spec);
      if (!shown) {
        expect(row, `homelab:${key} has no default`).not.toContain("Default:");
        continue;
      }
      const text = { value: `\`${shown.text}\``, key: `the value of \`homelab:${shown.text}\``, meaning: shown.text }[
        shown.is
      ];
      expect(row, `homelab:${key}`).toContain(` Default: ${text}.`);
    }
    // A default that depends on the stack reads as the pattern, not as prod's value.
    expect(page).toContain("Default: `homelab-<stack>`.");
    expect(page).not.toContain("homelab-prod");
  });
});
