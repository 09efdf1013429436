/**
 * `npm run docs [-- --stack NAME --out DIR]`: build the stack's docs site,
 * offline, into out/<stack>/docs/ (or DIR).
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ValidationError } from "../catalog/validate";
import { readStackFile } from "../config/file";
import { loadStack } from "../config/load";
import { DOCS_SITE_DIR } from "../render/docs";
import { buildDocsSite, ROOT } from "./site";

export async function runDocs(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { stack: { type: "string", default: "prod" }, out: { type: "string" } },
    strict: true,
  });
  const stack = values.stack as string;
  const out = resolve(values.out ?? join(ROOT, "out", stack, DOCS_SITE_DIR));
  try {
    const { lab } = loadStack(stack, readStackFile(ROOT, stack));
    const r = await buildDocsSite(lab, out);
    process.stdout.write(
      `stack ${stack}: docs site built into ${r.dir} (${r.files} files; pages and topology ${Math.round(r.renderMs)} ms, astro build ${(r.astroMs / 1000).toFixed(1)} s)\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(
      `${err instanceof ValidationError ? err.message : String((err as Error).message ?? err)}\nthe previous site in ${out} was left as it was\n`,
    );
    return 1;
  }
}

if (require.main === module) {
  runDocs(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
