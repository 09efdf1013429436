import { renderPortalFiles } from "../../components/render/portal";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CATALOG } from "../../components/catalog/services";
import {
  TRANSMISSION_SCHEDULE,
  scheduleProblems,
  toTransmissionKBps,
  type SpeedPeriod,
} from "../../components/catalog/schedules";
import {
  GENERATED_NOTE,
  HOMELAB_JSON,
  NIXOS_SOURCE_DIR,
  SERVICE_OPTIONS_JSON,
  homelabNixosData,
  readNixosTree,
  renderNixosBundle,
  speedScheduleData,
  transmissionPeriods,
} from "../../components/render/nixos";
import { labHosts } from "../../components/catalog/resolve";
import { bundleOf, dataOf, stackFromFile, stackWith, writeTree } from "./helpers";
import { HEALTH_CHECKS_PATH, SECRET_FILES_PATH } from "../../components/host/bundle";
import { TAKEOVER_PATH } from "../../components/host/commands";

function handWritten(dir: string, rel = ""): string[] {
  return readdirSync(join(dir, rel))
    .filter((name) => !name.startsWith(".") && !name.endsWith("~") && !/\.(swp|swo)$/.test(name))
    .flatMap((name) => {
      const path = rel ? `${rel}/${name}` : name;
      if (path === "generated") return [];
      return statSync(join(dir, path)).isDirectory() ? handWritten(dir, path) : [path];
    });
}

describe("the NixOS bundle", () => {
  const prod = stackFromFile("prod");
  const bundle = bundleOf(prod);

  it("carries every hand-written file under nixos/, byte for byte", () => {
    const expected = handWritten(NIXOS_SOURCE_DIR);
    expect(expected).toContain("default.nix");
    expect(expected).toContain("modules/options.nix");
    for (const path of expected) {
      expect(bundle.get(path), `nixos/${path} is missing from the bundle or differs`).toBe(
        readFileSync(join(NIXOS_SOURCE_DIR, path), "utf8"),
      );
    }
  });

  it("is the hand-written tree plus generated data, the portal's files, the deploy lists and the takeover list, nothing else", () => {
    const portal = [...renderPortalFiles(prod).keys()];
    const expected = [
      ...handWritten(NIXOS_SOURCE_DIR),
      HOMELAB_JSON,
      SERVICE_OPTIONS_JSON,
      ...portal,
      HEALTH_CHECKS_PATH,
      SECRET_FILES_PATH,
      TAKEOVER_PATH,
    ].sort();
    expect([...bundle.keys()].sort()).toEqual(expected);
  });

  it("is the same map that renderNixosBundle returns, in sorted order", () => {
    const direct = renderNixosBundle(prod, labHosts(prod)[0].name);
    expect([...direct.keys()]).toEqual([...direct.keys()].sort());
    for (const [path, content] of direct) expect(bundle.get(path), path).toBe(content);
  });

  it("skips editor junk and a stray generated/ folder in the source tree", () => {
    const dir = writeTree(
      new Map([
        ["default.nix", "{ }\n"],
        ["modules/a.nix", "{ }\n"],
        ["modules/.a.nix.swp", "junk"],
        ["modules/a.nix~", "junk"],
        ["#b.nix#", "junk"],
        [".DS_Store", "junk"],
        ["generated/homelab.json", "{}"],
      ]),
    );
    const tree = readNixosTree(dir);
    expect([...tree.keys()]).toEqual(["default.nix", "modules/a.nix"]);
  });

  it("renders byte-identical output twice", () => {
    expect(renderNixosBundle(stackFromFile("prod"), "nixos")).toEqual(
      renderNixosBundle(stackFromFile("prod"), "nixos"),
    );
  });

  it("starts generated/homelab.json with its generated header", () => {
    const text = bundle.get(HOMELAB_JSON) as string;
    expect(text.startsWith(`{\n  "_generated": ${JSON.stringify(GENERATED_NOTE)},`)).toBe(true);
    expect(text.endsWith("}\n")).toBe(true);
  });
});

