import { connectorHosts, labHosts, portalHost, servicesOn, type Homelab } from "../catalog/resolve";
import { renderDns, renderIngress } from "./edge";

/** The machine-readable plan, written to out/<stack>/plan.json. */
export function renderPlan(lab: Homelab) {
  const { config } = lab;
  return {
    stack: config.stack,
    domain: config.domain,
    edge: config.edge,
    services: lab.services.map((s) => ({
      id: s.id,
      title: s.title,
      group: s.group,
      host: s.host,
      port: s.port,
      bind: s.bind,
      localUrl: s.localUrl,
      publicHostname: s.publicHostname,
      protection: s.protection,
      status: s.status,
    })),
    tunnel:
      config.edge === "cloudflare"
        ? { name: config.cloudflare?.tunnelName ?? null, ingress: renderIngress(lab) }
        : null,
    dns: renderDns(lab),
    hosts: renderHostsPlan(lab),
  };
}

/** Each host: where it is, what it runs, whether it has the portal and a tunnel connector. */
export function renderHostsPlan(lab: Homelab) {
  const portal = portalHost(lab);
  const connectors = connectorHosts(lab);
  return labHosts(lab).map((h) => {
    const services = servicesOn(lab, h.name).filter((s) => s.status === "enabled");
    return {
      name: h.name,
      lanAddress: h.lanAddress,
      lanHostname: h.lanHostname,
      ssh: `${h.ssh.user}@${h.ssh.host}:${h.ssh.port}`,
      portal: portal === h.name,
      connector: connectors.includes(h.name),
      services: services.map((s) => s.id),
      rollout: lab.config.rollout?.indexOf(h.name) ?? -1,
    };
  });
}

export type Plan = ReturnType<typeof renderPlan>;

/** The summary table `npm start` prints. */
export function renderSummary(lab: Homelab): string {
  const rows = [["service", "host", "local URL", "public URL", "protection", "status"]];
  for (const s of lab.services) {
    rows.push([
      s.id,
      s.hostNames.length > 0 ? s.hostNames.join(",") : "-",
      s.localUrl ?? "-",
      s.publicHostname ? `https://${s.publicHostname}` : "-",
      s.protection,
      s.status,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return `${[line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n")}\n`;
}
