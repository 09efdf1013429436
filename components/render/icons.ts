import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { IconSpec, ServiceEntry } from "../catalog/types";

/**
 * Dashboard icons, all served by the portal itself so the dashboard works
 * offline. Brand icons come from simple-icons and glyphs from Material Design
 * Icons, both installed from npm and copied into the bundle here at render
 * time; an SVG is drawn for the project only where no set has the brand.
 * Every icon file says where it comes from, and assets/icons/LICENSES.md is
 * rendered from the same data.
 */

const requireFromHere = createRequire(__filename);

/** SVG files of the sets, by path: a catalog of thousands of services reads each once. */
const rawSvgs = new Map<string, string>();
function readSvg(path: string): string {
  let svg = rawSvgs.get(path);
  if (svg === undefined) {
    svg = readFileSync(path, "utf8");
    rawSvgs.set(path, svg);
  }
  return svg;
}

/** The dashboard's dark surface (Homepage's slate-800): icon colours must stand out on it. */
export const DARK_SURFACE = "#1e293b";

/** WCAG's minimum contrast for graphics that carry meaning (1.4.11). */
export const MIN_ICON_CONTRAST = 3;

/** Fill of a glyph whose catalog entry gives no colour. */
const DEFAULT_GLYPH_COLOR = "#e2e8f0";

/** An icon set installed from npm. */
export interface IconSet {
  package: string;
  version: string;
  licence: string;
  homepage: string;
}

/** Where one icon comes from, as LICENSES.md records it. */
export interface IconSource {
  /** The set, or null for an SVG drawn for this project. */
  set: IconSet | null;
  /** The icon's name in its set (slug, glyph name), or the drawn file's name. */
  name: string;
  /** SPDX id of the icon's licence. */
  licence: string;
  /** Where the set says the artwork comes from, when it says. */
  upstream?: string;
}

export interface RenderedIcon {
  /** File name in the bundle's icons folder, served at /icons/<file>. */
  file: string;
  /** The SVG as served: coloured, with a comment naming its source and licence. */
  svg: string;
  /** The same artwork in plain black, for a single-colour mask (Safari's pinned tab). */
  mask: string;
  source: IconSource;
}

interface SimpleIconData {
  slug: string;
  title: string;
  hex: string;
  source: string;
  license?: { type: string; url?: string };
}

function packageJson(resolvedFile: string, levels: number): { version: string; license: string; homepage?: string } {
  let dir = dirname(resolvedFile);
  for (let i = 1; i < levels; i++) dir = dirname(dir);
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
}

let simpleIconsCache: { set: IconSet; bySlug: Map<string, SimpleIconData> } | undefined;
function simpleIcons() {
  if (!simpleIconsCache) {
    // The package exports its data as icons.json and its SVGs, but not its package.json.
    const data = requireFromHere.resolve("simple-icons/icons.json");
    const pkg = packageJson(data, 2);
    const parsed = JSON.parse(readFileSync(data, "utf8")) as SimpleIconData[] | { icons: SimpleIconData[] };
    const list = Array.isArray(parsed) ? parsed : parsed.icons;
    simpleIconsCache = {
      set: {
        package: "simple-icons",
        version: pkg.version,
        licence: pkg.license,
        homepage: "https://simpleicons.org/",
      },
      bySlug: new Map(list.map((i) => [i.slug, i])),
    };
  }
  return simpleIconsCache;
}

let mdiCache: { set: IconSet; dir: string } | undefined;
function mdi() {
  if (!mdiCache) {
    const pkgFile = requireFromHere.resolve("@mdi/svg/package.json");
    const pkg = packageJson(pkgFile, 1);
    mdiCache = {
      set: {
        package: "@mdi/svg",
        version: pkg.version,
        licence: pkg.license,
        homepage: "https://pictogrammers.com/library/mdi/",
      },
      dir: join(dirname(pkgFile), "svg"),
    };
  }
  return mdiCache;
}

// --- colour ------------------------------------------------------------------

