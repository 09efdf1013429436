import { execFileSync } from "node:child_process";
import type { EngineEvent, OpType } from "@pulumi/pulumi/automation";
import { findProgram } from "../support/tiers";

/**
 * Why the engine tier cannot run here, or undefined: the Pulumi CLI and the
 * Node.js language host on PATH, and each resource plugin at the version the
 * project's package pins. None can come from this machine's registries.
 */
export function engineMissing(plugins: { name: string; version: string }[]): string | undefined {
  const pulumi = findProgram("pulumi");
  if (!pulumi)
    return "no pulumi CLI on PATH; the Go module proxy serves the CLI but refuses the Node.js language host and the provider plugins (HTTP 403), so this machine cannot build the engine from modules";
  if (!findProgram("pulumi-language-nodejs")) return "pulumi is on PATH but pulumi-language-nodejs is not";
  const installed = JSON.parse(execFileSync(pulumi, ["plugin", "ls", "--json"], { encoding: "utf8" }) || "[]") as {
    name: string;
    kind: string;
    version: string;
  }[];
  for (const p of plugins) {
    if (!installed.some((i) => i.name === p.name && i.kind === "resource" && i.version === p.version)) {
      return `the ${p.name} provider plugin ${p.version} is not installed (pulumi plugin install resource ${p.name} ${p.version})`;
    }
  }
  return undefined;
}

/** The version of a provider's Node.js package, which is the plugin version the engine asks for. */
export function pluginVersion(pkg: "@pulumi/command" | "@pulumi/cloudflare"): string {
  return (require(`${pkg}/package.json`) as { version: string }).version;
}

const REPLACEMENT_STEPS = new Set<OpType>(["replace", "create-replacement", "delete-replaced"]);

/** What the engine did to one resource: its step, and the properties the provider reported as changing. */
export interface Step {
  op: OpType;
  diffs: string[];
}

/**
 * Resource name → what the engine did to it, from the engine's own events.
 * A replacement arrives as several steps (create-replacement, replace,
 * delete-replaced): it is recorded as one replace.
 */
export function recorder(): { steps: Map<string, Step>; onEvent: (e: EngineEvent) => void } {
  const steps = new Map<string, Step>();
  return {
    steps,
    onEvent: (e) => {
      const meta = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata;
      if (!meta) return;
      const name = meta.urn.split("::").at(-1)!;
      const op: OpType = REPLACEMENT_STEPS.has(meta.op) ? "replace" : meta.op;
      const previous = steps.get(name);
      const diffs = [...new Set([...(previous?.diffs ?? []), ...(meta.diffs ?? [])])].sort();
      if (!previous || previous.op === "same" || op === "replace" || op === "delete") steps.set(name, { op, diffs });
      else steps.set(name, { ...previous, diffs });
    },
  };
}
