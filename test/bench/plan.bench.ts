/**
 * `npm run bench`: time and peak memory of the offline plan (validate,
 * resolve, render) for the prod stack and for generated catalogs of 100,
 * 1,000 and 5,000 services. Each size runs in its own process so its peak
 * RSS is its own. Target: 1,000 services in under 1 s, growing linearly.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { CATALOG } from "../../components/catalog/services";
import { loadStack } from "../../components/config/load";
import { readStackFile } from "../../components/config/file";
import { renderOutputs } from "../../components/render/outputs";
import { syntheticCatalog } from "./synthetic";

const ROOT = join(__dirname, "..", "..");

function measure(size: number | "prod", rounds: number): { ms: number; files: number; maxRssMiB: number } {
  const raw = readStackFile(ROOT, "prod");
  const catalog = size === "prod" ? CATALOG : syntheticCatalog(size);
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
    const size = arg === "prod" ? "prod" : Number(arg);
    measure(size, 1); // warm-up: module loading and JIT are not the plan's cost
    process.stdout.write(JSON.stringify(measure(size, size === "prod" || size <= 1000 ? 5 : 2)));
    return;
  }
  const rows: string[] = [];
  let perService1000 = 0;
  for (const size of ["prod", "100", "1000", "5000"]) {
    const r = JSON.parse(
      execFileSync(process.execPath, [...process.execArgv, __filename, "--one", size], { encoding: "utf8" }),
    ) as { ms: number; files: number; maxRssMiB: number };
    const services = size === "prod" ? CATALOG.length : Number(size);
    if (size === "1000") perService1000 = r.ms / 1000;
    const growth = size === "5000" && perService1000 ? ` (${(r.ms / 5000 / perService1000).toFixed(2)}x the per-service cost at 1,000)` : "";
    rows.push(`${String(size).padEnd(5)} ${String(services).padStart(5)} services  ${r.ms.toFixed(1).padStart(8)} ms  peak RSS ${r.maxRssMiB.toFixed(0).padStart(4)} MiB  ${r.files} files${growth}`);
  }
  process.stdout.write(`offline plan benchmark (validate + resolve + render)\n${rows.join("\n")}\ntarget: 1,000 services under 1000 ms, linear growth\n`);
}

main();
