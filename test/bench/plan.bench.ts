/**
 * `npm run bench`: time and peak memory of the offline plan (validate,
 * resolve, render) for the prod stack, for generated catalogs of 100,
 * 1,000 and 5,000 services, and for 100 services spread over 10 hosts (one
 * bundle each). Each size runs in its own process so its peak RSS is its
 * own. Target: 1,000 services in under 1 s, growing linearly.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { CATALOG } from "../../components/catalog/services";
import type { ServiceEntry } from "../../components/catalog/types";
import { loadStack } from "../../components/config/load";
import { readStackFile } from "../../components/config/file";
import { renderOutputs } from "../../components/render/outputs";
import { syntheticCatalog } from "./synthetic";

const ROOT = join(__dirname, "..", "..");

/** The prod stack on `hosts` machines, the generated services placed round-robin; the first host keeps the owner's. */
function spreadOverHosts(
  raw: Record<string, unknown>,
  catalog: readonly ServiceEntry[],
  hosts: number,
): Record<string, unknown> {
  const { "homelab:lanAddress": _a, "homelab:lanHostname": _h, ...rest } = raw;
  const names = Array.from({ length: hosts }, (_, i) => `host-${i}`);
  const placement: Record<string, string> = {};
  for (const [i, e] of catalog.filter((e) => e.id.startsWith("svc-")).entries()) placement[e.id] = names[i % hosts];
  return {
    ...rest,
    "homelab:hosts": Object.fromEntries(
      names.map((n, i) => [n, { lanAddress: `192.0.2.${10 + i}`, lanHostname: `${n}.local` }]),
    ),
    "homelab:placement": placement,
  };
}

/** The 10-host case: 100 services over 10 machines. */
const HOSTS_CASE = { hosts: 10, services: 100 };

function measure(size: number | "prod" | "hosts", rounds: number): { ms: number; files: number; maxRssMiB: number } {
  const prod = readStackFile(ROOT, "prod");
  const catalog = size === "prod" ? CATALOG : syntheticCatalog(size === "hosts" ? HOSTS_CASE.services : size);
  const raw = size === "hosts" ? spreadOverHosts(prod, catalog, HOSTS_CASE.hosts) : prod;
  let files = 0;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) files = renderOutputs(loadStack("prod", raw, catalog).lab).size;
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / rounds;
  return { ms, files, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function main(): void {
  const one = process.argv.indexOf("--one");
  if (one >= 0) {
    const arg = process.argv[one + 1];
    const size = arg === "prod" || arg === "hosts" ? arg : Number(arg);
    measure(size, 1); // warm-up: module loading and JIT are not the plan's cost
    process.stdout.write(JSON.stringify(measure(size, typeof size === "string" || size <= 1000 ? 5 : 2)));
    return;
  }
  const rows: string[] = [];
  let perService1000 = 0;
  for (const size of ["prod", "100", "1000", "5000", "hosts"]) {
    const r = JSON.parse(
      execFileSync(process.execPath, [...process.execArgv, __filename, "--one", size], { encoding: "utf8" }),
    ) as { ms: number; files: number; maxRssMiB: number };
    const services = size === "prod" ? CATALOG.length : size === "hosts" ? HOSTS_CASE.services : Number(size);
    if (size === "1000") perService1000 = r.ms / 1000;
    const growth =
      size === "5000" && perService1000
        ? ` (${(r.ms / 5000 / perService1000).toFixed(2)}x the per-service cost at 1,000)`
        : "";
    const label = size === "hosts" ? `${HOSTS_CASE.hosts}x` : String(size);
    const where = size === "hosts" ? ` on ${HOSTS_CASE.hosts} hosts (a bundle each)` : "";
    rows.push(
      `${label.padEnd(5)} ${String(services).padStart(5)} services  ${r.ms.toFixed(1).padStart(8)} ms  peak RSS ${r.maxRssMiB.toFixed(0).padStart(4)} MiB  ${r.files} files${growth}${where}`,
    );
  }
  process.stdout.write(
    `offline plan benchmark (validate + resolve + render)\n${rows.join("\n")}\ntarget: 1,000 services under 1000 ms, linear growth\n`,
  );
}

main();
