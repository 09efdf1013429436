import { beforeAll, describe, expect, it, vi } from "vitest";
import { declaredEdge, EDGE_TYPES, edgeNames } from "../../components/adopt/declared";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { DEPLOY_CONFIG, ROOT, runProgram, type ProgramRun } from "../program/run";
import { OWNER_ACCOUNT, OWNER_TUNNEL_ID, OWNER_ZONE } from "../support/owner-lab";

vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("../program/fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "value-of-"),
);

const RECORD = (n: number) => n.toString(16).padStart(32, "0");
const TUNNEL_IMPORT = `${OWNER_ACCOUNT}/${OWNER_TUNNEL_ID}`;

/** What `npm run adopt` writes for the owner's lab: the tunnel, its config, the routes and the docs site. */
const ADOPT: Record<string, string> = {
  "prod-tunnel-cloudflared": TUNNEL_IMPORT,
  "prod-ingress": TUNNEL_IMPORT,
  "jellyfin-dns": `${OWNER_ZONE}/${RECORD(1)}`,
  "portal-dns": `${OWNER_ZONE}/${RECORD(2)}`,
  "docs-pages": `${OWNER_ACCOUNT}/javiersc-homelab-docs`,
  "docs-pages-domain": `${OWNER_ACCOUNT}/javiersc-homelab-docs/docs-home.javiersc.com`,
  "docs-dns": `${OWNER_ZONE}/${RECORD(3)}`,
  "jellyfin-access": `accounts/${OWNER_ACCOUNT}/1b4e28ba-2fa1-41d2-883f-0016d3cca427`,
};

const CONFIG = {
  ...DEPLOY_CONFIG,
  "homelab:cloudflareAccountId": OWNER_ACCOUNT,
  "homelab:cloudflareZoneId": OWNER_ZONE,
};

describe("the prod stack with homelab:adopt (strict mocks)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    run = await runProgram(
      "prod",
      { ...CONFIG, "homelab:adopt": JSON.stringify(ADOPT), "homelab:pagesProject": "javiersc-homelab-docs" },
      ["homelab:sshPrivateKey"],
      {
        // The adopted records as the zone lists them: the hand-made ones carry no comment of the stack.
        dnsRecords: [
          {
            id: RECORD(1),
            name: "jellyfin-home.javiersc.com",
            type: "CNAME",
            content: `${OWNER_TUNNEL_ID}.cfargotunnel.com`,
          },
          {
            id: RECORD(2),
            name: "homepage-home.javiersc.com",
            type: "CNAME",
            content: `${OWNER_TUNNEL_ID}.cfargotunnel.com`,
          },
          { id: RECORD(3), name: "docs-home.javiersc.com", type: "CNAME", content: "javiersc-homelab-docs.pages.dev" },
        ],
      },
    );
  });

  it("registers each adopted resource with its import id, and every other one without", () => {
    const edgeNodes = run.tree.filter((n) => n.type.startsWith("cloudflare:index/"));
    for (const n of edgeNodes) expect(n.importId, n.name).toBe(ADOPT[n.name] ?? "");
    expect(
      edgeNodes
        .filter((n) => n.importId !== "")
        .map((n) => n.name)
        .sort(),
    ).toEqual(Object.keys(ADOPT).sort());
  });

  it("declares one tunnel, the adopted one, with no secret of its own and no random bytes", () => {
    const tunnels = run.byType(":ZeroTrustTunnelCloudflared");
    expect(tunnels).toHaveLength(1);
    expect(tunnels[0].inputs.tunnelSecret).toBeUndefined();
    expect(run.byType(":RandomBytes")).toEqual([]);
  });

  it("keeps the adopted tunnel's config source as Cloudflare reports it, so a locally managed tunnel is not replaced", () => {
    const node = run.tree.find((n) => n.name === "prod-tunnel-cloudflared")!;
    expect(node.ignoreChanges).toEqual(["configSrc"]);
  });

  it("writes the ingress to the adopted tunnel by id, and imports the tunnel only after it", () => {
    const [ingress] = run.byType(":ZeroTrustTunnelCloudflaredConfig");
    expect(ingress.inputs.tunnelId).toBe(OWNER_TUNNEL_ID);
    const ingressUrn = run.tree.find((n) => n.name === "prod-ingress")!.urn;
    expect(run.tree.find((n) => n.name === "prod-tunnel-cloudflared")!.dependencies).toContain(ingressUrn);
  });

  it("points every route at the adopted tunnel, and the docs route at the adopted Pages project", () => {
    for (const r of run.byType(":DnsRecord")) {
      const expected =
        r.inputs.name === "docs-home.javiersc.com"
          ? "javiersc-homelab-docs-4xq.pages.dev"
          : "tunnel-0001.cfargotunnel.com";
      expect(r.inputs.content, String(r.inputs.name)).toBe(expected);
    }
  });
});

