import { describe, expect, it } from "vitest";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { renderDocsPages } from "../../components/render/docs";
import { renderIngress } from "../../components/render/edge";
import type { renderHomepageConfig } from "../../components/render/homepage";
import { renderHostBundles, type HomelabNixosData } from "../../components/render/nixos";
import { hostBundleFromOutputs, renderOutputs } from "../../components/render/outputs";
import { renderPlan } from "../../components/render/plan";
import { PORTAL_FILES, renderToggleLinks } from "../../components/render/portal";
import { topologyMermaid } from "../../components/render/topology";
import { ROOT } from "../program/run";

/**
 * A stack on several machines renders one bundle per host, each with only
 * that host's services, and an edge whose every rule works from any host's
 * connector. The example stack (Pulumi.multihost.yaml) puts Ollama, and
 * LiteLLM with it, on a GPU box.
 */

const lab = loadStack("multihost", readStackFile(ROOT, "multihost")).lab;
const bundles = renderHostBundles(lab);
const data = (host: string): HomelabNixosData => JSON.parse(bundles.get(host)?.get("generated/homelab.json") ?? "null");

/** The same stack with a third host that serves no route: only the loopback SSH MCP endpoint. */
function withQuietHost() {
  const raw = readStackFile(ROOT, "multihost") as Record<string, unknown>;
  const hosts = { ...(raw["homelab:hosts"] as Record<string, unknown>), quiet: { lanAddress: "192.0.2.40" } };
  return loadStack("multihost", {
    ...raw,
    "homelab:hosts": hosts,
    "homelab:placement": { ollama: "gpu", "ssh-mcp": "quiet" },
  }).lab;
}

describe("one bundle per host", () => {
  it("each host's generated data holds only the services placed on it, and the connector where it serves a route", () => {
    expect(Object.keys(data("gpu").services).sort()).toEqual(["cloudflared", "litellm", "ollama"]);
    const main = Object.keys(data("main").services);
    expect(main).toContain("home-assistant");
    expect(main).toContain("cloudflared");
    expect(main).not.toContain("ollama");
    expect(main).not.toContain("litellm");
  });

  it("every host with backup paths backs them up with restic to the one repository; Backrest's UI stays on its host", () => {
    const gpu = data("gpu").backups;
    const main = data("main").backups;
    expect(gpu?.paths).toEqual(["/var/lib/private/litellm"]);
    expect(main?.paths).toContain("/var/lib/hass");
    expect(main?.paths).not.toContain("/var/lib/private/litellm");
    expect(gpu?.repository).toBe(main?.repository);
    expect(gpu?.passwordFile).toBe(main?.passwordFile);
    expect(Object.keys(data("gpu").services)).not.toContain("backrest");
  });

  it("a host whose services keep no state runs no backup", () => {
    const quiet = withQuietHost();
    const d = JSON.parse(
      renderHostBundles(quiet).get("quiet")?.get("generated/homelab.json") ?? "null",
    ) as HomelabNixosData;
    expect(d.backups).toBeUndefined();
  });

  it("each host's LAN facts are its own", () => {
    expect(data("gpu").lan).toMatchObject({ address: "192.0.2.30", hostName: "gpu" });
    expect(data("main").lan).toMatchObject({ address: "192.0.2.10", hostName: "nixos" });
  });

  it("the portal's nginx, Homepage and toggle files are only on the portal host", () => {
    expect(bundles.get("main")?.has(PORTAL_FILES.nginx)).toBe(true);
    expect(bundles.get("main")?.has(PORTAL_FILES.homepage)).toBe(true);
    for (const file of Object.values(PORTAL_FILES)) {
      if (file === PORTAL_FILES.iconsDir) continue;
      expect(bundles.get("gpu")?.has(file), file).toBe(false);
    }
    expect([...(bundles.get("gpu")?.keys() ?? [])].some((p) => p.startsWith(`${PORTAL_FILES.iconsDir}/`))).toBe(false);
  });

  it("a host that serves no route gets no connector and no tunnel token", () => {
    const quiet = withQuietHost();
    const d = JSON.parse(
      renderHostBundles(quiet).get("quiet")?.get("generated/homelab.json") ?? "null",
    ) as HomelabNixosData;
    expect(Object.keys(d.services)).toEqual(["ssh-mcp"]);
  });

  it("every service trusts the forwarded headers of each host that runs a connector", () => {
    expect(data("gpu").lan.connectors).toEqual(["192.0.2.10", "192.0.2.30"]);
    expect(data("main").lan.connectors).toEqual(["192.0.2.10", "192.0.2.30"]);
  });

  it("the offline plan writes each host's bundle under hosts/<name>/nixos/, the same bytes the host receives", () => {
    const outputs = renderOutputs(lab);
    for (const [host, bundle] of bundles) expect(hostBundleFromOutputs(outputs, host)).toEqual(bundle);
    expect([...outputs.keys()].some((p) => p.startsWith("nixos/"))).toBe(false);
    expect(renderPlan(lab).hosts?.map((h) => [h.name, h.portal, h.connector, h.rollout])).toEqual([
      ["main", true, true, -1],
      ["gpu", false, true, 0],
    ]);
  });
});

