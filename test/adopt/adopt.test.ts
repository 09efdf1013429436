import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runAdopt } from "../../components/adopt/cli";
import { ROOT } from "../program/run";
import { dnsRecord, startCloudflareApi, type CloudflareApi } from "../support/cloudflare-api";
import {
  OWNER_ACCOUNT,
  OWNER_DOCS_HOSTNAME,
  OWNER_PAGES_PROJECT,
  OWNER_TUNNEL_ID,
  OWNER_TUNNEL_ROUTES,
  OWNER_ZONE,
  ownerLab,
} from "../support/owner-lab";

/** A copy of the repository's prod stack file with the owner's real Cloudflare ids, as they set them. */
function stackRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-adopt-"));
  cpSync(join(ROOT, "Pulumi.prod.yaml"), join(dir, "Pulumi.prod.yaml"));
  const file = join(dir, "Pulumi.prod.yaml");
  const text = readFileSync(file, "utf8")
    .replace(/homelab:cloudflareAccountId: "0{32}"/, `homelab:cloudflareAccountId: "${OWNER_ACCOUNT}"`)
    .replace(/homelab:cloudflareZoneId: "0{32}"/, `homelab:cloudflareZoneId: "${OWNER_ZONE}"`);
  writeFileSync(file, text);
  return dir;
}

interface Ran {
  code: number;
  out: string;
  err: string;
}

