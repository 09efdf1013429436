import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { enabledServices, labHosts, type ResolvedService } from "../../components/catalog/resolve";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { CI_VALUES, ROOT, deployConfigFor, runProgram, type ProgramRun, type TreeNode } from "./run";
import { ancestors, renderTree } from "./tree";

vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("./fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "value-of-"),
);

/** Run index.ts for the stack; `onePassword` maps references to rotated values. */
async function run(
  stack: string,
  values?: Record<string, string>,
  onePassword: Record<string, string> = {},
): Promise<ProgramRun> {
  vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
  vi.stubEnv("FAKE_OP_VALUES", JSON.stringify(onePassword));
  try {
    const [extra, secretKeys] = deployConfigFor(stack, values);
    return await runProgram(stack, extra, secretKeys);
  } finally {
    vi.unstubAllEnvs();
  }
}

function labOf(stack: string) {
  return loadStack(stack, readStackFile(ROOT, stack)).lab;
}

/** The catalog service a per-service resource belongs to, read from what it declares. */
function ownerOf(
  node: TreeNode,
  registered: ProgramRun["registered"],
  services: ResolvedService[],
): string | undefined {
  const inputs = registered.find((r) => r.type === node.type && r.name === node.name)?.inputs ?? {};
  const byHost = (h: unknown) => services.find((s) => s.publicHostname === h)?.id;
  if (node.type.endsWith(":DnsRecord") || node.type.endsWith(":PagesDomain")) return byHost(inputs.name);
  if (node.type.endsWith(":ZeroTrustAccessApplication")) return byHost(inputs.domain);
  if (node.type.endsWith(":PagesProject")) return services.find((s) => s.entry.runsOn === "pages")?.id;
  if (
    node.type.endsWith(":ZeroTrustAccessServiceToken") ||
    (node.type.endsWith(":ZeroTrustAccessPolicy") && inputs.decision === "non_identity")
  ) {
    return services.find((s) => String(inputs.name).includes(` ${s.id} `))?.id;
  }
  if (node.type === "command:remote:Command") return /--service ([a-z0-9-]+)/.exec(String(inputs.create))?.[1];
  return undefined;
}

describe.each(["prod", "staging", "ci"])("the %s stack's resource tree", (stack) => {
  let first: ProgramRun;
  const lab = labOf(stack);
  const enabled = enabledServices(lab);

  beforeAll(async () => {
    first = await run(stack);
  });

  it("has one root, homelab:index:Homelab named after the stack, and every resource's parent chain reaches it", () => {
    const tops = first.tree.filter((n) => n.parent === "");
    expect(tops.map((n) => `${n.type} ${n.name}`)).toEqual([`homelab:index:Homelab ${stack}`]);
    for (const node of first.tree.slice(1)) {
      const chain = ancestors(first.tree, node);
      expect(chain.at(-1)?.urn, `${node.type} ${node.name}`).toBe(tops[0].urn);
    }
  });

  it("gives every enabled service a component named by its id, and no pending service one", () => {
    const components = first.tree.filter((n) => n.type === "homelab:service:Service");
    expect(components.map((n) => n.name)).toEqual(enabled.map((s) => s.id));
    for (const c of components) expect(c.parent, c.name).toBe(first.tree[0].urn);
    const pending = lab.services.filter((s) => s.status === "pending").map((s) => s.id);
    expect(pending.length > 0 || stack !== "prod", "prod declares pending services").toBe(true);
    for (const id of pending)
      expect(
        first.tree.some((n) => n.name === id || n.name.startsWith(`${id}-`)),
        id,
      ).toBe(false);
  });

  it("puts every per-service resource directly under its service's component", () => {
    const components = new Map(
      first.tree.filter((n) => n.type === "homelab:service:Service").map((n) => [n.urn, n.name]),
    );
    let owned = 0;
    for (const node of first.tree) {
      const owner = ownerOf(node, first.registered, enabled);
      if (!owner) continue;
      owned++;
      expect(components.get(node.parent), `${node.type} ${node.name} belongs to ${owner}`).toBe(owner);
    }
    const withSecrets = enabled.filter((s) => s.secrets.length > 0);
    expect(owned, "DNS records, Access applications and secrets commands were found").toBeGreaterThanOrEqual(
      withSecrets.length,
    );
  });

  it("gives each service with secrets one secrets command, which writes only that service's files", () => {
    const commands = first.tree.filter((n) => n.type === "command:remote:Command" && n.name.endsWith("-secrets"));
    // A service that runs on every host that needs it has one command per host, named for the host.
    expect(commands.map((n) => n.name).sort()).toEqual(
      enabled
        .filter((s) => s.secrets.length > 0)
        .map((s) => (s.entry.everyHostWith ? `${s.id}-${s.hostNames[0]}-secrets` : `${s.id}-secrets`))
        .sort(),
    );
    for (const node of commands) {
      const inputs = first.registered.find((r) => r.name === node.name)!.inputs;
      const service = first.tree.find((n) => n.urn === node.parent)!.name;
      expect(String(inputs.create), node.name).toContain(`--service ${service} `);
    }
  });

  it("keeps what the services share beside them: the host's preflight, push, rebuild and confirm under the host component", () => {
    const host = first.tree.find((n) => n.type === "homelab:host:NixosHost")!;
    expect(host.parent).toBe(first.tree[0].urn);
    const hostCommands = first.tree.filter((n) => n.parent === host.urn).map((n) => n.name);
    // Named after the stack and the host, as a stack of several hosts names each.
    expect(host.name).toBe(`${stack}-host-${labHosts(lab)[0].name}`);
    expect(hostCommands).toEqual([
      `${host.name}-preflight`,
      `${host.name}-push`,
      `${host.name}-rebuild`,
      `${host.name}-confirm`,
    ]);
  });

  it("registers the same (type, name, parent) list, in the same order, on a second run", async () => {
    const second = await run(stack);
    const shape = (r: ProgramRun) => JSON.stringify(r.tree.map((n) => [n.type, n.name, n.parent]));
    expect(shape(second)).toBe(shape(first));
  });
});

