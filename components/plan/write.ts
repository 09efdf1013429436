import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Replace `dir` with exactly `files`. Everything is written to a sibling
 * temporary folder first and swapped in with renames, so a failure leaves
 * the previous output untouched and never a half-written one. Top-level
 * entries named in `keep` are carried over from the old `dir` when `files`
 * has nothing there: `npm start` keeps the docs site `npm run docs` built.
 */
export function writeTreeAtomically(dir: string, files: Map<string, string>, modes: Map<string, number> = new Map(), keep: readonly string[] = []): void {
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
      if (existsSync(join(dir, entry)) && !existsSync(join(staging, entry))) renameSync(join(dir, entry), join(staging, entry));
    }
    if (old) renameSync(dir, old);
    renameSync(staging, dir);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}
