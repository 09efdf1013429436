import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NIXOS_SOURCE_DIR, speedScheduleData } from "../../components/render/nixos";
import { findProgram, tier } from "../support/tiers";
import { bundleOf, dataOf, stackFromFile } from "./helpers";

// The two scripts the units run, exercised with real bash and jq. The
// programs they drive (date, transmission-remote) are fakes on PATH.
const missing = ["bash", "jq"].filter((p) => !findProgram(p));
const scripts = tier("scripts", missing);

const RENDER = join(NIXOS_SOURCE_DIR, "scripts", "render-secret-file.sh");
const SCHEDULE = join(NIXOS_SOURCE_DIR, "scripts", "transmission-schedule.sh");

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "homelab-scripts-"));
}

function fakeBin(dir: string, name: string, body: string): void {
  const path = join(dir, name);
  writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(path, 0o755);
}

describe.skipIf(!scripts.available)("render-secret-file.sh", () => {
  function render(format: string, values: Record<string, string>): { text: string; mode: number } {
    const dir = tempDir();
    const creds = join(dir, "creds");
    mkdirSync(creds);
    for (const [name, value] of Object.entries(values)) writeFileSync(join(creds, name), value);
    const out = join(dir, `out.${format}`);
    execFileSync("bash", [RENDER, format, out, ...Object.keys(values)], {
      env: { ...process.env, CREDENTIALS_DIRECTORY: creds },
    });
    return { text: readFileSync(out, "utf8"), mode: statSync(out).mode & 0o777 };
  }

  it("writes an EnvironmentFile readable by its owner only, one trailing newline dropped", () => {
    const { text, mode } = render("env", { B2_ACCOUNT_ID: "0012ab\n", B2_ACCOUNT_KEY: 'K0"q\\uote' });
    expect(text).toBe('B2_ACCOUNT_ID="0012ab"\nB2_ACCOUNT_KEY="K0\\"q\\\\uote"\n');
    expect(mode).toBe(0o600);
  });

  it("writes Transmission's credentials JSON", () => {
    const { text } = render("json", { "rpc-password": "hunter2\n" });
    expect(JSON.parse(text)).toEqual({ "rpc-password": "hunter2" });
  });

  it("refuses to run without a credentials directory", () => {
    const dir = tempDir();
    const env = { ...process.env };
    delete env.CREDENTIALS_DIRECTORY;
    expect(() => execFileSync("bash", [RENDER, "env", join(dir, "x"), "A"], { env, stdio: "pipe" })).toThrow();
  });
});

describe.skipIf(!scripts.available)("transmission-schedule.sh", () => {
  const data = dataOf(bundleOf(stackFromFile("prod")));
  const PASSWORD = "rpc-pass-CANARY";

  function runAt(clock: string): { argv: string; auth: string; stdout: string } {
    const dir = tempDir();
    const bin = join(dir, "bin");
    const creds = join(dir, "creds");
    mkdirSync(bin);
    mkdirSync(creds);
    writeFileSync(join(creds, "rpc-password"), `${PASSWORD}\n`);
    // The generated schedule, as the module hands it to the script.
    const schedule = join(dir, "schedule.json");
    writeFileSync(schedule, JSON.stringify(speedScheduleData(data, "transmission")!.schedule));
    fakeBin(bin, "date", `echo ${clock}`);
    fakeBin(
      bin,
      "transmission-remote",
      `echo "$*" > ${join(dir, "argv")}; printf '%s' "$TR_AUTH" > ${join(dir, "auth")}`,
    );
    const stdout = execFileSync("bash", [SCHEDULE, schedule, "127.0.0.1:9091", "transmission"], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CREDENTIALS_DIRECTORY: creds },
      encoding: "utf8",
    });
    return {
      argv: readFileSync(join(dir, "argv"), "utf8").trim(),
      auth: readFileSync(join(dir, "auth"), "utf8"),
      stdout,
    };
  }

  it.each([
    ["08:00", "day", 50000, 0],
    ["13:30", "day", 50000, 0],
    ["23:59", "day", 50000, 0],
    ["00:00", "night", 50000, 50000],
    ["07:59", "night", 50000, 50000],
  ])("at %s applies %s mode: down %i kB/s, up %i kB/s", (clock, mode, down, up) => {
    const { argv, stdout } = runAt(clock);
    expect(argv).toBe(`127.0.0.1:9091 --authenv --downlimit ${down} --uplimit ${up}`);
    expect(stdout).toContain(`${mode} mode`);
  });

  it("passes the RPC password through TR_AUTH, never on the command line", () => {
    const { argv, auth } = runAt("12:00");
    expect(auth).toBe(`transmission:${PASSWORD}`);
    expect(argv).not.toContain(PASSWORD);
  });
});

// pkgs.writeShellApplication runs shellcheck when the host builds the units,
// so a warning there is a failed deploy; catch it here first.
const lint = tier("shellcheck", findProgram("shellcheck") ? [] : ["shellcheck"]);

describe.skipIf(!lint.available)("the unit scripts", () => {
  it.each([RENDER, SCHEDULE])("pass shellcheck as writeShellApplication runs it: %s", (script) => {
    execFileSync("shellcheck", ["--shell=bash", script], { stdio: "pipe" });
  });
});