describe("the edge of several hosts", () => {
  it("every rule names the service on the LAN address of the host that runs it, so any connector can serve it", () => {
    const rules = new Map(renderIngress(lab).map((r) => [r.hostname, r.service]));
    expect(rules.get("ollama-multi.javiersc.com")).toBe("http://192.0.2.30:11434");
    expect(rules.get("litellm-multi.javiersc.com")).toBe("http://192.0.2.30:14000");
    expect(rules.get("home-assistant-multi.javiersc.com")).toBe("http://192.0.2.10:8123");
    expect(rules.get("homepage-multi.javiersc.com"), "the portal's rule reaches nginx on its host").toBe(
      "http://192.0.2.10:80",
    );
    for (const [hostname, service] of rules) {
      if (hostname) expect(service, hostname).not.toMatch(/localhost|127\.0\.0\.1/);
    }
  });

  it("a service that serves its own TLS (Cockpit) is reached over it, without a CA check on its self-signed certificate; no other rule skips one", () => {
    const rules = renderIngress(lab).filter((r) => r.hostname);
    const tls = rules.filter((r) => r.service.startsWith("https:"));
    expect(tls.map((r) => [r.hostname, r.service, r.noTlsVerify])).toEqual([
      ["cockpit-multi.javiersc.com", "https://192.0.2.10:9090", true],
    ]);
    for (const r of rules.filter((r) => !r.service.startsWith("https:")))
      expect(r.noTlsVerify, r.hostname).toBeUndefined();
  });

  it("nginx on the portal host proxies only that host's routes; its upstreams are all loopback", () => {
    const nginx = bundles.get("main")?.get(PORTAL_FILES.nginx) ?? "";
    expect(nginx).toContain("home-assistant-multi.javiersc.com");
    expect(nginx).not.toContain("ollama-multi.javiersc.com");
  });
});

describe("where a route's requests go follows the connectors, not the number of hosts", () => {
  // Two hosts, every routed service on the first: only it runs a connector.
  const raw = readStackFile(ROOT, "multihost") as Record<string, unknown>;
  const oneConnector = loadStack("multihost", { ...raw, "homelab:placement": { "ssh-mcp": "gpu" } }).lab;
  const oneBundles = renderHostBundles(oneConnector);

  it("with the only connector on the portal host, every rule goes to nginx on localhost, as on a one-host stack", () => {
    const rules = renderIngress(oneConnector).filter((r) => r.hostname);
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) expect(r.service, r.hostname).toBe("http://localhost:80");
  });

  it("and no host trusts a connector on the LAN as a proxy, since none reaches it from another machine", () => {
    for (const [host, bundle] of oneBundles) {
      const generated = JSON.parse(bundle.get("generated/homelab.json") ?? "null") as HomelabNixosData;
      expect(generated.lan.connectors, host).toBeUndefined();
    }
  });

  it("and the topology draws that connector handing the routes to nginx, as the rules say", () => {
    const text = topologyMermaid(oneConnector);
    expect(text).toContain("cloudflared_main --> nginx");
    expect(text).not.toContain("cloudflared_gpu");
    expect(text).toContain("Services on nixos.local: nginx :80 proxies the routed ones");
  });

  it("while with a connector on each host, each host trusts every connector's LAN address", () => {
    expect(data("main").lan.connectors).toEqual(["192.0.2.10", "192.0.2.30"]);
    expect(data("gpu").lan.connectors).toEqual(["192.0.2.10", "192.0.2.30"]);
  });
});