describe("npm run adopt against the owner's Cloudflare account (local API stand-in, official SDK)", () => {
  let api: CloudflareApi;
  let root: string;
  let file: string;
  const adopt = async (argv: string[] = ["--stack", "prod"], env: NodeJS.ProcessEnv = {}): Promise<Ran> => {
    let out = "";
    let err = "";
    const code = await runAdopt(argv, {
      root,
      env: { CLOUDFLARE_API_TOKEN: api.token, CLOUDFLARE_BASE_URL: api.url, ...env },
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
    });
    return { code, out, err };
  };
  const written = () => (parse(readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config;

  beforeEach(async () => {
    api = await startCloudflareApi(ownerLab());
    root = stackRoot();
    file = join(root, "Pulumi.prod.yaml");
  });
  afterEach(async () => {
    await api.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("writes homelab:adopt: the tunnel, its config, every route's record and the docs site, by the ids Pulumi imports them with", async () => {
    const ran = await adopt();
    expect(ran.err).toBe("");
    expect(ran.code).toBe(0);
    const map = written()["homelab:adopt"] as Record<string, string>;
    expect(map["prod-tunnel-cloudflared"]).toBe(`${OWNER_ACCOUNT}/${OWNER_TUNNEL_ID}`);
    expect(map["prod-ingress"]).toBe(`${OWNER_ACCOUNT}/${OWNER_TUNNEL_ID}`);
    const jellyfin = api.state.dnsRecords.find((r) => r.name === "jellyfin-home.javiersc.com")!;
    expect(map["jellyfin-dns"]).toBe(`${OWNER_ZONE}/${String(jellyfin.id)}`);
    expect(map["docs-pages"]).toBe(`${OWNER_ACCOUNT}/${OWNER_PAGES_PROJECT}`);
    expect(map["docs-pages-domain"]).toBe(`${OWNER_ACCOUNT}/${OWNER_PAGES_PROJECT}/${OWNER_DOCS_HOSTNAME}`);
    // Fourteen tunnel routes and the docs route: all fifteen of the owner's records.
    expect(Object.keys(map).filter((k) => k.endsWith("-dns"))).toHaveLength(OWNER_TUNNEL_ROUTES.length + 1);
  });

  it("pins homelab:pagesProject to the live project's name, since another name would replace the project", async () => {
    await adopt();
    expect(written()["homelab:pagesProject"]).toBe(OWNER_PAGES_PROJECT);
  });

  it("keeps the stack file's comments and other keys", async () => {
    const before = readFileSync(file, "utf8");
    await adopt();
    const after = readFileSync(file, "utf8");
    for (const line of before.split("\n").filter((l) => l.trim().startsWith("#"))) expect(after).toContain(line);
    expect(after).toContain("homelab:lanAddress: 192.0.2.10");
    expect(after).toContain("# Cloudflare objects made by hand that this stack took over (npm run adopt):");
  });

  it("gives byte-identical output on a second run, and says the file is unchanged", async () => {
    await adopt();
    const bytes = readFileSync(file);
    const second = await adopt();
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expect(second.out).toContain("unchanged: homelab:adopt");
    expect((await adopt()).out).toBe(second.out);
  });

  it("reads Cloudflare and changes nothing there", async () => {
    await adopt();
    expect(api.requests.length).toBeGreaterThan(0);
    expect(api.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("prints adopted rows with ids, rows to be created and unmanaged objects", async () => {
    const { out } = await adopt();
    expect(out).toMatch(
      new RegExp(
        `adopted +jellyfin-dns +CNAME jellyfin-home\\.javiersc\\.com → ${OWNER_TUNNEL_ID}\\.cfargotunnel\\.com +${OWNER_ZONE}/[0-9a-f]{32}`,
      ),
    );
    expect(out).toMatch(
      /adopted +prod-tunnel-cloudflared +tunnel homelab .*renamed to homelab-prod; locally managed: becomes remotely managed/,
    );
    expect(out).toMatch(/create +jellyfin-access +jellyfin-home\.javiersc\.com/);
    expect(out).toMatch(/create +prod-owners +homelab prod: owners/);
    for (const unmanaged of [
      "A javiersc.com → 203.0.113.7",
      "CNAME www.javiersc.com → javiersc.com",
      "MX javiersc.com → mail.example.net",
    ]) {
      expect(out).toMatch(new RegExp(`unmanaged +- +${unmanaged.replace(/[.]/g, "\\.")}`));
    }
    expect(out).toMatch(/19 adopted, \d+ to be created, 0 conflicting, 4 unmanaged \(listed, never touched\)/);
  });

  it("repairs a homelab:adopt that names a resource the stack no longer declares, which stops every preview", async () => {
    writeFileSync(
      file,
      `${readFileSync(file, "utf8")}  homelab:adopt:\n    removed-service-dns: ${OWNER_ZONE}/${"f".repeat(32)}\n`,
    );
    const ran = await adopt();
    expect(ran.err).toBe("");
    expect(ran.code).toBe(0);
    const map = written()["homelab:adopt"] as Record<string, string>;
    expect(map["removed-service-dns"]).toBeUndefined();
    expect(map["prod-tunnel-cloudflared"]).toBe(`${OWNER_ACCOUNT}/${OWNER_TUNNEL_ID}`);
  });

  it("reports a hostname whose record has another type or target as conflicting, and leaves it out of the map", async () => {
    const record = api.state.dnsRecords.find((r) => r.name === "sonarr-home.javiersc.com")!;
    Object.assign(record, { type: "A", content: "198.51.100.4" });
    const { out, err, code } = await adopt();
    expect(code, "the edge is not ready for pulumi up").toBe(1);
    expect(err).toContain("1 conflicting row: resolve each before pulumi up");
    expect(out).toMatch(
      /conflict +sonarr-dns +A sonarr-home\.javiersc\.com → 198\.51\.100\.4 +[0-9a-f]{32} +the stack wants CNAME → 6f1c2b9e/,
    );
    expect((written()["homelab:adopt"] as Record<string, string>)["sonarr-dns"]).toBeUndefined();
  });

  it("adopts the Access applications and reusable policy the owner made by hand when they match by domain and name", async () => {
    const app = {
      id: "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
      name: "Jellyfin",
      domain: "jellyfin-home.javiersc.com",
      type: "self_hosted",
      aud: "a".repeat(64),
      policies: [],
    };
    api.state.accessApplications.push(app);
    api.state.accessPolicies.push({
      id: "2c5f39cb-3fb2-42e3-994f-1127e4ddb538",
      name: "homelab prod: owners",
      decision: "allow",
      include: [],
      reusable: true,
    });
    api.state.accessPolicies.push({
      id: "3d6040dc-40c3-43f4-aa50-2238f5eec649",
      name: "Owner email (hand-made)",
      decision: "allow",
      include: [],
      reusable: true,
    });
    const { out } = await adopt();
    const map = written()["homelab:adopt"] as Record<string, string>;
    expect(map["jellyfin-access"]).toBe(`accounts/${OWNER_ACCOUNT}/${app.id}`);
    expect(map["prod-owners"]).toBe(`${OWNER_ACCOUNT}/2c5f39cb-3fb2-42e3-994f-1127e4ddb538`);
    expect(out).toMatch(/unmanaged +- +Access policy Owner email \(hand-made\)/);
  });

  describe("refuses, leaving the stack file byte for byte as it was", () => {
    const untouched = async (
      setup: () => void | Promise<void>,
      argv?: string[],
      env?: NodeJS.ProcessEnv,
    ): Promise<Ran> => {
      await setup();
      const before = readFileSync(file);
      const ran = await adopt(argv, env);
      expect(ran.code).toBe(1);
      expect(ran.err).toMatch(/Pulumi\.prod\.yaml was not changed|no stack file was changed/);
      expect(readFileSync(file).equals(before)).toBe(true);
      return ran;
    };

    it("an ambiguous match: two Access applications for one route, both named", async () => {
      for (const id of ["5e7151ed-51f4-44a5-8b61-3349060ffd5a", "6f8262fe-62a5-45b6-9c72-445a171a0e6b"]) {
        api.state.accessApplications.push({
          id,
          name: `Jellyfin ${id.slice(0, 4)}`,
          domain: "jellyfin-home.javiersc.com",
          type: "self_hosted",
        });
      }
      const { err } = await untouched(() => undefined);
      expect(err).toMatch(
        /jellyfin-access matches 2 objects: Access application Jellyfin 5e71 \(5e7151ed-[^)]+\); Access application Jellyfin 6f82/,
      );
    });

    it("an ambiguous tunnel: one named as the stack's, another carrying the routes", async () => {
      api.state.tunnels.push({
        ...api.state.tunnels[0],
        id: "7a9373af-73b6-46c7-8d83-556b282b1f7c",
        name: "homelab-prod",
        config_src: "cloudflare",
      });
      const { err } = await untouched(() => undefined);
      expect(err).toMatch(
        /prod-tunnel-cloudflared matches 2 objects: tunnel homelab \(6f1c2b9e-[^)]+\); tunnel homelab-prod \(7a9373af/,
      );
    });

    it("a token Cloudflare refuses", async () => {
      const { err } = await untouched(() => undefined, undefined, {
        CLOUDFLARE_API_TOKEN: "wrong-token-0123456789abcdefghijklmnopqrstuvwxyz",
      });
      expect(err).toMatch(/Authentication error/);
    });

    it("an API that cannot be reached", async () => {
      await api.close();
      const { err } = await untouched(() => undefined);
      expect(err).toMatch(/Connection error|ECONNREFUSED|fetch failed/);
      api = await startCloudflareApi(ownerLab());
    });

    it("the all-zero placeholder ids of the repository's stack file", async () => {
      const { err } = await untouched(() => cpSync(join(ROOT, "Pulumi.prod.yaml"), file));
      expect(err).toMatch(/homelab:cloudflareAccountId.*all-zero placeholder/);
    });

    it("an unknown flag", async () => {
      const { err } = await untouched(() => undefined, ["--stack", "prod", "--force"]);
      expect(err).toMatch(/Unknown option '--force'/);
    });

    it("a token kept in stack config, which only the Pulumi CLI decrypts, with the command that passes it", async () => {
      const { err } = await untouched(
        () =>
          writeFileSync(
            file,
            readFileSync(file, "utf8").replace(
              "homelab:credentialsSource: 1password",
              "homelab:credentialsSource: config",
            ),
          ),
        undefined,
        { CLOUDFLARE_API_TOKEN: "" },
      );
      expect(err).toContain(
        `CLOUDFLARE_API_TOKEN="$(pulumi config get homelab:cloudflareApiToken --stack prod)" npm run adopt -- --stack prod`,
      );
    });
  });

  it("--dry-run prints the table and writes nothing", async () => {
    const before = readFileSync(file);
    const { out, code } = await adopt(["--stack", "prod", "--dry-run"]);
    expect(code).toBe(0);
    expect(out).toContain("--dry-run: Pulumi.prod.yaml was not changed");
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it("pages through long lists: a zone of 250 more records still finds every route", async () => {
    for (let i = 0; i < 250; i++)
      api.state.dnsRecords.push(dnsRecord({ name: `host${i}.javiersc.com`, type: "A", content: "198.51.100.1" }));
    await adopt();
    expect(Object.keys(written()["homelab:adopt"] as object).filter((k) => k.endsWith("-dns"))).toHaveLength(15);
    expect(api.requests.filter((r) => r.path.startsWith(`/zones/${OWNER_ZONE}/dns_records`)).length).toBeGreaterThan(1);
  });
});

describe("npm run adopt with the token in 1Password", () => {
  it("reads the stack's token reference through the 1Password SDK and adopts", async () => {
    const api = await startCloudflareApi(ownerLab());
    const root = stackRoot();
    try {
      const asked: string[] = [];
      const code = await runAdopt(["--stack", "prod", "--dry-run"], {
        root,
        env: { OP_SERVICE_ACCOUNT_TOKEN: "ops_fake", CLOUDFLARE_BASE_URL: api.url },
        connect: async () => ({
          resolveAll: async (refs: string[]) => {
            asked.push(...refs);
            return {
              individualResponses: Object.fromEntries(
                refs.map((r) => [r, { content: { secret: api.token, itemId: "i", vaultId: "v" } }]),
              ),
            } as never;
          },
        }),
        stdout: () => undefined,
        stderr: (t) => {
          throw new Error(t);
        },
      });
      expect(code).toBe(0);
      expect(asked).toEqual(["op://Homelab/Cloudflare/api-token"]);
    } finally {
      await api.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
