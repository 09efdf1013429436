/**
 * The offline plan: `npm start [-- --stack NAME --out DIR]`.
 * Validates a stack and renders everything `pulumi up` would push, with no
 * credentials, network or Pulumi CLI.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadStack } from "../config/load";
import { readStackFile } from "../config/file";
import { ValidationError } from "../catalog/validate";
import { renderOutputs } from "../render/outputs";
import { renderSummary } from "../render/plan";
import { writeTreeAtomically } from "./write";
import { DOCS_SITE_DIR } from "../render/docs";

const ROOT = resolve(__dirname, "..", "..");

export function runPlan(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { stack: { type: "string", default: "prod" }, out: { type: "string" } },
    strict: true,
  });
  const stack = values.stack as string;
  const out = resolve(values.out ?? join(ROOT, "out", stack));
  try {
    const { lab } = loadStack(stack, readStackFile(ROOT, stack));
    const files = renderOutputs(lab);
    writeTreeAtomically(out, files, new Map(), [DOCS_SITE_DIR]);
    process.stdout.write(renderSummary(lab));
    process.stdout.write(`\nstack ${stack}: ${lab.services.length} services, ${files.size} files written to ${out}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof ValidationError ? err.message : String((err as Error).message ?? err)}\nnothing was written to ${out}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = runPlan(process.argv.slice(2));
}
