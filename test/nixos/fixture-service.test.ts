import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Homelab } from "../../components/catalog/resolve";
import { CATALOG } from "../../components/catalog/services";
import type { ServiceEntry } from "../../components/catalog/types";
import { validateCatalog } from "../../components/catalog/validate";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { renderDocsPages } from "../../components/render/docs";
import { renderIngress } from "../../components/render/edge";
import {
  HOMELAB_JSON,
  NIXOS_SOURCE_DIR,
  SERVICE_OPTIONS_JSON,
  readNixosTree,
  type ServiceOptionsData,
} from "../../components/render/nixos";
import { renderOutputs } from "../../components/render/outputs";
import { topologyMermaid } from "../../components/render/topology";
import { ROOT, bundleOf, dataOf, writeTree } from "./helpers";
import { NIX, NIX_ENV, nixTier } from "./nix-tier";

/*
 * Adding a service is its catalog entry plus its module, and nothing else.
 * The fixture below is a service no file of the repository knows: its entry
 * is passed as part of the catalog, its module is written beside the
 * rendered bundle in a temporary folder. The plan, the edge, the docs and
 * the bundle carry it; the generated option set declares it, and the Nix
 * tier evaluates its module against the generated data.
 */

const FIXTURE: ServiceEntry = {
  id: "fixture-echo",
  title: "Fixture Echo",
  group: "Infrastructure",
  description: "A service known only to this test",
  status: "enabled",
  runsOn: "host",
  port: 18123,
  bind: "0.0.0.0",
  login: "A bearer key from its api-key secret on every request",
  icon: { mdi: "test-tube" },
  health: { kind: "http", path: "/health" },
  units: ["fixture-echo.service"],
  backup: { paths: ["/var/lib/fixture-echo"] },
  secrets: [{ name: "api-key", ref: "op://Homelab/Fixture Echo/api-key" }],
};

const CATALOG_WITH_FIXTURE: readonly ServiceEntry[] = [...CATALOG, FIXTURE];

/**
 * The fixture's module, as a service's author writes it: it reads only
 * `homelab.services.fixture-echo`, which no hand-written file declares.
 * systemd.services.<name>.{description,wantedBy,serviceConfig} are the
 * paths modules/ssh-mcp.nix already sets.
 */
const MODULE = `{ config, lib, pkgs, ... }:
let
  cfg = config.homelab.services.fixture-echo;
in
{
  config = lib.mkIf cfg.enable {
    systemd.services.fixture-echo = {
      description = cfg.title;
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        DynamicUser = true;
        LoadCredential = [ "api-key:\${cfg.secrets.api-key}" ];
        ExecStart = lib.escapeShellArgs [ "\${pkgs.coreutils}/bin/sleep" "infinity" ];
        Environment = [ "LISTEN=\${cfg.bind}:\${toString cfg.port}" ];
      };
    };
  };
}
`;
const MODULE_PATH = "modules/fixture-echo.nix";

function stack(name: string): Homelab {
  return loadStack(name, readStackFile(ROOT, name), CATALOG_WITH_FIXTURE).lab;
}

function evalJson<T>(args: string[]): T {
  try {
    return JSON.parse(
      execFileSync(NIX as string, ["--store", "dummy://", "--eval", "--strict", "--json", ...args], {
        env: NIX_ENV,
        encoding: "utf8",
        stdio: "pipe",
      }),
    ) as T;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`nix-instantiate ${args.join(" ")} failed:\n${e.stderr ?? e.message}`);
  }
}

/** The rendered bundle with the fixture's module added, written to a temporary folder. */
function bundleWithModule(lab: Homelab): string {
  const bundle = bundleOf(lab);
  bundle.set(MODULE_PATH, MODULE);
  return writeTree(bundle, "homelab-fixture-");
}

interface Evaluated {
  config: {
    systemd: { services: Record<string, { description?: string; serviceConfig?: Record<string, unknown> }> };
    networking: { firewall: { allowedTCPPorts: number[] } };
  };
  failedAssertions: string[];
}

function evalModules(dir: string): Evaluated {
  return evalJson([
    join(ROOT, "test", "nixos", "eval-modules.nix"),
    "--argstr",
    "bundle",
    dir,
    "--arg",
    "withSshMcp",
    "true",
  ]);
}

