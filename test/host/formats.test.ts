import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleHash, bundleManifest } from "../../components/host/bundle";
import { secretsStdin, type HostPaths } from "../../components/host/commands";
import { encodeRecord, parseObservation } from "../../components/host/drift";
import {
  OBSERVE_REPORT,
  SECRETS_STREAM,
  formatLine,
  hostFormatsPage,
  parseStream,
} from "../../components/host/formats";
import { findProgram, tier } from "../support/tiers";
import { BUNDLE_SAMPLE, OBSERVE_SAMPLE, RECORD_SAMPLE, SAMPLE_SECRETS_DIR, SECRETS_SAMPLE } from "./format-samples";
import { SCRIPT_FILE } from "./support/fixture";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const samplePaths = (secretsDir: string): HostPaths => ({
  bundleDir: "/etc/nixos/homelab",
  secretsDir,
  stateDir: "/var/lib/homelab/state",
});

describe("the program's side of each host format", () => {
  it("writes the secrets sample's stream byte for byte", () => {
    expect(
      secretsStdin(
        SECRETS_SAMPLE.secrets.map(({ value, ...spec }) => ({ spec, value })),
        samplePaths(SAMPLE_SECRETS_DIR),
      ),
    ).toBe(SECRETS_SAMPLE.text);
  });

  it("reads the secrets sample's stream back into the declared secrets, through the format's field names", () => {
    const lines = parseStream(SECRETS_STREAM, SECRETS_SAMPLE.text, "the sample");
    const read = lines.map(({ fields: f }) => ({
      key: f.key,
      path: f.path,
      group: f.group,
      mode: f.mode,
      units: f.units === "-" ? [] : f.units.split(","),
      value: Buffer.from(f.value, "base64").toString("utf8"),
    }));
    const declared = [...SECRETS_SAMPLE.secrets]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((s) => ({ ...s, units: [...s.units].sort() }));
    expect(read).toEqual(declared);
  });

  it("hashes the bundle sample as coreutils does", () => {
    expect(bundleManifest(BUNDLE_SAMPLE.files)).toBe(BUNDLE_SAMPLE.manifest);
    expect(bundleHash(BUNDLE_SAMPLE.files)).toBe(BUNDLE_SAMPLE.hash);
  });

  it("encodes the record sample as its base64, and reads it back from an observe report", () => {
    expect(encodeRecord(RECORD_SAMPLE.record)).toBe(RECORD_SAMPLE.base64);
    const report = [
      OBSERVE_REPORT.header,
      formatLine(OBSERVE_REPORT, "record", { stage: "secrets.mosquitto", record: RECORD_SAMPLE.base64 }),
      "end",
      "",
    ].join("\n");
    expect(parseObservation(report).records["secrets.mosquitto"]).toEqual(RECORD_SAMPLE.record);
  });

  it("reads every line kind of the observe sample into the fields the drift rules use", () => {
    const obs = parseObservation(OBSERVE_SAMPLE.text);
    expect(obs).toMatchObject(OBSERVE_SAMPLE.parsed);
    expect(obs.records["secrets.mosquitto"]).toEqual(RECORD_SAMPLE.record);
  });

  it("ignores a line kind it does not know, so the script can report more before the program reads it", () => {
    const withNew = OBSERVE_SAMPLE.text.replace("generation\t7\n", "generation\t7\nsomething-new\tx\ty\n");
    expect(parseObservation(withNew)).toEqual(parseObservation(OBSERVE_SAMPLE.text));
  });

  it("refuses a line field with a tab or a newline, which would shift every field after it", () => {
    expect(() => formatLine(SECRETS_STREAM, "end", { count: "1\t2" })).toThrow(/end\.count holds a tab or a newline/);
  });

  it("refuses a stream with another format's header, and one cut before its end", () => {
    expect(() => parseStream(SECRETS_STREAM, SECRETS_SAMPLE.text.replace("v1", "v2"), "the stream")).toThrow(
      /does not start with homelab-secrets v1/,
    );
    expect(() => parseStream(SECRETS_STREAM, SECRETS_SAMPLE.text.replace("end\t2\n", ""), "the stream")).toThrow(
      /was cut before its end/,
    );
  });

  it("publishes every line kind and rule on the reference page", () => {
    const page = hostFormatsPage().join("\n");
    for (const f of [SECRETS_STREAM, OBSERVE_REPORT]) {
      expect(page).toContain(`\`${f.header}\``);
      for (const l of [...f.lines, f.end]) expect(page, `${f.title}: ${l.kind}`).toContain(`| \`${l.kind}\` |`);
    }
  });
});

/**
 * The script's side runs the real homelab-deploy.sh on this machine, on temp
 * directories: `secrets` writes the sample's files (chown needs root) and
 * keeps its record, then `observe` reports them, the bundle hash and the
 * record back to the program's parser.
 */
