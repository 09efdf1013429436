import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdopt } from "../../components/adopt/cli";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { referencedSecrets } from "../../components/secrets/source";
import { startCloudflareApi, type CloudflareApi } from "../support/cloudflare-api";
import { OWNER_ACCOUNT, OWNER_TUNNEL_ID, OWNER_TUNNEL_ROUTES, OWNER_ZONE, ownerLab } from "../support/owner-lab";
import { engineMissing, pluginVersion, recorder } from "./support";

/**
 * The owner's adoption through the real Pulumi engine and the real
 * cloudflare provider plugin, against the local Cloudflare API stand-in
 * (the provider's CLOUDFLARE_BASE_URL): `npm run adopt`, then preview, up
 * and a second preview, for the prod stack without its host (deploy false)
 * and with the docs upload's wrangler replaced by one that only prints.
 */
const ROOT = join(__dirname, "..", "..");

const missing = engineMissing([{ name: "cloudflare", version: pluginVersion("@pulumi/cloudflare") }]);
if (missing) process.stderr.write(`\n[SKIPPED] engine adoption tier skipped: ${missing}\n`);

describe.skipIf(missing !== undefined)(
  "the owner's hand-made Cloudflare edge adopted through the real engine and cloudflare provider",
  () => {
    let api: CloudflareApi;
    let scratch: string;
    let project: string;
    let stack: Stack;
    let adopted: Record<string, string>;

    beforeAll(async () => {
      const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
      api = await startCloudflareApi(ownerLab());
      scratch = mkdtempSync(join(tmpdir(), "homelab-engine-adopt-"));
      project = join(scratch, "project");
      for (const entry of [
        "Pulumi.yaml",
        "Pulumi.prod.yaml",
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "index.ts",
        "components",
        "nixos",
        "assets",
        "docs",
      ]) {
        cpSync(join(ROOT, entry), join(project, entry), { recursive: true });
      }
      // The docs upload (wrangler pages deploy) needs Cloudflare's asset upload, which the stand-in does not serve:
      // the scratch project gets every package but a wrangler that only says what it would do, and no site build.
      mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
      for (const entry of readdirSync(join(ROOT, "node_modules")))
        if (entry !== ".bin") symlinkSync(join(ROOT, "node_modules", entry), join(project, "node_modules", entry));
      for (const bin of readdirSync(join(ROOT, "node_modules", ".bin")))
        if (bin !== "wrangler")
          symlinkSync(join(ROOT, "node_modules", ".bin", bin), join(project, "node_modules", ".bin", bin));
      writeFileSync(
        join(project, "node_modules", ".bin", "wrangler"),
        '#!/bin/sh\necho "wrangler (engine tier stand-in): $*"\n',
        { mode: 0o755 },
      );
      const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      };
      pkg.scripts.docs = "true";
      writeFileSync(join(project, "package.json"), JSON.stringify(pkg, null, 2));
      mkdirSync(join(scratch, "state"));
      const file = join(project, "Pulumi.prod.yaml");
      writeFileSync(
        file,
        readFileSync(file, "utf8")
          .replace(/homelab:cloudflareAccountId: "0{32}"/, `homelab:cloudflareAccountId: "${OWNER_ACCOUNT}"`)
          .replace(/homelab:cloudflareZoneId: "0{32}"/, `homelab:cloudflareZoneId: "${OWNER_ZONE}"`)
          .replace("homelab:credentialsSource: 1password", "homelab:credentialsSource: config") +
          "  homelab:deploy: false\n",
      );
      stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "prod", workDir: project },
        {
          envVars: {
            PULUMI_BACKEND_URL: `file://${join(scratch, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "engine-tier",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            CLOUDFLARE_BASE_URL: api.url,
          },
        },
      );
      // Without a host the secrets go nowhere, but the program still resolves every one it declares.
      const { lab } = loadStack("prod", readStackFile(project, "prod"));
      const values = Object.fromEntries(referencedSecrets(lab).map((s) => [s.key, `engine-tier ${s.key}`]));
      await stack.setAllConfig({
        "homelab:cloudflareApiToken": { value: api.token, secret: true },
        "homelab:secretValues": { value: JSON.stringify(values), secret: true },
      });
    }, 180_000);

    afterAll(async () => {
      await api?.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it("with only the tunnel adopted, preview fails listing every route that already has a record and npm run adopt, and changes nothing", async () => {
      // The tunnel adopted by hand, the records not: the program would otherwise create each record and meet Cloudflare's 81053.
      const tunnel = `${OWNER_ACCOUNT}/${OWNER_TUNNEL_ID}`;
      await stack.setConfig("homelab:adopt", {
        value: JSON.stringify({ "prod-tunnel-cloudflared": tunnel, "prod-ingress": tunnel }),
      });
      const writes = () => api.requests.filter((r) => r.method !== "GET").length;
      const before = writes();
      const failed = await stack
        .preview({ onOutput: process.env.HOMELAB_SHOW_OUTPUT ? (o) => process.stdout.write(o) : undefined })
        .catch((e: Error) => e);
      expect(failed).toBeInstanceOf(Error);
      const text = String((failed as Error).message);
      // Every route at once, the tunnel's fourteen and the docs site's, each naming its record.
      expect(text).toContain("error: 15 routes of stack prod already have records in Cloudflare:");
      expect(text).toMatch(
        / {6}- jellyfin-home\.javiersc\.com: the zone already has CNAME jellyfin-home\.javiersc\.com → 6f1c2b9e-3d4a-4c8e-9b7f-2a5d8e1c4b60\.cfargotunnel\.com \(id [0-9a-f]{32}\), and homelab:adopt does not name it for jellyfin-dns/,
      );
      expect(text).toMatch(
        / {6}- docs-home\.javiersc\.com: the zone already has CNAME docs-home\.javiersc\.com → javiersc-homelab-docs\.pages\.dev/,
      );
      expect(text).toContain("Run npm run adopt -- --stack prod to take it over");
      // The runtime prints the message alone: no stack trace, no object dump.
      expect(text).not.toMatch(/ at .*\.ts:\d+/);
      expect(writes()).toBe(before);
    });

    it("previews imports for every adopted object, and no replace or delete", async () => {
      const file = join(project, "Pulumi.prod.yaml");
      const code = await runAdopt(["--stack", "prod"], {
        root: project,
        env: { CLOUDFLARE_API_TOKEN: api.token, CLOUDFLARE_BASE_URL: api.url },
        stdout: () => undefined,
      });
      expect(code).toBe(0);
      adopted = (
        (await import("yaml")).parse(readFileSync(file, "utf8")) as { config: Record<string, Record<string, string>> }
      ).config["homelab:adopt"];
      // The stack's encrypted settings, written by the engine, survive the rewrite.
      expect(readFileSync(file, "utf8")).toMatch(/homelab:cloudflareApiToken:\n\s+secure: /);
      const rec = recorder();
      const preview = await stack.preview({ onEvent: rec.onEvent, diff: true });
      for (const name of Object.keys(adopted)) {
        expect(rec.steps.get(name)?.op, `${name}\n${preview.stdout}`).toMatch(/^import/);
      }
      // Every field the first up changes on what it adopts, as the provider reports it. The inputs that change:
      // each record's comment (the stack's), the tunnel's name (homelab -> homelab-prod), the ingress (the
      // catalog's, which makes the locally managed tunnel remotely managed). The rest are outputs the update
      // recomputes. The Pages project and its domain import with no change.
      const diffs = (name: string) => rec.steps.get(name)?.diffs;
      for (const name of Object.keys(adopted).filter((n) => n.endsWith("-dns")))
        expect(diffs(name), name).toEqual(["comment", "commentModifiedOn", "modifiedOn"]);
      expect(diffs("prod-ingress")).toEqual(["config", "createdAt", "source", "version"]);
      expect(diffs("prod-tunnel-cloudflared")).toEqual([
        "accountTag",
        "connections",
        "connsActiveAt",
        "connsInactiveAt",
        "createdAt",
        "deletedAt",
        "metadata",
        "name",
        "remoteConfig",
        "status",
        "tunType",
      ]);
      expect(diffs("docs-pages")).toEqual([]);
      expect(diffs("docs-pages-domain")).toEqual([]);
      const destructive = [...rec.steps].filter(
        ([, s]) => s.op === "replace" || s.op === "delete" || s.op === "import-replacement",
      );
      expect(destructive, preview.stdout).toEqual([]);
      expect([...rec.steps].filter(([name, s]) => s.op === "create" && name.endsWith("-cloudflared"))).toEqual([]);
    });

    it("pulumi up imports, updates what differs, and leaves one tunnel, remotely managed, serving every route", async () => {
      const writesBefore = api.requests.filter((r) => r.method !== "GET").length;
      const rec = recorder();
      const up = await stack.up({ onEvent: rec.onEvent });
      expect(up.summary.result, up.stdout).toBe("succeeded");
      expect(
        [...rec.steps].filter(([, s]) => s.op === "replace" || s.op === "delete"),
        up.stdout,
      ).toEqual([]);
      expect(api.requests.slice(writesBefore).filter((r) => r.method === "DELETE")).toEqual([]);
      const live = api.state.tunnels.filter((t) => t.deleted_at === null);
      expect(live.map((t) => t.id)).toEqual([OWNER_TUNNEL_ID]);
      expect(live[0].config_src).toBe("cloudflare");
      for (const hostname of OWNER_TUNNEL_ROUTES) {
        const records = api.state.dnsRecords.filter((r) => r.name === hostname);
        expect(
          records.map((r) => r.content),
          hostname,
        ).toEqual([`${OWNER_TUNNEL_ID}.cfargotunnel.com`]);
      }
      const ingress = (api.state.tunnelConfigs[OWNER_TUNNEL_ID].config as { ingress: { hostname?: string }[] }).ingress;
      expect(ingress.flatMap((r) => (r.hostname ? [r.hostname] : [])).sort()).toEqual([...OWNER_TUNNEL_ROUTES].sort());
    });

    it("a second preview shows no changes", async () => {
      const rec = recorder();
      const preview = await stack.preview({ diff: true, onEvent: rec.onEvent });
      const changing = [...rec.steps]
        .filter(([, s]) => s.op !== "same")
        .map(([name, s]) => `${name}:${s.op} ${s.diffs.join(",")}`);
      expect(changing, preview.stdout).toEqual([]);
      expect(Object.keys(preview.changeSummary)).toEqual(["same"]);
    });
  },
);