describe("a service that is only a catalog entry and a module", () => {
  const prod = stack("prod");
  const outputs = renderOutputs(prod);
  const bundle = bundleOf(prod);

  it("is in no file of the repository", () => {
    expect(CATALOG.some((e) => e.id === FIXTURE.id)).toBe(false);
    expect([...readNixosTree(NIXOS_SOURCE_DIR).keys()]).not.toContain(MODULE_PATH);
    expect(readFileSync(join(NIXOS_SOURCE_DIR, "modules", "options.nix"), "utf8")).not.toContain(FIXTURE.id);
  });

  it("needs no line in options.nix: it declares no service by its id", () => {
    const text = readFileSync(join(NIXOS_SOURCE_DIR, "modules", "options.nix"), "utf8");
    for (const e of CATALOG)
      expect(text, `options.nix names ${e.id}`).not.toMatch(new RegExp(`^\\s*"?${e.id}"?\\s*=`, "m"));
  });

  it("passes validation as it is", () => {
    expect(validateCatalog(CATALOG_WITH_FIXTURE, prod.config)).toEqual([]);
  });

  it("is in the plan with its local URL and its Access-protected route", () => {
    const plan = JSON.parse(outputs.get("plan.json") as string) as {
      services: { id: string; localUrl: string; publicHostname: string; protection: string }[];
    };
    expect(plan.services.find((s) => s.id === FIXTURE.id)).toMatchObject({
      localUrl: `http://${prod.config.lanAddress}:18123`,
      publicHostname: `fixture-echo-home.${prod.config.domain}`,
      protection: "access",
    });
  });

  it("gets a tunnel rule for its route", () => {
    expect(renderIngress(prod).map((r) => r.hostname)).toContain(`fixture-echo-home.${prod.config.domain}`);
  });

  it("gets a docs page and a box in the topology", () => {
    expect(renderDocsPages(prod).has("src/content/docs/services/fixture-echo.md")).toBe(true);
    expect(topologyMermaid(prod)).toContain("svc_fixture_echo");
  });

  it("gets its data in homelab.json: port, firewall, route, units and its secret's path", () => {
    expect(dataOf(bundle).services[FIXTURE.id]).toEqual({
      enable: true,
      title: "Fixture Echo",
      port: 18123,
      bind: "0.0.0.0",
      openFirewall: true,
      localUrl: `http://${prod.config.lanAddress}:18123`,
      publicUrl: `https://fixture-echo-home.${prod.config.domain}`,
      units: ["fixture-echo.service"],
      secrets: { "api-key": `${prod.config.paths.secretsDir}/fixture-echo/api-key` },
    });
    expect(dataOf(bundle).backups?.paths).toContain("/var/lib/fixture-echo");
  });

  it("has its option declared from the catalog, not from options.nix", () => {
    const options = JSON.parse(bundle.get(SERVICE_OPTIONS_JSON) as string) as ServiceOptionsData;
    expect(options.services[FIXTURE.id]).toEqual({ title: "Fixture Echo", binds: ["0.0.0.0", "127.0.0.1"] });
  });
});

describe.skipIf(!nixTier.available)(
  "a service that is only a catalog entry and a module, evaluated by nix-instantiate",
  () => {
    let dir: string;
    let ev: Evaluated;
    beforeAll(() => {
      dir = bundleWithModule(stack("prod"));
      ev = evalModules(dir);
    });

    it("passes the option types of the bundle's modules", () => {
      const result = evalJson<{ errors: string[] }>([
        join(ROOT, "test", "nixos", "typecheck.nix"),
        "--arg",
        "bundle",
        dir,
        "--arg",
        "data",
        join(dir, HOMELAB_JSON),
      ]);
      expect(result.errors).toEqual([]);
    });

    it("runs its unit with the catalog's title, address, port and secret", () => {
      const unit = ev.config.systemd.services["fixture-echo"];
      expect(unit, "systemd.services.fixture-echo").toBeDefined();
      expect(unit.description).toBe("Fixture Echo");
      expect(unit.serviceConfig).toMatchObject({
        LoadCredential: ["api-key:/var/lib/homelab/secrets/fixture-echo/api-key"],
        Environment: ["LISTEN=0.0.0.0:18123"],
      });
    });

    it("has its LAN port opened by modules/base.nix", () => {
      expect(ev.config.networking.firewall.allowedTCPPorts).toContain(18123);
    });

    it("fails no assertion: base.nix finds the unit the catalog names", () => {
      expect(ev.failedAssertions).toEqual([]);
    });

    it("is declared but left off on a stack that does not run it", () => {
      const ci = stack("ci");
      const ciBundle = bundleOf(ci);
      expect(dataOf(ciBundle).services).not.toHaveProperty(FIXTURE.id);
      expect((JSON.parse(ciBundle.get(SERVICE_OPTIONS_JSON) as string) as ServiceOptionsData).services).toHaveProperty(
        FIXTURE.id,
      );
      const off = evalModules(bundleWithModule(ci));
      expect(off.config.systemd.services).not.toHaveProperty("fixture-echo");
      expect(off.failedAssertions).toEqual([]);
    });
  },
);