describe("the portal of several hosts", () => {
  it("Local mode links each route to the LAN address of the host that runs it", () => {
    const links = renderToggleLinks(lab);
    expect(links["https://ollama-multi.javiersc.com"]).toBe("http://192.0.2.30:11434");
    expect(links["https://home-assistant-multi.javiersc.com"]).toBe("http://192.0.2.10:8123");
  });

  it("the resource widget is labelled with the portal host, whose machine it reads", () => {
    const homepage = JSON.parse(bundles.get("main")?.get(PORTAL_FILES.homepage) ?? "null") as ReturnType<
      typeof renderHomepageConfig
    >;
    expect(homepage.widgets[0]).toEqual({ resources: { label: "main", cpu: true, memory: true } });
    expect(homepage.allowedHosts.split(",")).toContain("192.0.2.10");
  });

  it("the dashboard shows the cards of every host's services", () => {
    const homepage = JSON.parse(bundles.get("main")?.get(PORTAL_FILES.homepage) ?? "null") as ReturnType<
      typeof renderHomepageConfig
    >;
    expect(JSON.stringify(homepage.services)).toContain("https://ollama-multi.javiersc.com");
  });

  it("a Home Assistant widget on another host's dashboard calls Home Assistant on its LAN address", () => {
    const raw = readStackFile(ROOT, "multihost") as Record<string, unknown>;
    const moved = loadStack("multihost", {
      ...raw,
      "homelab:placement": { ollama: "gpu", "home-assistant": "gpu" },
    }).lab;
    const homepage = JSON.parse(
      renderHostBundles(moved).get("main")?.get(PORTAL_FILES.homepage) ?? "null",
    ) as ReturnType<typeof renderHomepageConfig>;
    expect(JSON.stringify(homepage.services)).toContain('"url":"http://192.0.2.30:8123"');
  });
});

describe("the docs of several hosts", () => {
  it("the topology draws a box per host, a connector on each, and nginx only on the portal host", () => {
    const text = topologyMermaid(lab);
    expect(text).toContain("subgraph host_main");
    expect(text).toContain("subgraph host_gpu");
    expect(text).toContain("tunnel --> cloudflared_gpu");
    expect(text).toContain("cloudflared_gpu --> svc_ollama");
    expect(text.match(/nginx\[/g)).toHaveLength(1);
  });

  it("the topology draws each host's backups: through Backrest on its host, straight to B2 from the others", () => {
    const text = topologyMermaid(lab);
    expect(text).toContain("svc_home_assistant -.-> svc_backrest");
    expect(text).toContain("svc_litellm -.->|restic daily| b2");
    expect(text).not.toContain("svc_litellm -.-> svc_backrest");
  });

  it("the pages say how the tunnel reaches each service here: a connector on each host, then the service's host and port, not nginx", () => {
    const pages = renderDocsPages(lab);
    const find = (suffix: string) => [...pages].find(([path]) => path.endsWith(suffix))?.[1] ?? "";
    // The address as the owner's pages write it; the mDNS name says which host.
    expect(find("services/ollama.md")).toContain("sends it over the LAN to `http://<homelab.ip>:11434` on `gpu.local`");
    expect(find("services/home-assistant.md")).toContain(
      "sends it over the LAN to `http://<homelab.ip>:8123` on `nixos.local`",
    );
    expect(find("services/ollama.md")).not.toContain("nginx on port 80");
    const home = [...pages.values()].find((p) => p.includes("The home lab of the")) ?? "";
    expect(home).toContain("stack on `nixos.local`, `gpu.local`");
    expect(home).toContain("a cloudflared connector on each host that serves a route");
  });

  it("the add-a-host runbook adds a machine to homelab:hosts, the way validation accepts", () => {
    const runbook = [...renderDocsPages(lab)].find(([path]) => path.endsWith("runbooks/add-a-host.md"))?.[1] ?? "";
    expect(runbook).toContain(
      "each machine is an entry of `homelab:hosts`, by name: `main`, `gpu` are the hosts there now",
    );
    expect(runbook, "names, not order, name the resources").not.toContain("keep their order");
    expect(runbook).not.toContain("set `homelab:lanAddress`");
  });

  it("a service's page gives the mDNS name of the host that runs it", () => {
    const pages = [...renderDocsPages(lab).values()].join("\n");
    expect(pages).toContain("http://gpu.local:11434");
    expect(pages).not.toContain("http://nixos.local:11434");
  });
});
