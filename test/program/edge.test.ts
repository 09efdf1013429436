import { beforeAll, describe, expect, it, vi } from "vitest";
import { renderPlan } from "../../components/render/plan";
import { loadStack } from "../../components/config/load";
import { readStackFile } from "../../components/config/file";
import { DEPLOY_CONFIG, ROOT, runProgram, type ProgramRun } from "./run";

vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("./fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "value-of-"),
);

const TOKEN = { OP_SERVICE_ACCOUNT_TOKEN: "ops_fake" };

function planOf(stack: string) {
  return renderPlan(loadStack(stack, readStackFile(ROOT, stack)).lab);
}

describe.each(["prod", "staging"])("the %s stack under mocks", (stack) => {
  let run: ProgramRun;
  const plan = planOf(stack);
  const routed = plan.services.filter((s) => s.publicHostname).map((s) => s.publicHostname as string);

  beforeAll(async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", TOKEN.OP_SERVICE_ACCOUNT_TOKEN);
    run = await runProgram(stack, DEPLOY_CONFIG, ["homelab:sshPrivateKey"]);
  });

  it("gives every routed service a DNS record, and nothing else gets one", () => {
    expect(
      run
        .byType(":DnsRecord")
        .map((r) => r.inputs.name)
        .sort(),
    ).toEqual([...routed].sort());
  });

  it("gives every Access-protected route an Access application, and nothing else gets one", () => {
    const protectedRoutes = plan.services.filter((s) => s.protection === "access").map((s) => s.publicHostname);
    expect(
      run
        .byType(":ZeroTrustAccessApplication")
        .map((r) => r.inputs.domain)
        .sort(),
    ).toEqual([...protectedRoutes].sort());
  });

  it("makes every DNS record a proxied CNAME with automatic TTL and a comment naming the stack", () => {
    for (const r of run.byType(":DnsRecord")) {
      expect(r.inputs, String(r.inputs.name)).toMatchObject({ type: "CNAME", proxied: true, ttl: 1 });
      expect(String(r.inputs.comment), String(r.inputs.name)).toContain(`stack ${stack}`);
    }
  });

  it("points tunnel routes at the tunnel and the docs site at the Pages project's own subdomain", () => {
    for (const r of run.byType(":DnsRecord")) {
      const expected = String(r.inputs.name).startsWith("docs-")
        ? `homelab-docs-${stack}-4xq.pages.dev`
        : "tunnel-0001.cfargotunnel.com";
      expect(r.inputs.content, String(r.inputs.name)).toBe(expected);
    }
  });

  it("uses first-level names under the domain, which Universal SSL covers", () => {
    for (const r of run.byType(":DnsRecord")) expect(String(r.inputs.name)).toMatch(/^[a-z0-9-]+\.javiersc\.com$/);
  });

  it("orders the ingress as the plan does, with the catch-all last", () => {
    const [config] = run.byType(":ZeroTrustTunnelCloudflaredConfig");
    const ingresses = (config.inputs.config as { ingresses: { hostname?: string; service: string }[] }).ingresses;
    expect(ingresses.map((i) => ({ hostname: i.hostname, service: i.service }))).toEqual(
      plan.tunnel!.ingress.map((i) => ({ hostname: i.hostname, service: i.service })),
    );
    expect(ingresses.at(-1)).toEqual({ service: "http_status:404" });
  });

  it("passes each Access app's audience tag into its ingress rule", () => {
    const [config] = run.byType(":ZeroTrustTunnelCloudflaredConfig");
    const ingresses = (
      config.inputs.config as {
        ingresses: {
          hostname?: string;
          originRequest?: { access?: { audTags: string[]; required: boolean; teamName: string } };
        }[];
      }
    ).ingresses;
    for (const rule of ingresses.filter((i) => i.hostname)) {
      const app = run.byType(":ZeroTrustAccessApplication").find((a) => a.inputs.domain === rule.hostname);
      expect(rule.originRequest?.access, rule.hostname).toEqual({
        required: true,
        teamName: "javiersc",
        audTags: [`aud-${app!.name}`],
      });
    }
  });

  it("gives the SSH MCP endpoint no rule, no record and no application", () => {
    const edge = run.registered.filter((r) => r.type.startsWith("cloudflare:"));
    expect(JSON.stringify(edge.map((r) => r.inputs))).not.toMatch(/ssh-mcp|19000/);
  });

  it("creates a remotely managed tunnel with a 32-byte random secret", () => {
    const [tunnel] = run.byType(":ZeroTrustTunnelCloudflared");
    expect(tunnel.inputs).toMatchObject({ configSrc: "cloudflare", name: `homelab-${stack}` });
    expect(tunnel.secretInputs).toContain("tunnelSecret");
    const [bytes] = run.byType(":RandomBytes");
    expect(bytes.inputs.length).toBe(32);
  });

  it("lets Access policies start at precedence 1 with the reusable email policy", () => {
    for (const app of run.byType(":ZeroTrustAccessApplication")) {
      const policies = app.inputs.policies as { precedence: number }[];
      expect(
        policies.map((p) => p.precedence),
        String(app.inputs.domain),
      ).toEqual(policies.map((_, i) => i + 1));
    }
    const allow = run.byType(":ZeroTrustAccessPolicy").filter((p) => p.inputs.decision === "allow");
    expect(allow).toHaveLength(1);
    expect(allow[0].inputs.includes).toEqual([{ email: { email: "owner@javiersc.com" } }]);
  });

  it("exports the API clients' Access service tokens only as a secret output", () => {
    const tokens = run.byType(":ZeroTrustAccessServiceToken").map((t) => t.name);
    // Staging runs neither LiteLLM nor Ollama.
    const expected = stack === "prod" ? ["litellm-token", "ollama-token"] : [];
    expect(tokens.sort()).toEqual(expected);
    expect(run.secretOutputs).toContain("accessServiceTokens");
  });

  it("publishes the docs site on Pages with its custom domain", () => {
    expect(run.byType(":PagesDomain").map((d) => d.inputs.name)).toEqual(routed.filter((h) => h.startsWith("docs-")));
  });

  it("puts every hostname that serves the docs behind Access: the route, the project's own and its previews", () => {
    const subdomain = `homelab-docs-${stack}-4xq.pages.dev`;
    const covered = run
      .byType(":ZeroTrustAccessApplication")
      .flatMap((a) => (a.inputs.destinations as { uri: string }[]).map((d) => d.uri));
    const docsRoute = routed.find((h) => h.startsWith("docs-"))!;
    for (const host of [docsRoute, subdomain, `*.${subdomain}`]) expect(covered, host).toContain(host);
  });

  it("gives every DNS record a target and every protected ingress rule its audience", () => {
    for (const r of run.byType(":DnsRecord"))
      expect(String(r.inputs.content ?? ""), String(r.inputs.name)).not.toBe("");
    const [config] = run.byType(":ZeroTrustTunnelCloudflaredConfig");
    const ingresses = (
      config.inputs.config as { ingresses: { hostname?: string; originRequest?: { access?: { audTags: string[] } } }[] }
    ).ingresses;
    for (const rule of ingresses.filter((i) => i.hostname))
      expect(rule.originRequest?.access?.audTags?.[0], rule.hostname).toMatch(/^aud-/);
  });

  it("checks Access JWTs against the team of the account's Zero Trust organisation", () => {
    const [config] = run.byType(":ZeroTrustTunnelCloudflaredConfig");
    const teams = (
      config.inputs.config as { ingresses: { originRequest?: { access?: { teamName: string } } }[] }
    ).ingresses.flatMap((i) => i.originRequest?.access?.teamName ?? []);
    expect(new Set(teams)).toEqual(new Set(["javiersc"]));
  });

  it("answers API clients without valid service-token headers with a 401, and only on apps that have a token policy", () => {
    for (const app of run.byType(":ZeroTrustAccessApplication")) {
      const hasToken = (app.inputs.policies as unknown[]).length === 2;
      expect(app.inputs.serviceAuth401Redirect === true, String(app.inputs.domain)).toBe(hasToken);
    }
  });

  it("exports each service token's expiry next to its service", () => {
    const services = run.outputs.services as Record<string, { apiClientKeyExpiresAt?: string }>;
    for (const t of run.byType(":ZeroTrustAccessServiceToken")) {
      const id = t.name.replace(/-token$/, "");
      expect(services[id].apiClientKeyExpiresAt, id).toBe("2027-11-30T00:00:00Z");
      expect(t.inputs).toMatchObject({ duration: "8760h" });
      // Version 1 is the provider's default; declaring it without the previous secret's expiry fails its validation.
      expect(t.inputs.clientSecretVersion, t.name).toBeUndefined();
      expect(t.inputs.previousClientSecretExpiresAt, t.name).toBeUndefined();
    }
  });
});

