import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { vi } from "vitest";
import { readStackFile } from "../../components/config/file";
import { stackConfig, strictMocks, type FakeAccount, type Registered } from "./mocks";

export const ROOT = join(__dirname, "..", "..");

/**
 * What the owner sets with `pulumi config set` before a deploy: the real
 * Cloudflare ids, the pinned host key and the login key. Drift
 * detection is off: under mocks nothing may dial the stack's real host.
 */
export const DEPLOY_CONFIG = {
  // The stack files hold all-zero placeholders, which the program refuses.
  "homelab:cloudflareAccountId": "0123456789abcdef0123456789abcdef",
  "homelab:cloudflareZoneId": "fedcba9876543210fedcba9876543210",
  "homelab:sshHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LW5vdC1hLXJlYWwtaG9zdC1rZXk=",
  "homelab:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----",
  "homelab:detectDrift": "false",
};

/** The ci stack's secret values, which it takes from stack config. */
export const CI_VALUES: Readonly<Record<string, string>> = {
  "dashboard.hass-token": "hass",
  "home-assistant.openai-api-key": "openai",
  "home-assistant.anthropic-api-key": "anthropic",
  "mosquitto.username": "user",
  "mosquitto.password": "pass",
};

/** The GPU box's own login key in the multihost stack (homelab:sshPrivateKeyGpu). */
export const GPU_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ngpu\n-----END OPENSSH PRIVATE KEY-----";

/**
 * What the owner sets before `pulumi up`, per stack, and which of those keys
 * are secret: the ci stack takes its secrets from config; the multihost
 * stack pins each host's key and has a second login key.
 */
export function deployConfigFor(
  stack: string,
  values: Readonly<Record<string, string>> = CI_VALUES,
): [Record<string, string>, string[]] {
  if (stack === "ci")
    return [
      { ...DEPLOY_CONFIG, "homelab:secretValues": JSON.stringify(values) },
      ["homelab:sshPrivateKey", "homelab:secretValues"],
    ];
  if (stack === "multihost") {
    const raw = readStackFile(ROOT, stack) as Record<string, unknown>;
    const hosts = Object.fromEntries(
      Object.entries(raw["homelab:hosts"] as Record<string, Record<string, unknown>>).map(([n, h]) => [
        n,
        { ...h, sshHostKey: DEPLOY_CONFIG["homelab:sshHostKey"] },
      ]),
    );
    const { "homelab:sshHostKey": _single, ...rest } = DEPLOY_CONFIG;
    return [
      { ...rest, "homelab:hosts": JSON.stringify(hosts), "homelab:sshPrivateKeyGpu": GPU_KEY },
      ["homelab:sshPrivateKey", "homelab:sshPrivateKeyGpu"],
    ];
  }
  return [
    { ...DEPLOY_CONFIG, "homelab:generatedCredentialsItem": `homelab ${stack}: generated` },
    ["homelab:sshPrivateKey"],
  ];
}

/** A resource as the engine sees it: its URN and its parent's URN ("" for the top). */
export interface TreeNode {
  type: string;
  name: string;
  urn: string;
  parent: string;
  custom: boolean;
  /** URNs the resource was registered as depending on (dependsOn and inputs). */
  dependencies: string[];
  /** The `import` option: the id of an existing object the resource takes over; "" when it is created. */
  importId: string;
  /** The `ignoreChanges` option. */
  ignoreChanges: string[];
  /** The `aliases` option, as the request carries it to the engine. */
  aliases: AliasSpec[];
}

/**
 * One alias as the engine receives it: a whole URN, or a spec whose empty
 * fields the engine fills from the resource itself (its name, type, parent).
 */
export type AliasSpec = { urn: string } | { name: string; type: string; parentUrn: string; noParent: boolean };