describe("the edge stacks share the tunnel, its ingress and the allow policy", () => {
  it.each(["prod", "staging"])(
    "%s: the tunnel, the ingress config and the reusable allow policy sit under the root",
    async (stack) => {
      const r = await run(stack);
      const root = r.tree[0].urn;
      const under = (type: string) =>
        r.tree.filter((n) => n.type.endsWith(type) && n.parent === root).map((n) => n.name);
      expect(under("homelab:cloudflare:Tunnel")).toEqual([`${stack}-tunnel`]);
      expect(under(":ZeroTrustTunnelCloudflaredConfig")).toEqual([`${stack}-ingress`]);
      expect(under(":ZeroTrustAccessPolicy")).toEqual([`${stack}-owners`]);
      expect(under("pulumi:providers:cloudflare")).toEqual([`${stack}-cloudflare`]);
    },
  );
});

describe("rotating one service's secret", () => {
  const commandInputs = (r: ProgramRun) =>
    new Map(r.byType("command:remote:Command").map((c) => [c.name, JSON.stringify(c.inputs)]));
  const changed = (a: ProgramRun, b: ProgramRun) =>
    [...commandInputs(a)].filter(([name, inputs]) => commandInputs(b).get(name) !== inputs).map(([name]) => name);

  it("in 1Password (prod): only mosquitto's secrets command changes inputs, and the preflight that runs before it", async () => {
    const before = await run("prod");
    const after = await run("prod", undefined, { "op://Homelab/Mosquito/password": "rotated in 1Password" });
    expect(changed(before, after)).toEqual(["prod-host-nixos-preflight", "mosquitto-secrets"]);
    const nonCommands = (r: ProgramRun) =>
      JSON.stringify(r.registered.filter((x) => x.type !== "command:remote:Command").map((x) => [x.name, x.inputs]));
    expect(nonCommands(after), "no Cloudflare resource changes").toBe(nonCommands(before));
  });

  it("in stack config (ci): only mosquitto's secrets command changes inputs; push and rebuild do not", async () => {
    const before = await run("ci");
    const after = await run("ci", { ...CI_VALUES, "mosquitto.password": "rotated" });
    expect(changed(before, after)).toEqual(["ci-host-nixos-ci-preflight", "mosquitto-secrets"]);
  });
});

/** The operator page that shows the tree `pulumi preview` prints. */
const TREE_PAGE = join(ROOT, "docs", "src", "content", "docs", "operator", "deploying.md");

describe("the operator manual's tree", () => {
  it("is the prod stack's tree as the program declares it", async () => {
    const tree = renderTree((await run("prod")).tree);
    const readme = readFileSync(TREE_PAGE, "utf8");
    const begin = "<!-- tree:prod -->\n```text\n";
    const end = "```\n<!-- /tree:prod -->";
    const start = readme.indexOf(begin);
    const stop = readme.indexOf(end, start);
    expect(start, "deploying.md has the <!-- tree:prod --> block").toBeGreaterThan(-1);
    const current = readme.slice(start + begin.length, stop);
    if (process.env.UPDATE_DOCS_TREE && current !== tree) {
      writeFileSync(TREE_PAGE, readme.slice(0, start + begin.length) + tree + readme.slice(stop));
      return;
    }
    expect(current, "deploying.md's tree is stale: run npm run docs:tree").toBe(tree);
  });
});
