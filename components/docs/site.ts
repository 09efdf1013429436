/**
 * Building the docs site: the Astro project in docs/ (config and hand-written
 * pages), plus the pages generated for one stack, built by Astro Starlight
 * into a static folder. No network: no telemetry, no remote fonts, no search
 * index download.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Homelab } from "../catalog/resolve";
import { writeTreeAtomically } from "../plan/write";
import { renderDocsPages, TOPOLOGY_FILE } from "../render/docs";
import { renderTopologyPictures, TOPOLOGY_PICTURES } from "../render/topology";

export const ROOT = join(__dirname, "..", "..");
/** The Astro project: its config and the hand-written pages. */
export const DOCS_PROJECT = join(ROOT, "docs");
/** What of docs/ belongs to the site; the committed topology SVG of the README does not. */
const PROJECT_ENTRIES = ["astro.config.mjs", "public", "src"];
/** The packages whose versions decide what the build makes of the same pages. */
const TOOLCHAIN = ["astro", "@astrojs/starlight", "beautiful-mermaid"];

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir)
    .sort()
    .flatMap((e) => walk(join(dir, e)));
}

/** The hand-written part of the Astro project, by path inside it. */
export function readDocsProject(dir = DOCS_PROJECT): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of PROJECT_ENTRIES)
    for (const f of walk(join(dir, entry))) files.set(relative(dir, f), readFileSync(f, "utf8"));
  return files;
}

/**
 * The whole Astro project for one stack, except the topology SVGs: the
 * hand-written files and the generated pages. A hand-written page where a
 * generated one goes is an error, never a silent overwrite.
 */
export function docsSources(lab: Homelab, project = readDocsProject()): Map<string, string> {
  const generated = renderDocsPages(lab);
  const clash = [...generated.keys()].filter((p) => project.has(p));
  if (clash.length > 0) {
    throw new Error(
      `docs/${clash.join(", docs/")}: generated for every stack from the catalog; move the hand-written page to docs/src/content/docs/notes/`,
    );
  }
  return new Map([...project, ...generated]);
}

/** Installed versions of the build's packages, from the lock file. */
export function toolchainVersions(root = ROOT): Record<string, string> {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  return Object.fromEntries(
    TOOLCHAIN.map((name) => [name, lock.packages[`node_modules/${name}`]?.version ?? "missing"]),
  );
}

/**
 * A hash of everything the build reads: the project's files (the topology's
 * Mermaid source among them; the SVG is drawn from it) and the locked
 * versions of Astro, Starlight and the diagram renderer. The build is
 * deterministic, so equal hashes mean byte-identical sites; this is what
 * the deploy command's trigger holds, computed without running Astro.
 */
export function docsSiteHash(lab: Homelab, sources = docsSources(lab), versions = toolchainVersions()): string {
  const h = createHash("sha256");
  for (const [name, version] of Object.entries(versions).sort()) h.update(`${name}@${version}\0`);
  for (const [path, content] of [...sources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    h.update(`${path}\0${content.length}\0${content}\0`);
  return h.digest("hex");
}

/** Each file of a built folder with the hash of its bytes, for comparing two builds. */
export function hashTree(dir: string): Record<string, string> {
  return Object.fromEntries(
    walk(dir).map((f) => [relative(dir, f), createHash("sha256").update(readFileSync(f)).digest("hex")]),
  );
}

export interface BuildResult {
  /** Where the site is. */
  dir: string;
  /** Pages and assets written. */
  files: number;
  /** Time of the pure part (render the pages and draw the topology) and of Astro's build. */
  renderMs: number;
  astroMs: number;
}

/**
 * The caller's environment without what a Vite-based caller adds to it
 * (vitest sets NODE_ENV=test, MODE, DEV=1, PROD, BASE_URL, VITEST...): Astro
 * would read them and build a development site, which has no search. The
 * site is the same whoever builds it: npm run docs, pulumi up or a test.
 */
function buildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(env).filter(([k]) => !/^(VITEST.*|TEST|MODE|DEV|PROD|SSR|BASE_URL)$/.test(k)),
  );
  return { ...clean, NODE_ENV: "production" };
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...buildEnv(process.env), ASTRO_TELEMETRY_DISABLED: "1" };
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`astro build failed (exit ${code}):\n${log.slice(-4000)}`)),
    );
  });
}

/**
 * Build the stack's site into `outDir`, replacing it only once the build
 * has succeeded. The project is assembled under out/ (inside the
 * repository, so Node finds astro and Starlight in node_modules) and removed
 * afterwards.
 */
export async function buildDocsSite(lab: Homelab, outDir: string): Promise<BuildResult> {
  const started = performance.now();
  const files = docsSources(lab);
  // The picture in both of Starlight's themes; the home page shows the one the reader's theme asks for.
  const pictures = await renderTopologyPictures(lab);
  files.set(TOPOLOGY_FILE, pictures.light);
  files.set(`public${TOPOLOGY_PICTURES.dark}`, pictures.dark);
  const renderMs = performance.now() - started;

  const work = join(ROOT, "out", `.docs-build-${lab.config.stack}-${process.pid}`);
  const project = join(work, "project");
  // Astro's default dist/: given an outDir outside the project, it leaves its content-layer files there too.
  const built = join(project, "dist");
  rmSync(work, { recursive: true, force: true });
  try {
    writeTreeAtomically(project, files);
    const astroStarted = performance.now();
    await run(
      process.execPath,
      [join(dirname(require.resolve("astro/package.json")), "astro.js"), "build", "--root", project, "--silent"],
      project,
    );
    const astroMs = performance.now() - astroStarted;
    const old = `${outDir}.old-${process.pid}`;
    mkdirSync(dirname(outDir), { recursive: true });
    if (existsSync(outDir)) renameSync(outDir, old);
    // out/ may sit on another file system than the chosen folder; a copy then stands in for the rename.
    try {
      renameSync(built, outDir);
    } catch {
      cpSync(built, outDir, { recursive: true });
    }
    rmSync(old, { recursive: true, force: true });
    return { dir: outDir, files: walk(outDir).length, renderMs, astroMs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
