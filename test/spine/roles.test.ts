import { describe, expect, it } from "vitest";
import { backupService, labHosts, portalHost, resolveHomelab } from "../../components/catalog/resolve";
import { CATALOG } from "../../components/catalog/services";
import type { ServiceEntry } from "../../components/catalog/types";
import { validateCatalog, type Problem } from "../../components/catalog/validate";
import { homelabNixosData, renderNixosBundle, speedScheduleData } from "../../components/render/nixos";
import { topologyMermaid } from "../../components/render/topology";
import { catalogWith, config } from "./fixtures";

/*
 * A service's special part (the portal, the backups, the tunnel's
 * connector, a speed schedule, a dashboard widget) is a field of its
 * catalog entry. Renderers and validation read the field; renaming the
 * entry changes nothing but the names.
 */

function only(problems: Problem[]): Problem {
  expect(problems, JSON.stringify(problems, null, 2)).toHaveLength(1);
  return problems[0];
}

/** The catalog with entries renamed, and every reference to them (colocateWith, proxyTo) following. */
function renamed(names: Record<string, string>): ServiceEntry[] {
  const to = (id: string | undefined) => (id === undefined ? undefined : (names[id] ?? id));
  return CATALOG.map((e) => ({
    ...e,
    id: to(e.id) as string,
    colocateWith: to(e.colocateWith),
    proxyTo: to(e.proxyTo),
  }));
}

describe("roles in the catalog", () => {
  it("gives each role to one entry: a second portal is refused, naming the first", () => {
    const p = only(validateCatalog(catalogWith("radarr", { role: "portal", proxyTo: "dashboard" }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "role" });
    expect(p.message).toContain('"portal" already has the portal role');
  });

  it("refuses a role that does not exist, listing the roles", () => {
    const p = only(validateCatalog(catalogWith("radarr", { role: "proxy" as ServiceEntry["role"] }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "role" });
    expect(p.fix).toContain("portal, backup");
  });

  it("needs the portal to name its dashboard app with proxyTo", () => {
    const p = only(validateCatalog(catalogWith("portal", { proxyTo: undefined }), config()));
    expect(p).toMatchObject({ service: "portal", field: "proxyTo" });
    expect(p.fix).toMatch(/dashboard entry's id/);
  });

  it("needs the backup role's repository secrets", () => {
    const secrets = CATALOG.find((e) => e.role === "backup")?.secrets?.filter((s) => s.name === "restic-password");
    const p = only(validateCatalog(catalogWith("backrest", { secrets }), config()));
    expect(p).toMatchObject({ service: "backrest", field: "secrets" });
    expect(p.message).toContain('"b2-account-id", "b2-account-key"');
  });

  it("refuses a role on a Pages site", () => {
    const backrest = CATALOG.find((e) => e.id === "backrest") as ServiceEntry;
    const catalog = CATALOG.map((e) =>
      e.id === "backrest"
        ? { ...e, role: undefined }
        : e.id === "docs"
          ? { ...e, role: "backup" as const, secrets: backrest.secrets }
          : e,
    );
    const p = only(validateCatalog(catalog, config()));
    expect(p).toMatchObject({ service: "docs", field: "role" });
    expect(p.message).toMatch(/runs on a host/);
  });
});

describe("speed schedules and dashboard widgets in the catalog", () => {
  const rate = { megabytesPerSecond: 1 };

  it("refuses a speed schedule that leaves part of the day uncovered", () => {
    const p = only(
      validateCatalog(
        catalogWith("transmission", {
          speedSchedule: [{ name: "day", from: "08:00", to: "20:00", download: rate, upload: rate }],
        }),
        config(),
      ),
    );
    expect(p).toMatchObject({ service: "transmission", field: "speedSchedule" });
    expect(p.message).toBe("no period covers 00:00");
  });

  it("refuses a speed schedule that is not a list of windows", () => {
    const p = only(
      validateCatalog(
        catalogWith("transmission", { speedSchedule: [{ name: "day" }] as unknown as ServiceEntry["speedSchedule"] }),
        config(),
      ),
    );
    expect(p).toMatchObject({ service: "transmission", field: "speedSchedule" });
    expect(p.fix).toContain("covering the day once");
  });

  it("refuses a dashboard widget type Homepage cannot name", () => {
    const p = only(
      validateCatalog(
        catalogWith("jellyfin", { dashboardWidget: { type: "Jelly Fin", secret: "hass-token" } }),
        config(),
      ),
    );
    expect(p).toMatchObject({ service: "jellyfin", field: "dashboardWidget.type" });
  });
});

describe("renderers follow the role, not the id", () => {
  const names = {
    portal: "front-door",
    dashboard: "start-page",
    backrest: "vault",
    transmission: "torrents",
    cloudflared: "connector",
  };
  const catalog = renamed(names);
  const cfg = config();
  const lab = resolveHomelab(catalog, cfg);

  it("validates the renamed catalog", () => {
    expect(validateCatalog(catalog, cfg)).toEqual([]);
  });

  it("runs the portal, nginx and Homepage under the new names", () => {
    expect(portalHost(lab)).toBe(lab.config.lanHostname.split(".")[0]);
    const bundle = renderNixosBundle(lab, labHosts(lab)[0].name);
    expect(bundle.get("generated/nginx-sites.conf"), "nginx sites").toContain("front-door");
    expect(bundle.has("generated/homepage.json")).toBe(true);
    expect(topologyMermaid(lab)).toContain("svc_start_page");
  });

  it("backs up with the renamed backup service's credentials", () => {
    expect(backupService(lab)?.id).toBe("vault");
    expect(homelabNixosData(lab, labHosts(lab)[0].name).backups?.passwordFile).toBe(
      `${cfg.paths.secretsDir}/vault/restic-password`,
    );
  });

  it("hands the speed schedule to the renamed service's module", () => {
    const data = homelabNixosData(lab, labHosts(lab)[0].name);
    expect(speedScheduleData(data, "torrents")?.schedule).toHaveLength(2);
    expect(speedScheduleData(data, "transmission")).toBeUndefined();
  });

  it("refuses the renamed tunnel connector on a stack without Cloudflare, by its new name", () => {
    const lan = config({
      edge: "none",
      services: ["front-door", "start-page", "home-assistant", "mosquitto", "connector"],
    });
    const p = only(validateCatalog(catalog, lan));
    expect(p).toMatchObject({ service: "connector", field: "homelab:services" });
    expect(p.fix).toBe("leave connector out of homelab:services");
  });
});