describe("generated/homelab.json", () => {
  const prod = stackFromFile("prod");
  const data = dataOf(bundleOf(prod));
  const hostEnabled = CATALOG.filter((e) => e.status === "enabled" && e.runsOn === "host");

  it("has one entry per enabled host service of the stack, with the catalog's port", () => {
    expect(Object.keys(data.services).sort()).toEqual(hostEnabled.map((e) => e.id).sort());
    for (const e of hostEnabled) {
      const s = data.services[e.id];
      expect(s.enable, e.id).toBe(true);
      expect(s.port, `${e.id}.port`).toBe(e.port ?? null);
      expect(s.units, `${e.id}.units`).toEqual(e.units);
    }
  });

  it("leaves pending services and the Pages site out", () => {
    for (const e of CATALOG.filter((x) => x.status === "pending" || x.runsOn === "pages")) {
      expect(data.services, e.id).not.toHaveProperty(e.id);
    }
    expect(JSON.stringify(data)).not.toMatch(/appwrite|immich|penpot|postiz/);
  });

  it("opens exactly the LAN-bound listeners in the firewall", () => {
    for (const [id, s] of Object.entries(data.services)) {
      expect(s.openFirewall, id).toBe(s.port !== null && s.bind === "0.0.0.0");
    }
    expect(data.services["ssh-mcp"]).toMatchObject({
      bind: "127.0.0.1",
      port: 19000,
      openFirewall: false,
      publicUrl: null,
    });
    expect(data.services.mosquitto).toMatchObject({ bind: "127.0.0.1", port: 1883, openFirewall: false });
  });

  it("gives every secret as an absolute path under the stack's secrets dir, and only as a path", () => {
    for (const e of hostEnabled) {
      const expected = Object.fromEntries(
        (e.secrets ?? []).map((s) => [s.name, `/var/lib/homelab/secrets/${e.id}/${s.name}`]),
      );
      expect(data.services[e.id].secrets, e.id).toEqual(expected);
    }
    const moved = dataOf(bundleOf(stackWith({ credentialsDir: "/var/lib/homelab-secrets" })));
    expect(moved.services.cloudflared.secrets["tunnel-token"]).toBe(
      "/var/lib/homelab-secrets/cloudflared/tunnel-token",
    );
  });

  it("publishes the mDNS name and the public routes", () => {
    expect(data.lan).toEqual({ address: "192.0.2.10", hostName: "nixos", domain: "local" });
    expect(data.services["home-assistant"].publicUrl).toBe("https://home-assistant-home.javiersc.com");
    expect(data.services["home-assistant"].localUrl).toBe("http://192.0.2.10:8123");
    expect(data.services.tailscale.publicUrl).toBeNull();
  });

  it("backs up every service's state daily to B2 with the owner's retention", () => {
    const backups = data.backups!;
    expect(backups.repository).toBe("b2:homelab-prod:homelab");
    expect(backups.paths).toContain("/var/lib/hass");
    expect(backups.exclude).toContain("/var/lib/hass/backups");
    expect(backups.pruneOpts).toEqual(["--keep-daily 7", "--keep-weekly 4", "--keep-monthly 6"]);
    expect(backups.onCalendar).toBe("daily");
    const expected = hostEnabled.flatMap((e) => e.backup?.paths ?? []);
    expect(backups.paths).toEqual([...new Set(expected)]);
    expect(backups.passwordFile).toBe("/var/lib/homelab/secrets/backrest/restic-password");
  });

  it("takes the B2 bucket from homelab:backupBucket", () => {
    const data2 = dataOf(bundleOf(stackWith({ backupBucket: "javiersc-homelab" })));
    expect(data2.backups?.repository).toBe("b2:javiersc-homelab:homelab");
    expect(() => stackWith({ backupBucket: "b2-bad" })).toThrow(/backupBucket/);
  });

  it("whitelists the public route and the mDNS name for Transmission's RPC", () => {
    expect(speedScheduleData(data, "transmission")?.hostWhitelist).toEqual([
      "transmission-home.javiersc.com",
      "nixos.local",
    ]);
  });
});

describe("the stack decides what is configured", () => {
  it("generates nothing for services the stack leaves out", () => {
    const staging = stackFromFile("staging");
    const data = homelabNixosData(staging, labHosts(staging)[0].name);
    expect(Object.keys(data.services).sort()).toEqual([
      "cloudflared",
      "dashboard",
      "home-assistant",
      "jellyfin",
      "mosquitto",
      "portal",
    ]);
    expect(speedScheduleData(data, "transmission")).toBeUndefined();
    expect(data.backups).toBeUndefined();
    expect(data.lan.hostName).toBe("nixos-staging");
  });

  it("runs no tunnel connector without a Cloudflare edge", () => {
    const lan = stackWith({
      edge: "none",
      services: JSON.stringify(["portal", "dashboard", "home-assistant", "mosquitto", "tailscale"]),
    });
    const data = homelabNixosData(lan, labHosts(lan)[0].name);
    expect(data.services).not.toHaveProperty("cloudflared");
    expect(data.services["home-assistant"].publicUrl).toBeNull();
  });
});

describe("the Transmission schedule", () => {
  it("converts 50 MB/s to Transmission's 50000 kB/s (1 kB = 1000 bytes)", () => {
    expect(toTransmissionKBps({ megabytesPerSecond: 50 })).toBe(50_000);
    expect(toTransmissionKBps({ megabytesPerSecond: 0 })).toBe(0);
  });

  it("is the owner's day and night modes, in kB/s", () => {
    expect(transmissionPeriods()).toEqual([
      { name: "day", start: "08:00", end: "00:00", downloadKBps: 50_000, uploadKBps: 0 },
      { name: "night", start: "00:00", end: "08:00", downloadKBps: 50_000, uploadKBps: 50_000 },
    ]);
    expect(scheduleProblems(TRANSMISSION_SCHEDULE)).toEqual([]);
  });

  it("rejects a schedule that leaves a gap or overlaps", () => {
    const rate = { megabytesPerSecond: 1 };
    const gap: SpeedPeriod[] = [{ name: "day", from: "08:00", to: "20:00", download: rate, upload: rate }];
    const overlap: SpeedPeriod[] = [
      { name: "day", from: "08:00", to: "00:00", download: rate, upload: rate },
      { name: "night", from: "23:00", to: "08:00", download: rate, upload: rate },
    ];
    expect(scheduleProblems(gap)).toEqual(["no period covers 00:00"]);
    expect(scheduleProblems(overlap)[0]).toMatch(/night overlaps day at 23:00/);
    expect(() => transmissionPeriods(gap)).toThrow(/schedule.*invalid/);
  });
});
