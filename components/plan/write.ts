import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Replace `dir` with exactly `files`. Everything is written to a sibling
 * temporary folder first and swapped in with renames, so a failure leaves
 * the previous output untouched and never a half-written one. Top-level
 * entries named in `keep` are carried over from the old `dir` when `files`
 * has nothing there: `npm start` keeps the docs site `npm run docs` built.
 */
export function writeTreeAtomically(
  dir: string,
  files: Map<string, string>,
  modes: Map<string, number> = new Map(),
  keep: readonly string[] = [],
): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, `.${basename(dir)}.new-`));
  try {
    for (const [rel, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
      const path = join(staging, rel);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content, { mode: modes.get(rel) ?? 0o644 });
    }
    const old = existsSync(dir) ? join(parent, `.${basename(dir)}.old-${process.pid}`) : undefined;
    for (const entry of keep) {
      if (existsSync(join(dir, entry)) && !existsSync(join(staging, entry)))
        renameSync(join(dir, entry), join(staging, entry));
    }
    if (old) renameSync(dir, old);
    renameSync(staging, dir);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Why `dir` may not be replaced by a plan, or undefined. The plan swaps the
 * whole folder, so pointing --out at a folder of other files would delete
 * them: only a missing or empty folder, or one holding a previous plan
 * (plan.json and hosts/, or nixos/ as plans once wrote a one-host bundle), is replaced.
 */
export function planOutputProblem(dir: string, keep: readonly string[] = []): string | undefined {
  if (!existsSync(dir)) return undefined;
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink()) return `${dir} is a symbolic link; pass the folder it points to, or a new folder`;
  if (!stat.isDirectory()) return `${dir} is a file, not a folder`;
  // What the plan carries over (the docs site `npm run docs` built there) does not count.
  const entries = readdirSync(dir).filter((e) => !keep.includes(e));
  if (entries.length === 0) return undefined;
  const isDir = (name: string) => lstatSync(`${dir}/${name}`, { throwIfNoEntry: false })?.isDirectory() === true;
  const isPlan =
    lstatSync(`${dir}/plan.json`, { throwIfNoEntry: false })?.isFile() && (isDir("nixos") || isDir("hosts"));
  return isPlan
    ? undefined
    : `${dir} is not empty and holds no previous plan (plan.json and hosts/), so the plan will not replace it; pass an empty or new folder with --out`;
}

/**
 * Replace a plan output folder with `files`, carrying over the top-level
 * entries in `keep`; refuses a folder that is not one, before writing anything.
 */
export function writePlanOutput(dir: string, files: Map<string, string>, keep: readonly string[] = []): void {
  const problem = planOutputProblem(dir, keep);
  if (problem) throw new Error(problem);
  writeTreeAtomically(dir, files, new Map(), keep);
}
