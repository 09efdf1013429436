/**
 * `npm run bench` (second part): the prod docs site's build time, split into
 * the pure part (pages and topology) and Astro's build, against the offline
 * plan `npm start` runs, which does not build the site.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { buildDocsSite } from "../../components/docs/site";
import { renderOutputs } from "../../components/render/outputs";

const ROOT = join(__dirname, "..", "..");

async function main(): Promise<void> {
  const raw = readStackFile(ROOT, "prod");
  const planStart = performance.now();
  renderOutputs(loadStack("prod", raw).lab);
  const planMs = performance.now() - planStart;
  const out = mkdtempSync(join(tmpdir(), "homelab-docs-bench-"));
  try {
    const start = performance.now();
    const r = await buildDocsSite(loadStack("prod", raw).lab, join(out, "docs"));
    const totalMs = performance.now() - start;
    process.stdout.write(
      [
        "docs site benchmark (prod)",
        `offline plan (npm start's work)  ${planMs.toFixed(0).padStart(7)} ms`,
        `pages + topology (pure render)   ${r.renderMs.toFixed(0).padStart(7)} ms`,
        `astro build                      ${r.astroMs.toFixed(0).padStart(7)} ms`,
        `npm run docs total               ${totalMs.toFixed(0).padStart(7)} ms  (${r.files} files; ${(totalMs / planMs).toFixed(0)}x the plan, which does not include it)`,
        "",
      ].join("\n"),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

main();