function parseHex(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex);
  if (!m) throw new Error(`"${hex}" is not a #rrggbb colour`);
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function toHex([r, g, b]: [number, number, number]): string {
  return `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}

/** WCAG relative luminance. */
function luminance(hex: string): number {
  const [r, g, b] = parseHex(hex).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two colours. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * The colour itself when it stands out on the dark dashboard, else the same
 * hue mixed with white just far enough: Ollama's and Tailscale's near-black
 * brand colours would otherwise vanish on the dark cards.
 */
export function readableOnDark(hex: string, surface = DARK_SURFACE): string {
  const rgb = parseHex(hex);
  for (let t = 0; t <= 1.0001; t += 0.05) {
    const mixed = toHex([0, 1, 2].map((i) => rgb[i] + (255 - rgb[i]) * t) as [number, number, number]);
    if (contrast(mixed, surface) >= MIN_ICON_CONTRAST) return mixed;
  }
  return "#ffffff";
}

// --- SVG ---------------------------------------------------------------------

/** The SVG with its root element's fill set, and a leading comment. */
function withFill(svg: string, fill: string | null, comment: string): string {
  const root = /<svg\b[^>]*>/.exec(svg);
  if (!root) throw new Error("not an SVG");
  let head = root[0].replace(/\sfill="[^"]*"/, "");
  if (fill) head = head.replace(/^<svg\b/, `<svg fill="${fill}"`);
  const body = svg.slice(root.index + root[0].length).trim();
  return `<!-- ${comment} -->\n${head}${body}\n`;
}

/** Where a drawn SVG says it comes from: `<!-- licence: X; source: Y -->`. */
function drawnSource(file: string, svg: string): { licence: string; source: string } {
  const m = /<!--\s*licence:\s*([^;]+?)\s*;\s*source:\s*([\s\S]+?)\s*-->/.exec(svg);
  if (!m)
    throw new Error(
      `assets/icons/${file} does not say where it comes from: add <!-- licence: <SPDX id>; source: <where> -->`,
    );
  return { licence: m[1], source: m[2] };
}

/** The bundle's file name for a service's icon: `<id>-logo.svg`, or the drawn file's own name. */
export function iconFile(entry: Pick<ServiceEntry, "id" | "icon">): string {
  return "file" in entry.icon ? entry.icon.file : `${entry.id}-logo.svg`;
}

/** Icons from the sets, rendered once per spec: a set's file does not change while the program runs. */
const fromSets = new Map<string, Omit<RenderedIcon, "file">>();

/**
 * A service's icon as the portal serves it. `drawn` holds the SVGs of
 * assets/icons/ by file name. Throws, naming the service, when the icon does
 * not exist in its set.
 */
export function renderIcon(entry: Pick<ServiceEntry, "id" | "icon">, drawn: ReadonlyMap<string, string>): RenderedIcon {
  const spec: IconSpec = entry.icon;
  const file = iconFile(entry);
  if (!/-logo\.svg$/.test(file)) {
    throw new Error(
      `service "${entry.id}": icon "${file}" must end in -logo.svg, or Homepage may look the name up on its CDN`,
    );
  }
  if ("file" in spec) return drawnIcon(entry.id, spec.file, drawn);
  const key = JSON.stringify(spec);
  let icon = fromSets.get(key);
  if (!icon) {
    icon = fromSet(entry.id, spec);
    fromSets.set(key, icon);
  }
  return { file, ...icon };
}

function fromSet(id: string, spec: Exclude<IconSpec, { file: string }>): Omit<RenderedIcon, "file"> {
  if ("simpleIcons" in spec) {
    const { set, bySlug } = simpleIcons();
    const data = bySlug.get(spec.simpleIcons);
    if (!data)
      throw new Error(
        `service "${id}": simple-icons ${set.version} has no icon "${spec.simpleIcons}"; see https://simpleicons.org/ for slugs`,
      );
    const raw = readSvg(requireFromHere.resolve(`simple-icons/icons/${data.slug}.svg`));
    const licence = data.license?.type ?? set.licence;
    const note = `${data.title} from simple-icons ${set.version} (${data.slug}), ${licence}; see LICENSES.md`;
    return {
      svg: withFill(raw, readableOnDark(spec.color ?? `#${data.hex}`), note),
      mask: withFill(raw, null, note),
      source: { set, name: data.slug, licence, upstream: data.source },
    };
  }
  if ("mdi" in spec) {
    const { set, dir } = mdi();
    let raw: string;
    try {
      raw = readSvg(join(dir, `${spec.mdi}.svg`));
    } catch {
      throw new Error(
        `service "${id}": @mdi/svg ${set.version} has no icon "${spec.mdi}"; see https://pictogrammers.com/library/mdi/`,
      );
    }
    const note = `mdi-${spec.mdi} from @mdi/svg ${set.version}, ${set.licence}; see LICENSES.md`;
    return {
      svg: withFill(raw, readableOnDark(spec.color ?? DEFAULT_GLYPH_COLOR), note),
      mask: withFill(raw, null, note),
      source: {
        set,
        name: spec.mdi,
        licence: set.licence,
        upstream: `https://pictogrammers.com/library/mdi/icon/${spec.mdi}/`,
      },
    };
  }
  throw new Error(`service "${id}": unknown icon ${JSON.stringify(spec)}`);
}

