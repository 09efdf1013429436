import { describe, expect, it } from "vitest";
import { CATALOG } from "../../components/catalog/services";
import { hostSecrets, isMultiHost, portalHost, servicesOn } from "../../components/catalog/resolve";
import { renderDocsPages } from "../../components/render/docs";
import { validateCatalog } from "../../components/catalog/validate";
import { loadStack } from "../../components/config/load";
import { parseStackConfig } from "../../components/config/schema";

/** A prod-like stack, keys with their namespace, as the stack file gives them. */
const BASE = {
  "homelab:domain": "javiersc.com",
  "homelab:edge": "cloudflare",
  "homelab:cloudflareAccountId": "0123456789abcdef0123456789abcdef",
  "homelab:cloudflareZoneId": "fedcba9876543210fedcba9876543210",
  "homelab:accessEmails": ["owner@javiersc.com"],
  "homelab:accessTeamName": "javiersc",
};

const TWO_HOSTS = {
  main: { lanAddress: "192.0.2.10", lanHostname: "nixos.local" },
  gpu: { lanAddress: "192.0.2.11", lanHostname: "gpu.local", sshPort: "2222", sshKeyConfig: "sshPrivateKeyGpu" },
};

function twoHostLab(extra: Record<string, unknown> = {}) {
  return loadStack("prod", {
    ...BASE,
    "homelab:hosts": TWO_HOSTS,
    "homelab:placement": { ollama: "gpu", jellyfin: "gpu" },
    ...extra,
  }).lab;
}

describe("hosts in stack config", () => {
  it("a stack without homelab:hosts is one host built from today's keys, named after its mDNS name", () => {
    const { config } = loadStack("prod", {
      ...BASE,
      "homelab:lanAddress": "192.0.2.10",
      "homelab:sshPort": "2200",
    }).lab;
    expect(config.hostsDeclared).toBe(false);
    expect(config.hosts).toEqual([
      {
        name: "nixos",
        lanAddress: "192.0.2.10",
        lanHostname: "nixos.local",
        ssh: { host: "192.0.2.10", port: 2200, user: "root", hostKey: undefined },
        sshKeyConfig: "sshPrivateKey",
      },
    ]);
  });

  it("homelab:hosts, from the stack file's map or the engine's JSON text, gives typed hosts with defaults, first = default", () => {
    for (const hosts of [TWO_HOSTS, JSON.stringify(TWO_HOSTS)]) {
      const { config } = loadStack("prod", {
        ...BASE,
        "homelab:hosts": hosts,
        "homelab:placement": { ollama: "gpu" },
      }).lab;
      expect(config.hosts?.map((h) => h.name)).toEqual(["main", "gpu"]);
      expect(config.hosts?.[1]).toEqual({
        name: "gpu",
        lanAddress: "192.0.2.11",
        lanHostname: "gpu.local",
        ssh: { host: "192.0.2.11", port: 2222, user: "root", hostKey: undefined },
        sshKeyConfig: "sshPrivateKeyGpu",
      });
      expect(config.lanAddress, "the single-host fields are the first host's").toBe("192.0.2.10");
    }
  });

  it("a host's own login key is a secret key the program reads, apart from the typed config", () => {
    // As the program gets it: decrypted, with the engine's list of secret keys.
    const parsed = parseStackConfig(
      "prod",
      {
        domain: "javiersc.com",
        edge: "none",
        hosts: TWO_HOSTS,
        placement: { ollama: "gpu" },
        sshPrivateKeyGpu: "key-b",
      },
      "program",
      { engineSecrets: ["sshPrivateKeyGpu"] },
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.secretKeys).toEqual({ sshPrivateKeyGpu: "key-b" });
  });
});

