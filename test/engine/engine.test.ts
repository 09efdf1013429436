import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { findProgram } from "../support/tiers";

/**
 * The real-engine tier needs the pulumi CLI, the Node.js language host and
 * the command provider plugin. This machine cannot build them: the Go module
 * proxy refuses github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
 * and github.com/pulumi/pulumi-command/provider at every version (HTTP 403),
 * and pkg/v3 after v3.259.0. The end-to-end deploy of the ci stack is not
 * written yet; on a machine with Pulumi installed this tier only checks that
 * the command plugin matches package.json.
 */
const pulumi = findProgram("pulumi");
const languageHost = findProgram("pulumi-language-nodejs");
const reason = !pulumi
  ? "no pulumi CLI on PATH; it cannot be built here because the Go module proxy refuses the Node.js language host and the command provider (HTTP 403)"
  : !languageHost
    ? "pulumi is on PATH but pulumi-language-nodejs is not"
    : undefined;
if (reason) process.stderr.write(`\n[SKIPPED] engine tier skipped: ${reason}\n`);

describe.skipIf(reason !== undefined)("the real Pulumi engine", () => {
  it("has the command provider plugin at the version package.json pins", () => {
    const wanted = (require("@pulumi/command/package.json") as { version: string }).version;
    const plugins = execFileSync(pulumi as string, ["plugin", "ls", "--json"], { encoding: "utf8" });
    const found = (JSON.parse(plugins) as { name: string; kind: string; version: string }[]).filter((p) => p.name === "command" && p.kind === "resource");
    expect(found.map((p) => p.version), "install it: pulumi plugin install resource command " + wanted).toContain(wanted);
  });
});
