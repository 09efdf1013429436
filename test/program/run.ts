import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { vi } from "vitest";
import { stackConfig, strictMocks, type Registered } from "./mocks";

export const ROOT = join(__dirname, "..", "..");

/**
 * What the owner sets with `pulumi config set` before a deploy. Drift
 * detection is off: under mocks nothing may dial the stack's real host.
 */
export const DEPLOY_CONFIG = {
  "homelab:sshHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LW5vdC1hLXJlYWwtaG9zdC1rZXk=",
  "homelab:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----",
  "homelab:detectDrift": "false",
};

export interface ProgramRun {
  registered: Registered[];
  outputs: Record<string, unknown>;
  /** Names of the stack outputs that are Pulumi secrets. */
  secretOutputs: string[];
  byType(suffix: string): Registered[];
}

/**
 * Run index.ts itself for one stack under strict mocks, the way the engine
 * would: config from Pulumi.<stack>.yaml (plus `extra`), then wait until every
 * registration has reached the mocks.
 */
export async function runProgram(stack: string, extra: Record<string, string> = {}, secretKeys: string[] = []): Promise<ProgramRun> {
  const registered: Registered[] = [];
  vi.resetModules();
  const runtime = await import("@pulumi/pulumi/runtime");
  await runtime.setMocks(strictMocks(registered), "homelab", stack, true);
  runtime.setAllConfig(stackConfig(ROOT, stack, extra), secretKeys);
  const mod = await import("../../index");
  const exported = (await (mod as unknown as { default?: Promise<Record<string, unknown>> }).default) ?? (await (mod as unknown as Promise<Record<string, unknown>>));
  const outputs: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  for (const [k, v] of Object.entries(exported ?? {})) {
    if (!pulumi.Output.isInstance(v)) {
      outputs[k] = v;
      continue;
    }
    const out = v as pulumi.Output<unknown>;
    outputs[k] = await new Promise((r) => out.apply((x) => { r(x); return x; }));
    if (await (out as unknown as { isSecret: Promise<boolean> }).isSecret) secretOutputs.push(k);
  }
  await (runtime as unknown as { disconnect(): Promise<void> }).disconnect();
  return { registered, outputs, secretOutputs, byType: (suffix) => registered.filter((r) => r.type.endsWith(suffix)) };
}
