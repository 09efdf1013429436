import { CATALOG } from "../../components/catalog/services";
import type { ServiceEntry } from "../../components/catalog/types";

/**
 * A catalog of `n` services shaped like the real ones: ports, routes,
 * secrets, backups. The benchmarks grow the home lab with it; the enabled
 * entries of the real catalog come first, so the prod stack's services are
 * always part of it.
 */
export function syntheticCatalog(n: number, base: readonly ServiceEntry[] = CATALOG): ServiceEntry[] {
  const out: ServiceEntry[] = base.filter((e) => e.status === "enabled");
  for (let i = 0; out.length < n; i++) {
    out.push({
      id: `svc-${i}`,
      title: `Service ${i}`,
      group: "Management",
      description: "generated for the benchmark",
      status: "enabled",
      runsOn: "host",
      port: 20000 + i,
      bind: "0.0.0.0",
      icon: { mdi: "server" },
      health: { kind: "http", path: "/health" },
      units: [`svc-${i}.service`],
      backup: { paths: [`/var/lib/svc-${i}`] },
      secrets: [{ name: "api-key", ref: `op://Homelab/Service ${i}/credential` }],
    });
  }
  return out;
}