export interface ProgramRun {
  registered: Registered[];
  /** Every resource in the order the program registered it, with its parent. */
  tree: TreeNode[];
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
export async function runProgram(
  stack: string,
  extra: Record<string, string | undefined> = {},
  secretKeys: string[] = [],
  account: FakeAccount = {},
): Promise<ProgramRun> {
  // A failed registration (an apply that throws, as the adoption check does)
  // reaches the language host as an unhandled rejection, which fails the
  // program; here it fails the run the same way, instead of the test worker.
  const failures: unknown[] = [];
  const onRejection = (err: unknown) => failures.push(err);
  const others = process.listeners("unhandledRejection");
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", onRejection);
  try {
    const run = await runMocked(stack, extra, secretKeys, account);
    // Rejections are reported after the microtasks that raised them.
    await new Promise((r) => setImmediate(r));
    if (failures.length > 0) throw failures[0];
    return run;
  } finally {
    process.removeListener("unhandledRejection", onRejection);
    for (const l of others) process.on("unhandledRejection", l as (...args: unknown[]) => void);
  }
}

async function runMocked(
  stack: string,
  extra: Record<string, string | undefined>,
  secretKeys: string[],
  account: FakeAccount,
): Promise<ProgramRun> {
  const registered: Registered[] = [];
  vi.resetModules();
  const runtime = await import("@pulumi/pulumi/runtime");
  await runtime.setMocks(strictMocks(registered, account), "homelab", stack, true);
  const tree = recordTree(runtime.getMonitor());
  runtime.setAllConfig(stackConfig(ROOT, stack, extra), secretKeys);
  const mod = await import("../../index");
  const exported =
    (await (mod as unknown as { default?: Promise<Record<string, unknown>> }).default) ??
    (await (mod as unknown as Promise<Record<string, unknown>>));
  const outputs: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  for (const [k, v] of Object.entries(exported ?? {})) {
    if (!pulumi.Output.isInstance(v) && !holdsOutput(v)) {
      outputs[k] = v;
      continue;
    }
    // An object of outputs (one per host) is exported as the engine would: lifted into one output.
    const out = pulumi.output(v) as pulumi.Output<unknown>;
    const internal = out as unknown as { isKnown: Promise<boolean>; isSecret: Promise<boolean> };
    // A preview leaves what a provider computes unknown (a command's stdout); apply never runs on it.
    outputs[k] = (await internal.isKnown)
      ? await new Promise((r) =>
          out.apply((x) => {
            r(x);
            return x;
          }),
        )
      : UNKNOWN;
    if (await internal.isSecret) secretOutputs.push(k);
  }
  await (runtime as unknown as { disconnect(): Promise<void> }).disconnect();
  return {
    registered,
    tree,
    outputs,
    secretOutputs,
    byType: (suffix) => registered.filter((r) => r.type.endsWith(suffix)),
  };
}

/** A stack output whose value a preview cannot know yet, as the engine shows `output<string>`. */
export const UNKNOWN = Symbol("unknown output");

function holdsOutput(value: unknown): boolean {
  if (pulumi.Output.isInstance(value)) return true;
  return value !== null && typeof value === "object" && Object.values(value).some(holdsOutput);
}

type RegisterCallback = (err: Error | null, resp?: { getUrn(): string }) => void;
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getImportid(): string;
  getIgnorechangesList(): string[];
  getAliasesList(): AliasProto[];
}
interface AliasProto {
  getUrn(): string;
  getSpec(): { getName(): string; getType(): string; getParenturn(): string; getNoparent(): boolean } | undefined;
}

function aliasOf(a: AliasProto): AliasSpec {
  const spec = a.getSpec();
  if (!spec) return { urn: a.getUrn() };
  return { name: spec.getName(), type: spec.getType(), parentUrn: spec.getParenturn(), noParent: spec.getNoparent() };
}

/**
 * The mocks' newResource is not told a resource's parent; the monitor's
 * registration request is. Record it from there, with the URN the monitor
 * answers, so tests can walk the tree the engine would store.
 */
function recordTree(monitor: unknown): TreeNode[] {
  const tree: TreeNode[] = [];
  const m = monitor as { registerResource(req: RegisterRequest, cb: RegisterCallback): unknown };
  const register = m.registerResource.bind(m);
  m.registerResource = (req, cb) => {
    // In the order the program asks, which does not depend on how fast the monitor answers.
    const node: TreeNode = {
      type: req.getType(),
      name: req.getName(),
      urn: "",
      parent: req.getParent(),
      custom: req.getCustom(),
      dependencies: req.getDependenciesList(),
      importId: req.getImportid(),
      ignoreChanges: req.getIgnorechangesList(),
      aliases: req.getAliasesList().map(aliasOf),
    };
    tree.push(node);
    return register(req, (err, resp) => {
      if (resp) node.urn = resp.getUrn();
      cb(err, resp);
    });
  };
  return tree;
}
