import { execFileSync } from "node:child_process";

/**
 * Test tiers that need a real program (nginx, chromium, sshd, nix-instantiate,
 * the Pulumi engine). On a machine without it the tier is skipped, and the
 * reason is printed so the output never passes it off as run. Under CI, where
 * .ci/run installs everything, a missing program is a failure instead.
 */
export function findProgram(name: string, candidates: string[] = []): string | undefined {
  for (const c of candidates) {
    try {
      execFileSync("test", ["-x", c]);
      return c;
    } catch {
      /* not this one */
    }
  }
  try {
    return execFileSync("bash", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface Tier {
  /** Whether the tier's tests run. */
  available: boolean;
  /** Why it does not, when it does not. */
  reason?: string;
}

export function tier(name: string, missing: string[]): Tier {
  if (missing.length === 0) return { available: true };
  const reason = `${name} tier skipped: ${missing.join(", ")} not found (install with: bash test/install-deps.sh)`;
  if (process.env.CI) throw new Error(`${reason}; under CI every tier must run`);
  process.stderr.write(`\n[SKIPPED] ${reason}\n`);
  return { available: false, reason };
}
