/**
 * The offline plan: `npm start [-- --stack NAME --out DIR]`.
 * Validates a stack and renders everything `pulumi up` would push, with no
 * credentials, network or Pulumi CLI.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadStack, stackNameProblem } from "../config/load";
import { readStackFile } from "../config/file";
import type { ServiceEntry } from "../catalog/types";
import { ValidationError } from "../catalog/validate";
import { renderOutputs } from "../render/outputs";
import { renderSummary } from "../render/plan";
import { writePlanOutput } from "./write";
import { DOCS_SITE_DIR } from "../render/docs";

const ROOT = resolve(__dirname, "..", "..");

export interface PlanOptions {
  /** Folder holding Pulumi.<stack>.yaml. @default the repository root */
  root?: string;
  /** @default the service catalog */
  catalog?: readonly ServiceEntry[];
  /** @default process.stdout */
  stdout?: (text: string) => void;
  /** @default process.stderr */
  stderr?: (text: string) => void;
}

export function runPlan(argv: string[], options: PlanOptions = {}): number {
  const stdout = options.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = options.stderr ?? ((t: string) => void process.stderr.write(t));
  const root = options.root ?? ROOT;
  let out = "the output folder";
  try {
    const { values } = parseArgs({
      args: argv,
      options: { stack: { type: "string", default: "prod" }, out: { type: "string" } },
      strict: true,
    });
    const stack = values.stack as string;
    if (values.out) out = resolve(values.out);
    const badName = stackNameProblem(stack);
    if (badName)
      throw new ValidationError(stack, [
        {
          field: "--stack",
          message: badName,
          fix: "pass a stack name: letters, digits, hyphens, underscores and periods",
        },
      ]);
    out = resolve(values.out ?? join(root, "out", stack));
    const { lab } = loadStack(stack, readStackFile(root, stack), options.catalog);
    const files = renderOutputs(lab);
    writePlanOutput(out, files, [DOCS_SITE_DIR]);
    stdout(renderSummary(lab));
    stdout(`\nstack ${stack}: ${lab.services.length} services, ${files.size} files written to ${out}\n`);
    return 0;
  } catch (err) {
    stderr(
      `${err instanceof ValidationError ? err.message : String((err as Error).message ?? err)}\nnothing was written to ${out}\n`,
    );
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = runPlan(process.argv.slice(2));
}
