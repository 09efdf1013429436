import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { SCRIPT_FILE } from "./support/fixture";
import { findProgram, tier } from "../support/tiers";

const shellcheck = findProgram("shellcheck");
const lint = tier("shellcheck", shellcheck ? [] : ["shellcheck"]);

describe("nixos/deploy/homelab-deploy.sh", () => {
  it("parses as bash", () => {
    execFileSync("bash", ["-n", SCRIPT_FILE]);
  });

  it("starts with set -euo pipefail", () => {
    expect(execFileSync("grep", ["-c", "^set -euo pipefail$", SCRIPT_FILE], { encoding: "utf8" }).trim()).toBe("1");
  });

  it.skipIf(!lint.available)("is shellcheck-clean", () => {
    const result = (() => {
      try {
        return {
          code: 0,
          out: execFileSync(shellcheck!, ["--shell=bash", "--severity=style", SCRIPT_FILE], { encoding: "utf8" }),
        };
      } catch (err) {
        const e = err as { status: number; stdout: string };
        return { code: e.status, out: e.stdout };
      }
    })();
    expect(result.out).toBe("");
    expect(result.code).toBe(0);
  });
});