describe("the names homelab:adopt takes", () => {
  it("are exactly the Cloudflare resources the prod and staging programs register, with the same types", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    for (const stack of ["prod", "staging"]) {
      const run = await runProgram(stack, DEPLOY_CONFIG, ["homelab:sshPrivateKey"]);
      const registered = run.tree
        .filter((n) => n.custom && n.type.startsWith("cloudflare:index/"))
        .map((n) => `${n.name} ${n.type}`)
        .sort();
      const { lab } = loadStack(stack, readStackFile(ROOT, stack));
      expect(
        declaredEdge(lab)
          .map((r) => `${r.name} ${EDGE_TYPES[r.kind]}`)
          .sort(),
        stack,
      ).toEqual(registered);
    }
  });
});

describe("a route whose hostname already has a record", () => {
  const jellyfin = {
    name: "jellyfin-home.javiersc.com",
    type: "CNAME",
    content: `${OWNER_TUNNEL_ID}.cfargotunnel.com`,
  };

  it("fails the program when homelab:adopt does not name it, naming the record and npm run adopt", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    const failed = runProgram("prod", CONFIG, ["homelab:sshPrivateKey"], {
      dnsRecords: [{ id: RECORD(9), ...jellyfin }],
    });
    await expect(failed).rejects.toThrow(
      /jellyfin-home\.javiersc\.com: the zone already has CNAME jellyfin-home\.javiersc\.com → 6f1c2b9e-[^ ]+ \(id 0+9\)/,
    );
    await expect(failed).rejects.toThrow(/npm run adopt -- --stack prod/);
    await expect(failed).rejects.toThrow(
      /^1 route of stack prod already has a record in Cloudflare:\n {2}- jellyfin-home/,
    );
  });

  it("passes when the record carries this stack's comment: an earlier up made it", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    const run = await runProgram("prod", CONFIG, ["homelab:sshPrivateKey"], {
      dnsRecords: [{ id: RECORD(9), ...jellyfin, comment: "homelab stack prod; managed by Pulumi" }],
    });
    expect(run.byType(":DnsRecord").some((r) => r.inputs.name === jellyfin.name)).toBe(true);
  });

  it("passes when homelab:adopt names it", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    const run = await runProgram(
      "prod",
      { ...CONFIG, "homelab:adopt": JSON.stringify({ "jellyfin-dns": `${OWNER_ZONE}/${RECORD(9)}` }) },
      ["homelab:sshPrivateKey"],
      {
        dnsRecords: [{ id: RECORD(9), ...jellyfin }],
      },
    );
    expect(run.tree.find((n) => n.name === "jellyfin-dns")!.importId).toBe(`${OWNER_ZONE}/${RECORD(9)}`);
  });

  it("fails when homelab:adopt names another record than the one the zone has", async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    const failed = runProgram(
      "prod",
      { ...CONFIG, "homelab:adopt": JSON.stringify({ "jellyfin-dns": `${OWNER_ZONE}/${RECORD(8)}` }) },
      ["homelab:sshPrivateKey"],
      {
        dnsRecords: [{ id: RECORD(9), ...jellyfin }],
      },
    );
    await expect(failed).rejects.toThrow(/homelab:adopt names another record/);
  });
});