const bash = tier("deploy script on this machine", [
  ...["bash", "base64", "sha256sum", "flock", "stat", "find"].filter((p) => !findProgram(p)),
  ...(process.getuid?.() === 0 ? [] : ["root (the secrets command sets each file's owner and group)"]),
]);

describe.skipIf(!bash.available)("the deploy script's side of each host format", () => {
  const root = mkdtempSync(join(tmpdir(), "homelab-formats-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dirs = {
    bundle: join(root, "bundle"),
    secrets: join(root, "secrets"),
    state: join(root, "state"),
    bin: join(root, "bin"),
  };
  for (const d of [dirs.state, dirs.bin]) mkdirSync(d, { recursive: true });
  // A plain directory in the bundle's place: observe hashes whatever is there.
  for (const [path, content] of Object.entries(BUNDLE_SAMPLE.files)) {
    mkdirSync(dirname(join(dirs.bundle, path)), { recursive: true });
    writeFileSync(join(dirs.bundle, path), content);
  }
  // systemctl stands in for the restarts the units field asks for, and lists no failed unit.
  writeFileSync(join(dirs.bin, "systemctl"), `#!/bin/sh\necho "$*" >>${JSON.stringify(join(root, "systemctl.log"))}\n`);
  chmodSync(join(dirs.bin, "systemctl"), 0o755);
  const env = {
    ...process.env,
    PATH: `${dirs.bin}:${process.env.PATH}`,
    HOMELAB_SYSTEM_PROFILE: join(root, "profiles", "system"),
  };
  const common = ["--bundle-dir", dirs.bundle, "--secrets-dir", dirs.secrets, "--state-dir", dirs.state];
  const run = (args: string[], input = "") =>
    spawnSync("bash", [SCRIPT_FILE, ...args, ...common], { input, env, encoding: "utf8" });

  const stream = SECRETS_SAMPLE.text.replaceAll(SAMPLE_SECRETS_DIR, dirs.secrets);
  const secrets = run(["secrets", "--service", SECRETS_SAMPLE.service, "--record", RECORD_SAMPLE.base64], stream);
  const observe = run(["observe"]);

  it("writes each secret of the stream with its value, group and mode", () => {
    expect(secrets.status, secrets.stderr).toBe(0);
    for (const s of SECRETS_SAMPLE.secrets) {
      const file = s.path.replace(SAMPLE_SECRETS_DIR, dirs.secrets);
      expect(readFileSync(file, "utf8"), s.key).toBe(s.value);
      expect((statSync(file).mode & 0o777).toString(8), s.key).toBe(s.mode.slice(1));
    }
  });

  it("restarts the units the units field names, and none for -", () => {
    const log = readFileSync(join(root, "systemctl.log"), "utf8");
    for (const unit of SECRETS_SAMPLE.secrets.flatMap((s) => s.units)) expect(log, unit).toContain(unit);
  });

  it("reports the files it wrote as the manifest the program reads: key, hash of the value, group, mode, path", () => {
    expect(observe.status, observe.stderr).toBe(0);
    const obs = parseObservation(observe.stdout);
    const expected = SECRETS_SAMPLE.secrets
      .map((s) => ({
        key: s.key,
        sha256: sha256(s.value),
        group: s.group,
        mode: s.mode,
        path: s.path.replace(SAMPLE_SECRETS_DIR, dirs.secrets),
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
    expect([...obs.manifest].sort((a, b) => a.key.localeCompare(b.key))).toEqual(expected);
  });

  it("hashes the bundle sample to the same release name", () => {
    expect(parseObservation(observe.stdout).bundleHash).toBe(BUNDLE_SAMPLE.hash);
  });

  it("hands the record sample back unchanged, which the program reads as the record it wrote", () => {
    expect(observe.stdout).toContain(`record\tsecrets.${SECRETS_SAMPLE.service}\t${RECORD_SAMPLE.base64}\n`);
    expect(parseObservation(observe.stdout).records[`secrets.${SECRETS_SAMPLE.service}`]).toEqual(RECORD_SAMPLE.record);
  });

  it("prints every observe line kind the format defines, and no other (read from the script's printf lines)", () => {
    const script = readFileSync(SCRIPT_FILE, "utf8");
    const body = script.slice(
      script.indexOf("cmd_observe() {"),
      script.indexOf("\n}\n", script.indexOf("cmd_observe() {")),
    );
    const printed = new Set([...body.matchAll(/printf '([a-z-]+)(?:\\t|\\n)/g)].map((m) => m[1]));
    printed.delete("homelab-observe");
    expect([...printed].sort()).toEqual([...OBSERVE_REPORT.lines, OBSERVE_REPORT.end].map((l) => l.kind).sort());
  });

  it("prints only line kinds the observe report defines", () => {
    const kinds = new Set([...OBSERVE_REPORT.lines, OBSERVE_REPORT.end].map((l) => l.kind));
    for (const line of observe.stdout.trimEnd().split("\n").slice(1))
      expect(kinds, line).toContain(line.split("\t")[0]);
  });
});
