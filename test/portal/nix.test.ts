/**
 * nixos/modules/portal.nix evaluated by a real Nix against the rendered
 * bundle, with a small stand-in for nixpkgs' lib and pkgs (this machine has
 * no nixpkgs). It checks what the module makes of the generated files: every
 * placeholder replaced, Homepage's options set from homepage.json, and the
 * favicon and secret scripts it writes actually working.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLACEHOLDERS } from "../../components/render/nginx";
import { FAVICONS, renderPortalFiles } from "../../components/render/portal";
import { findProgram, tier } from "../support/tiers";
import { decodePng, ROOT, stackLab } from "./support";

const NIX = findProgram("nix-instantiate");
const RSVG = findProgram("rsvg-convert");
const nixTier = tier("nix", [...(NIX ? [] : ["nix-instantiate"]), ...(RSVG ? [] : ["rsvg-convert (librsvg2-bin)"])]);

const lab = stackLab("prod");
const bundle = renderPortalFiles(lab);
const homepage = JSON.parse(bundle.get("generated/homepage.json") as string);

const EVAL = `
let
  lib = {
    mkOption = o: o;
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkForce = content: { _type = "override"; priority = 50; inherit content; };
    mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
    mkAfter = content: { _type = "order"; priority = 1500; inherit content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    types = { bool = "bool"; path = "path"; };
    importJSON = p: builtins.fromJSON (builtins.readFile p);
    concatStringsSep = builtins.concatStringsSep;
    concatMapStringsSep = sep: f: l: builtins.concatStringsSep sep (map f l);
    mapAttrsToList = f: a: map (n: f n a.\${n}) (builtins.attrNames a);
    escapeShellArg = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\\\''" ] s + "'";
  };
  # Builders become plain store files holding their script, so the test can run them.
  pkgs = {
    librsvg = "librsvg";
    coreutils = "/coreutils";
    curl = "/curl";
    runCommand = name: env: script: builtins.toFile name script;
    writeShellScript = name: text: builtins.toFile name text;
  };
  module = import ./modules/portal.nix;
  # What modules/options.nix and default.nix set from generated/homelab.json.
  config = { homelab.portal = cfg; homelab.services.portal.enable = true; };
  declared = (module { inherit config lib pkgs; }).options.homelab.portal;
  cfg = {
    enable = declared.enable.default;
    generatedDir = declared.generatedDir.default;
    assetsDir = declared.assetsDir.default;
  };
in
{
  enableDefault = cfg.enable;
  config = (module { inherit config lib pkgs; }).config;
}
`;

interface Evaluated {
  enableDefault: boolean;
  config: {
    _type: "if";
    condition: boolean;
    content: {
      services: {
        nginx: {
          enable: boolean;
          appendHttpConfig: string;
          virtualHosts: Record<string, unknown>;
          serverNamesHashBucketSize: { content: number };
        };
        "homepage-dashboard": Record<string, unknown>;
      };
      systemd: {
        services: {
          "homepage-dashboard": {
            environment: { HOMEPAGE_ALLOWED_HOSTS: { content: string }; HOSTNAME: string };
            serviceConfig: {
              _type: "merge";
              contents: [
                { ExecStartPost: string[]; TimeoutStartSec: number },
                {
                  condition: boolean;
                  content: {
                    EnvironmentFile: { _type: "order"; priority: number; content: string[] };
                    ExecStartPre: string[];
                    ExecStopPost: string[];
                  };
                },
              ];
            };
          };
        };
      };
    };
  };
}

let tmp = "";
let result: Evaluated;

describe.skipIf(!nixTier.available)("portal.nix evaluated by Nix", () => {
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "homelab-portal-nix-"));
    for (const [path, content] of bundle) {
      mkdirSync(dirname(join(tmp, path)), { recursive: true });
      writeFileSync(join(tmp, path), content);
    }
    mkdirSync(join(tmp, "modules"));
    copyFileSync(join(ROOT, "nixos", "modules", "portal.nix"), join(tmp, "modules", "portal.nix"));
    writeFileSync(join(tmp, "eval.nix"), EVAL);
    const out = execFileSync(
      NIX as string,
      ["--eval", "--strict", "--json", "--read-write-mode", join(tmp, "eval.nix")],
      { encoding: "utf8" },
    );
    result = JSON.parse(out) as Evaluated;
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("is on when the catalog runs the portal", () => {
    expect(result.enableDefault).toBe(true);
    expect(result.config.condition).toBe(true);
  });

  it("gives nginx the generated server blocks with every placeholder replaced by a store path", () => {
    const nginx = result.config.content.services.nginx;
    expect(nginx.enable).toBe(true);
    expect(nginx.virtualHosts).toEqual({});
    expect(nginx.serverNamesHashBucketSize.content).toBe(64);
    for (const p of Object.values(PLACEHOLDERS)) expect(nginx.appendHttpConfig, p).not.toContain(p);
    expect(nginx.appendHttpConfig).toMatch(/alias \/nix\/store\/[a-z0-9]{32}-homelab-custom\.js;/);
    expect(nginx.appendHttpConfig).toMatch(/alias \/nix\/store\/[a-z0-9]{32}-homelab-icons\/;/);
    const icons = /alias (\/nix\/store\/[a-z0-9]{32}-homelab-icons)\/;/.exec(nginx.appendHttpConfig)![1];
    for (const [path, content] of bundle) {
      if (path.startsWith("assets/icons/"))
        expect(readFileSync(join(icons, path.slice("assets/icons/".length)), "utf8"), path).toBe(content);
    }
    const rest = nginx.appendHttpConfig.split("\n").filter((l) => !l.includes("/nix/store/"));
    const shipped = (bundle.get("generated/nginx-sites.conf") as string)
      .split("\n")
      .filter((l) => !/@[A-Za-z]+@/.test(l));
    expect(rest).toEqual(shipped);
  });

  it("renders every favicon from the snowflake with librsvg at the listed sizes, the Apple touch icon opaque", () => {
    const dir = /root (\/nix\/store\/[a-z0-9]{32}-homelab-favicons);/.exec(
      result.config.content.services.nginx.appendHttpConfig,
    )![1];
    const script = readFileSync(dir, "utf8");
    const out = join(tmp, "favicons");
    const run = spawnSync("bash", ["-euc", script], { env: { ...process.env, out }, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    for (const f of FAVICONS) {
      const png = decodePng(readFileSync(join(out, f.file)));
      expect([png.width, png.height], f.file).toEqual([f.size, f.size]);
      // iOS puts a transparent touch icon on black; the others keep a clear corner.
      const alpha = Array.from({ length: png.width * png.height }, (_, i) => png.rgba[i * 4 + 3]);
      if (f.opaque) expect(alpha.filter((a) => a !== 255).length, `${f.file}: pixels that are not opaque`).toBe(0);
      else expect(alpha[0], `${f.file}: corner pixel`).toBe(0);
    }
  });

  it("sets Homepage's options from homepage.json and keeps it on loopback", () => {
    const hp = result.config.content.services["homepage-dashboard"];
    expect(hp.enable).toBe(true);
    expect(hp.listenPort).toBe(homepage.listenPort);
    expect(hp.settings).toEqual(homepage.settings);
    expect(hp.services).toEqual(homepage.services);
    expect(hp.widgets).toEqual(homepage.widgets);
    const env = result.config.content.systemd.services["homepage-dashboard"].environment;
    expect(env.HOMEPAGE_ALLOWED_HOSTS.content).toBe(homepage.allowedHosts);
    expect(env.HOSTNAME).toBe("127.0.0.1");
  });

  it("hands the Home Assistant token to Homepage through a root-only environment file, without a newline", () => {
    // On the unit, not through services.homepage-dashboard.environmentFile(s):
    // the option's name and type differ between NixOS 25.11 and unstable.
    const hp = result.config.content.services["homepage-dashboard"];
    expect(Object.keys(hp).filter((k) => k.startsWith("environmentFile"))).toEqual([]);
    const unit = result.config.content.systemd.services["homepage-dashboard"].serviceConfig.contents[1];
    expect(unit.condition).toBe(true);
    // After 25.11's default EnvironmentFile="", which would reset the list.
    expect(unit.content.EnvironmentFile).toEqual({
      _type: "order",
      priority: 1500,
      content: ["-/run/homelab-portal/homepage.env"],
    });
    const pre = unit.content.ExecStartPre[0];
    expect(pre.startsWith("+/nix/store/")).toBe(true);

    // Run the script against a temporary folder and a token file that ends in a newline.
    const secret = "/var/lib/homelab/secrets/dashboard/hass-token";
    const token = join(tmp, "hass-token");
    writeFileSync(token, "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl\n");
    const runDir = join(tmp, "run");
    const script = readFileSync(pre.slice(1), "utf8")
      .split("/run/homelab-portal")
      .join(runDir)
      .split(secret)
      .join(token);
    const run = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(join(runDir, "homepage.env"), "utf8")).toBe(
      "HOMEPAGE_VAR_HASS_TOKEN=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl\n",
    );
    expect(statSync(join(runDir, "homepage.env")).mode & 0o777).toBe(0o600);

    // A missing token leaves the variable out instead of failing the dashboard.
    rmSync(token);
    const missing = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(missing.status).toBe(0);
    expect(missing.stderr).toMatch(/missing; HOMEPAGE_VAR_HASS_TOKEN left unset/);
    expect(readFileSync(join(runDir, "homepage.env"), "utf8")).toBe("");
  });

  it("revalidates the dashboard once it answers, so the first visitor never gets the build-time page", () => {
    const [always] = result.config.content.systemd.services["homepage-dashboard"].serviceConfig.contents;
    const port = (JSON.parse(bundle.get("generated/homepage.json") as string) as { listenPort: number }).listenPort;
    expect(always.ExecStartPost).toHaveLength(1);
    // "-": a failed revalidation leaves a stale first page and must not fail the unit.
    expect(always.ExecStartPost[0]).toMatch(
      new RegExp(
        `^-/coreutils/bin/timeout \\d+ /curl/bin/curl .*--retry-connrefused .*http://127\\.0\\.0\\.1:${port}/api/revalidate$`,
      ),
    );
  });

  it("bounds the revalidation below the unit's start timeout, which systemd counts it in", () => {
    const [always] = result.config.content.systemd.services["homepage-dashboard"].serviceConfig.contents;
    const timeoutStart = always.TimeoutStartSec;
    expect(typeof timeoutStart, "homepage-dashboard: TimeoutStartSec is set on the unit").toBe("number");
    const step = always.ExecStartPost[0];
    const flag = (name: string): number => {
      const m = new RegExp(`${name} (\\d+)`).exec(step);
      expect(m, `homepage-dashboard ExecStartPost: no ${name}`).not.toBeNull();
      return Number(m![1]);
    };
    const hardCap = Number(/\/bin\/timeout (\d+) /.exec(step)![1]);
    // curl's own limits end it first: no new attempt after --retry-max-time, and each attempt stops at --max-time.
    expect(
      flag("--retry-max-time") + flag("--max-time") + 1,
      "curl's retry window plus one attempt and its delay",
    ).toBeLessThanOrEqual(hardCap);
    // timeout(1) ends it regardless, with time left for the rest of the start.
    expect(
      hardCap,
      `homepage-dashboard: the revalidation may run ${hardCap} s, the unit may take ${timeoutStart} s to start`,
    ).toBeLessThan(timeoutStart);
  });
});