/**
 * Why an icon named from a set cannot be served, or null when its set has it:
 * validation reports this with the field and the fix, before anything renders.
 */
export function missingFromSet(spec: Exclude<IconSpec, { file: string }>): string | null {
  if ("simpleIcons" in spec) {
    const { set, bySlug } = simpleIcons();
    return bySlug.has(spec.simpleIcons) ? null : `is not an icon of simple-icons ${set.version}`;
  }
  const { set, dir } = mdi();
  return existsSync(join(dir, `${spec.mdi}.svg`)) ? null : `is not an icon of @mdi/svg ${set.version}`;
}

function drawnIcon(id: string, file: string, drawn: ReadonlyMap<string, string>): RenderedIcon {
  const svg = drawn.get(file);
  if (svg === undefined) throw new Error(`service "${id}": icon file "${file}" is not in assets/icons/`);
  const { licence, source } = drawnSource(file, svg);
  return { file, svg, mask: svg, source: { set: null, name: file, licence, upstream: source } };
}

/**
 * The portal's icon on an opaque square with a margin, for the Apple touch
 * icon: iOS fills a transparent one with black and rounds the corners off.
 */
export function appleTouchSvg(icon: RenderedIcon, background: string): string {
  const inner = icon.svg.replace(/^<!--[\s\S]*?-->\n/, "").replace(/<svg\b([^>]*)>/, (_m, attrs: string) => {
    const kept = attrs.replace(/\s(x|y|width|height)="[^"]*"/g, "");
    return `<svg x="15" y="15" width="70" height="70"${kept}>`;
  });
  return (
    `<!-- The Apple touch icon: ${icon.file} on the web manifest's background colour. -->\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="180" height="180">` +
    `<rect width="100" height="100" fill="${background}"/>${inner.trim()}</svg>\n`
  );
}

// --- LICENSES.md ---------------------------------------------------------------

/** Where LICENSES.md sits in the repository, and in the bundle's icons folder. */
export const LICENSES_FILE = "LICENSES.md";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/**
 * assets/icons/LICENSES.md: every catalog entry's icon, where it comes from
 * and under which licence, then the files derived from the portal's icon.
 * Rendered from the whole catalog so it does not depend on a stack.
 */
export function renderIconLicenses(
  catalog: readonly ServiceEntry[],
  drawn: ReadonlyMap<string, string>,
  derived: readonly { file: string; from: string }[],
): string {
  const rows = [...catalog]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((e) => {
      const icon = renderIcon(e, drawn);
      const set = icon.source.set ? `${icon.source.set.package} ${icon.source.set.version}` : "drawn for this project";
      return `| \`${icon.file}\` | ${cell(e.title)} | ${set} | \`${icon.source.name}\` | ${icon.source.licence} | ${icon.source.upstream ? cell(icon.source.upstream) : "—"} |`;
    });
  const sets = [simpleIcons().set, mdi().set];
  return [
    "<!-- Generated by homelab from components/catalog/services.ts and the icon sets in package.json.",
    "     Do not edit: change the catalog or upgrade the sets, then run `npm run icons:licenses`. -->",
    "# Icon sources and licences",
    "",
    "The portal serves every dashboard icon itself, at `/icons/<file>`. `npm start` and",
    "`pulumi up` copy each one from an icon set installed from npm into the NixOS bundle,",
    "coloured for the dark dashboard; the catalog entry's `icon` names it. An SVG is drawn",
    "for the project, and kept in this folder, only where no set has the brand.",
    "",
    "| file | service | set | icon | licence | upstream source of the artwork |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    "Files derived from the portal's icon:",
    "",
    "| file | derived from |",
    "|---|---|",
    ...derived.map((d) => `| \`${d.file}\` | \`${d.from}\` |`),
    "",
    "## The sets",
    "",
    ...sets.map((s) => `- ${s.package} ${s.version} (${s.homepage}): ${s.licence}.`),
    "- simple-icons is CC0-1.0 as a collection. Where it records a brand's own licence",
    "  (the NixOS snowflake's is CC-BY-4.0), the table gives that licence instead, and",
    "  its terms apply: the upstream column is the attribution.",
    "- Material Design Icons are Apache-2.0, by Pictogrammers and Google.",
    "",
    "Names and logos of services are trademarks of their owners and are used only to",
    "label that service's dashboard card.",
    "",
  ].join("\n");
}
