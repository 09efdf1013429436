import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { DEPLOY_CONFIG, runProgram } from "./run";

/**
 * What `pulumi preview` prints for a mistake in the stack's config. The
 * Node.js runtime logs a RunError as its message alone and anything else
 * through util.inspect, which dumps the object, its fields and a trace
 * (@pulumi/pulumi cmd/run/run.js, uncaughtHandler).
 */
async function failureOf(extra: Record<string, string>): Promise<Error> {
  const failed = await runProgram("prod", { ...DEPLOY_CONFIG, ...extra }, ["homelab:sshPrivateKey"]).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(failed instanceof Error)) throw new Error(`the prod program accepted ${JSON.stringify(extra)}`);
  return failed;
}

describe("a config mistake under the Pulumi runtime", () => {
  const bad = { "homelab:routePattern": "home", "homelab:timeZone": "Mars/Olympus" };

  it("reaches the runtime as a RunError, which it prints as the message alone", async () => {
    const { RunError } = await import("@pulumi/pulumi");
    const err = await failureOf(bad);
    expect(RunError.isInstance(err), inspect(err)).toBe(true);
  });

  it("is the formatted list npm start prints: one line per problem, each with its fix", async () => {
    const err = await failureOf(bad);
    const lines = err.message.split("\n");
    expect(lines[0]).toBe('stack "prod" has 2 problems:');
    expect(lines.slice(1), err.message).toHaveLength(2);
    expect(
      lines.find((l) => l.includes("routePattern")),
      err.message,
    ).toMatch(/^ {2}- .*Fix: /);
    expect(
      lines.find((l) => l.includes("timeZone")),
      err.message,
    ).toMatch(/^ {2}- .*Fix: /);
  });

  it("carries no object dump and no colour codes", async () => {
    const err = await failureOf(bad);
    expect(err.message).not.toContain("\u001b[");
    expect(err.message).not.toMatch(/problems: \[|\{ *stackName/);
  });
});

describe("a deployer without the OpenSSH client", () => {
  it("is refused before anything changes, since no switch could be confirmed and the host would roll every one back", async () => {
    const { RunError } = await import("@pulumi/pulumi");
    // A PATH with node and nothing else: ssh is not found.
    const empty = mkdtempSync(join(tmpdir(), "homelab-no-ssh-"));
    symlinkSync(process.execPath, join(empty, "node"));
    const saved = process.env.PATH;
    process.env.PATH = empty;
    try {
      const values = Object.fromEntries(
        [
          "dashboard.hass-token",
          "home-assistant.openai-api-key",
          "home-assistant.anthropic-api-key",
          "mosquitto.username",
          "mosquitto.password",
        ].map((k) => [k, "x"]),
      );
      const config = { ...DEPLOY_CONFIG, "homelab:secretValues": JSON.stringify(values) };
      const failed = await runProgram("ci", config, ["homelab:sshPrivateKey", "homelab:secretValues"]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(RunError.isInstance(failed), inspect(failed)).toBe(true);
      expect((failed as Error).message).toMatch(/the OpenSSH client \(ssh\) is not on its PATH: install it/);
    } finally {
      process.env.PATH = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