describe("homelab:adopt is checked before anything is declared", () => {
  const load = (adopt: Record<string, string>) =>
    loadStack("prod", { ...readStackFile(ROOT, "prod"), ...CONFIG, "homelab:adopt": adopt }, undefined, "program", {
      engineSecrets: ["homelab:sshPrivateKey"],
    });

  it("refuses a name the stack does not declare", () => {
    expect(() => load({ "jelyfin-dns": `${OWNER_ZONE}/${RECORD(1)}` })).toThrow(
      /homelab:adopt\.jelyfin-dns.*declares no Cloudflare resource named "jelyfin-dns"/,
    );
  });

  it("refuses a DNS record of another zone", () => {
    expect(() => load({ "jellyfin-dns": `${RECORD(7)}/${RECORD(1)}` })).toThrow(
      /names zone "0+7", not this stack's fedcba98/,
    );
  });

  it("refuses an id of the wrong form, saying the form", () => {
    expect(() => load({ "jellyfin-access": `${OWNER_ACCOUNT}/1b4e28ba-2fa1-41d2-883f-0016d3cca427` })).toThrow(
      /takes accounts\/<account id>\/<application uuid>/,
    );
  });

  it("refuses a tunnel configuration adopted without its tunnel", () => {
    expect(() => load({ "prod-ingress": TUNNEL_IMPORT })).toThrow(
      /adopts a tunnel's configuration without adopting the tunnel/,
    );
  });

  it("accepts the adopt command's own output", () => {
    expect(load(ADOPT).lab.config.adopt).toEqual(ADOPT);
  });

  it("names each resource as the program does", () => {
    expect(edgeNames.tunnel("prod")).toBe("prod-tunnel-cloudflared");
    expect(edgeNames.dnsRecord("jellyfin")).toBe("jellyfin-dns");
  });
});

describe("a config mistake under the Pulumi runtime", () => {
  it("reaches the runtime as a RunError holding the formatted problems, which the runtime prints as text with no object dump", async () => {
    const { RunError } = await import("@pulumi/pulumi");
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    const failed = await runProgram(
      "prod",
      { ...CONFIG, "homelab:adopt": JSON.stringify({ "jelyfin-dns": `${OWNER_ZONE}/${RECORD(1)}` }) },
      ["homelab:sshPrivateKey"],
    ).catch((e: unknown) => e);
    expect(RunError.isInstance(failed)).toBe(true);
    expect((failed as Error).message).toBe(
      'stack "prod" has 1 problem:\n  - homelab:adopt.jelyfin-dns: the stack declares no Cloudflare resource named "jelyfin-dns". ' +
        "Fix: run npm run adopt -- --stack prod to rewrite homelab:adopt, or remove the entry from Pulumi.prod.yaml.",
    );
  });
});

describe("an adopted Access service token (strict mocks)", () => {
  // Cloudflare shows a token's client secret only when it issues it: an import reads none.
  const adopt = { "litellm-token": `accounts/${OWNER_ACCOUNT}/5e0b8a8c-7a52-4c39-9a4b-3f1d2e6b9c10` };
  const run = (version: number) => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    const rotation: Record<string, string> =
      version > 1
        ? { "homelab:apiClientKeyVersion": String(version), "homelab:apiClientKeyOverlapUntil": "2026-12-31T00:00:00Z" }
        : {};
    return runProgram(
      "prod",
      {
        ...CONFIG,
        ...rotation,
        "homelab:generatedCredentialsItem": "homelab prod: generated",
        "homelab:adopt": JSON.stringify(adopt),
      },
      ["homelab:sshPrivateKey"],
      { dnsRecords: [] },
    );
  };
  // The fields reach the engine as a secret: { <signature>, value }.
  const fields = (r: ProgramRun) =>
    Object.keys((r.byType("pulumi-nodejs:dynamic:Resource")[0].inputs.fields as { value: object }).value);

  it("publishes no client secret for it until a rotation issues one, in the stack output or in 1Password", async () => {
    const before = await run(1);
    expect(Object.keys(before.outputs.accessServiceTokens as object)).not.toContain("litellm");
    expect(Object.keys(before.outputs.accessServiceTokens as object)).toContain("ollama");
    expect(fields(before)).not.toContain("litellm-access-client-secret");
    expect(fields(before)).toContain("ollama-access-client-secret");

    const rotated = await run(2);
    expect(Object.keys(rotated.outputs.accessServiceTokens as object)).toContain("litellm");
    expect(fields(rotated)).toContain("litellm-access-client-secret");
  });
});