describe("rotating the API clients' keys (prod)", () => {
  it("a new key version gives new token secrets, an overlap for the old ones, and writes the new ones back to 1Password", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", TOKEN.OP_SERVICE_ACCOUNT_TOKEN);
    const extra = { ...DEPLOY_CONFIG, "homelab:generatedCredentialsItem": "homelab prod: generated" };
    const before = await runProgram("prod", extra, ["homelab:sshPrivateKey"]);
    const after = await runProgram(
      "prod",
      { ...extra, "homelab:apiClientKeyVersion": "2", "homelab:apiClientKeyOverlapUntil": "2026-12-07T00:00:00Z" },
      ["homelab:sshPrivateKey"],
    );
    for (const t of after.byType(":ZeroTrustAccessServiceToken")) {
      expect(t.inputs, t.name).toMatchObject({
        clientSecretVersion: 2,
        previousClientSecretExpiresAt: "2026-12-07T00:00:00Z",
      });
    }
    const tokens = (r: typeof before) => r.outputs.accessServiceTokens as Record<string, { clientSecret: string }>;
    expect(tokens(after).litellm.clientSecret).not.toBe(tokens(before).litellm.clientSecret);
    const field = (r: typeof before) => JSON.stringify(r.byType("pulumi-nodejs:dynamic:Resource")[0].inputs.fields);
    expect(field(after)).not.toBe(field(before));
  });
});

describe("prod and staging side by side", () => {
  it("share no hostname, tunnel name or Pages project", () => {
    const prod = planOf("prod");
    const staging = planOf("staging");
    const prodNames = new Set(prod.dns.map((d) => d.name));
    expect(staging.dns.filter((d) => prodNames.has(d.name))).toEqual([]);
    expect(staging.tunnel!.name).not.toBe(prod.tunnel!.name);
  });
});