describe("placement", () => {
  it("puts each service on its placed host, and the rest on the first host", () => {
    const lab = twoHostLab();
    const on = (host: string) =>
      servicesOn(lab, host)
        .filter((s) => s.status === "enabled")
        .map((s) => s.id);
    expect(on("gpu"), "LiteLLM follows Ollama; Jellyfin's apps bring Tailscale").toEqual([
      "jellyfin",
      "litellm",
      "ollama",
      "tailscale",
      "cloudflared",
    ]);
    expect(on("main")).toContain("home-assistant");
    expect(on("main")).not.toContain("ollama");
    expect(isMultiHost(lab)).toBe(true);
  });

  it("links each service's Local URL to the LAN address of the host that runs it", () => {
    const lab = twoHostLab();
    const url = (id: string) => lab.services.find((s) => s.id === id)?.localUrl;
    expect(url("ollama")).toBe("http://192.0.2.11:11434");
    expect(url("home-assistant")).toBe("http://192.0.2.10:8123");
  });

  it("an unplaced service follows the one it sits with: Mosquitto and the Thread border router go where Home Assistant goes", () => {
    const lab = twoHostLab({ "homelab:placement": { "home-assistant": "gpu" } });
    expect(lab.services.find((s) => s.id === "mosquitto")?.hostName).toBe("gpu");
    expect(lab.services.find((s) => s.id === "otbr")?.hostName, "its REST API is on 127.0.0.1 for Home Assistant").toBe(
      "gpu",
    );
  });

  it("the portal and the dashboard move together, and the lab says which host runs the portal", () => {
    const lab = twoHostLab({ "homelab:placement": { portal: "gpu", ollama: "gpu" } });
    expect(portalHost(lab)).toBe("gpu");
    expect(lab.services.find((s) => s.id === "dashboard")?.hostName).toBe("gpu");
  });

  it("the tunnel connector runs on every host that serves a route, and on no other", () => {
    expect(twoHostLab().services.find((s) => s.id === "cloudflared")?.hostNames).toEqual(["main", "gpu"]);
    // Ollama is routed; ssh-mcp is not, so a host running only it needs no connector.
    const lab = twoHostLab({ "homelab:placement": { "ssh-mcp": "gpu" } });
    expect(lab.services.find((s) => s.id === "cloudflared")?.hostNames).toEqual(["main"]);
  });

  it("Tailscale runs on every host with a service whose apps come over the tailnet, and on no other", () => {
    const tailnet = (lab: ReturnType<typeof twoHostLab>) => lab.services.find((s) => s.id === "tailscale")?.hostNames;
    // The fixture places Jellyfin on gpu; Home Assistant stays on main.
    expect(tailnet(twoHostLab())).toEqual(["main", "gpu"]);
    expect(tailnet(twoHostLab({ "homelab:placement": { ollama: "gpu" } })), "Ollama has no app clients").toEqual([
      "main",
    ]);
    expect(
      tailnet(twoHostLab({ "homelab:placement": { "home-assistant": "gpu", jellyfin: "gpu", "ssh-mcp": "main" } })),
      "both apps' services on gpu",
    ).toEqual(["gpu"]);
    const noApps = loadStack("prod", {
      ...BASE,
      "homelab:services": ["tailscale", "ssh-mcp", "ollama"],
      "homelab:hosts": TWO_HOSTS,
      "homelab:placement": { "ssh-mcp": "gpu" },
    }).lab;
    expect(tailnet(noApps), "with no such service, the first host").toEqual(["main"]);
  });

  it("each Tailscale host gets the auth key, and its tailnet address is named on the service's page", () => {
    const lab = twoHostLab();
    for (const host of ["main", "gpu"])
      expect(
        hostSecrets(lab, host).map((s) => s.key),
        host,
      ).toContain("tailscale.auth-key");
    const pages = [...renderDocsPages(lab).values()].join("\n");
    expect(pages).toContain("(the address of `gpu.local` on the tailnet, `tailscale ip -4` there)");
    expect(pages).toContain("(the address of `nixos.local` on the tailnet, `tailscale ip -4` there)");
  });

  it("one port on two hosts is fine; on one host it is refused", () => {
    const catalog = CATALOG.map((e) => (e.id === "radarr" ? { ...e, port: 8989 } : e));
    const raw = { ...BASE, "homelab:hosts": TWO_HOSTS, "homelab:placement": { radarr: "gpu" } };
    expect(() => loadStack("prod", raw, catalog)).not.toThrow();
    const config = parseStackConfig("prod", {
      domain: "javiersc.com",
      edge: "none",
      hosts: TWO_HOSTS,
      placement: { radarr: "gpu", sonarr: "gpu" },
    }).config!;
    const problems = validateCatalog(catalog, config).filter((p) => p.field === "port");
    expect(problems).toEqual([
      {
        service: "radarr",
        field: "port",
        message: 'port 8989 is already used by "sonarr" on the same host (gpu)',
        fix: expect.stringContaining("homelab:placement"),
      },
    ]);
  });
});
