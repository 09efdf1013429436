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
