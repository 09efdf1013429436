/**
 * The topology picture as the docs site and the README show it, read back
 * from the SVG: no line through a box it does not connect, and labels that
 * stay legible in the docs site's content column.
 *
 * What the geometry covers: beautiful-mermaid draws every edge as a
 * <polyline> (straight segments; the tests fail if one is ever drawn
 * otherwise, rather than check a curve by its corners), every box as a
 * <rect> (a cylinder's rect grown by its end caps), and every edge label
 * on a <rect>. Each segment is clipped against each box exactly. A
 * subgraph's heading is checked by an estimate of its text's width.
 */
import { describe, expect, it } from "vitest";
import { enabledServices, labHosts } from "../../components/catalog/resolve";
import { DOCS_CONTENT_DIR, renderDocsPages, TOPOLOGY_FILE } from "../../components/render/docs";
import {
  renderTopologyPictures,
  TOPOLOGY_COLUMN_PX,
  TOPOLOGY_PICTURES,
  topologyMermaid,
  topologyViews,
} from "../../components/render/topology";
import { STACKS, stackLab } from "./support";

const ALL_STACKS = [...new Set([...STACKS, "multihost"])];
/** The smallest text the picture may show, in CSS px, once scaled into the content column. */
const MIN_LEGIBLE_PX = 11;

interface Box {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Edge {
  from: string;
  to: string;
  points: [number, number][];
}

const attr = (tag: string, name: string) => tag.match(new RegExp(`\\s${name}="([^"]*)"`))?.[1];
const numbers = (tag: string, names: string[]) => names.map((n) => Number(attr(tag, n)));

/** The boxes, edges, edge labels and subgraph headings of one view, in its own coordinates. */
function readView(svg: string) {
  const nodes: Box[] = [];
  for (const m of svg.matchAll(/<g class="node" data-id="([^"]*)"[^>]*>([\s\S]*?)<\/g>/g)) {
    const rect = m[2].match(/<rect [^>]*>/)?.[0];
    if (!rect) throw new Error(`box ${m[1]} is not drawn on a <rect>: the check does not know its shape`);
    const [x, y, w, h] = numbers(rect, ["x", "y", "width", "height"]);
    // A cylinder's end caps are ellipses centred on the rect's top and bottom edges.
    const cap = Math.max(0, ...[...m[2].matchAll(/<ellipse [^>]*>/g)].map((e) => Number(attr(e[0], "ry"))));
    nodes.push({ id: m[1], x, y: y - cap, w, h: h + 2 * cap });
  }
  const edges: Edge[] = [];
  for (const m of svg.matchAll(/<polyline class="edge"[^>]*>/g)) {
    const points = (attr(m[0], "points") ?? "")
      .trim()
      .split(/\s+/)
      .map((p) => p.split(",").map(Number) as [number, number]);
    edges.push({ from: attr(m[0], "data-from") as string, to: attr(m[0], "data-to") as string, points });
  }
  const labels: Box[] = [];
  for (const m of svg.matchAll(/<g class="edge-label" data-from="([^"]*)" data-to="([^"]*)"[^>]*>\s*(<rect [^>]*>)/g)) {
    const [x, y, w, h] = numbers(m[3], ["x", "y", "width", "height"]);
    labels.push({ id: `${m[1]}->${m[2]}`, x, y, w, h });
  }
  const headings: Box[] = [];
  for (const m of svg.matchAll(/<g class="subgraph"[^>]*>[\s\S]*?(<text [^>]*>)([^<]*)<\/text>/g)) {
    const [x, y, size] = numbers(m[1], ["x", "y", "font-size"]);
    // Bold system-ui stays under 0.62 em a character; the text is centred on y.
    headings.push({ id: m[2], x, y: y - size / 2 - 2, w: m[2].length * size * 0.62, h: size + 4 });
  }
  return { nodes, edges, labels, headings, curves: (svg.match(/<path /g) ?? []).length };
}

/** Whether the segment a→b passes through the inside of `box` shrunk by `inset` (Liang–Barsky clipping). */
function segmentHitsBox(a: [number, number], b: [number, number], box: Box, inset: number): boolean {
  const [x0, x1, y0, y1] = [box.x + inset, box.x + box.w - inset, box.y + inset, box.y + box.h - inset];
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  let [t0, t1] = [0, 1];
  for (const [p, q] of [
    [-dx, a[0] - x0],
    [dx, x1 - a[0]],
    [-dy, a[1] - y0],
    [dy, y1 - a[1]],
  ]) {
    if (p === 0) {
      if (q < 0) return false;
      continue;
    }
    const r = q / p;
    if (p < 0) t0 = Math.max(t0, r);
    else t1 = Math.min(t1, r);
    if (t0 > t1) return false;
  }
  return t0 < t1;
}

const overlap = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Every line through a box, a label or a heading it does not belong to, and every label on a box, named. */
function collisions(svg: string): string[] {
  const { nodes, edges, labels, headings } = readView(svg);
  const found: string[] = [];
  for (const e of edges) {
    const name = `${e.from} → ${e.to}`;
    for (let i = 1; i < e.points.length; i++) {
      const [a, b] = [e.points[i - 1], e.points[i]];
      // Touching a border is not crossing: 1 px in from each side.
      for (const n of nodes)
        if (n.id !== e.from && n.id !== e.to && segmentHitsBox(a, b, n, 1))
          found.push(`${name} runs through box ${n.id}`);
      for (const l of labels)
        if (l.id !== `${e.from}->${e.to}` && segmentHitsBox(a, b, l, 1))
          found.push(`${name} runs through label ${l.id}`);
      for (const h of headings) if (segmentHitsBox(a, b, h, 0)) found.push(`${name} runs through heading ${h.id}`);
    }
  }
  for (const l of labels) for (const n of nodes) if (overlap(l, n)) found.push(`label ${l.id} lies on box ${n.id}`);
  for (const [i, n] of nodes.entries())
    for (const m of nodes.slice(i + 1)) if (overlap(n, m)) found.push(`boxes ${n.id} and ${m.id} overlap`);
  return [...new Set(found)];
}

/** The picture's views, each the markup the stacked SVG holds for it. */
function viewsOf(svg: string): { slug: string; markup: string }[] {
  return svg
    .split(`<g class="view" data-view="`)
    .slice(1)
    .map((part) => ({ slug: part.slice(0, part.indexOf('"')), markup: part }));
}

function size(svg: string): { width: number; height: number; widthAttr: number } {
  const open = svg.slice(0, svg.indexOf(">"));
  const [, , width, height] = (attr(open, "viewBox") ?? "").split(" ").map(Number);
  return { width, height, widthAttr: Number(attr(open, "width")) };
}

describe("the topology check", () => {
  it("finds a line through a box, a label on a box and a line through a heading", () => {
    const svg = [
      `<g class="subgraph" data-id="g"><rect x="0" y="0" width="400" height="28" /><text x="12" y="14" font-size="12">A heading</text></g>`,
      `<polyline class="edge" data-from="a" data-to="c" points="0,50 300,50" />`,
      `<polyline class="edge" data-from="a" data-to="b" points="40,0 40,40" />`,
      `<g class="edge-label" data-from="a" data-to="b"><rect x="90" y="85" width="40" height="20" /></g>`,
      `<g class="node" data-id="b" data-shape="rectangle"><rect x="100" y="30" width="80" height="40" /></g>`,
      `<g class="node" data-id="c" data-shape="rectangle"><rect x="100" y="80" width="80" height="40" /></g>`,
    ].join("\n");
    expect(collisions(svg)).toEqual([
      "a → c runs through box b",
      "a → b runs through heading A heading",
      "label a->b lies on box c",
    ]);
  });

  it("finds the line the old single graph drew through an unrelated box: a fan-out to a box one column further", async () => {
    const { renderMermaidSVG } = await import("beautiful-mermaid");
    const svg = renderMermaidSVG("flowchart LR\n  a[nginx] --> b[Jellyfin]\n  a --> c[Backrest]\n  b -.-> c\n", {
      font: "system-ui",
    });
    expect(collisions(svg)).toContain("a → c runs through box b");
  });
});

describe.each(ALL_STACKS)("the %s stack's topology picture", (stack) => {
  const lab = stackLab(stack);
  const pictures = renderTopologyPictures(lab);

  it("draws every line clear of every box, label and heading it does not connect, in every view", async () => {
    const { light } = await pictures;
    const views = viewsOf(light);
    expect(views.map((v) => v.slug)).toEqual(topologyViews(lab).map((v) => v.slug));
    for (const v of views) {
      const { nodes, edges, curves } = readView(v.markup);
      expect(curves, `${v.slug}: an edge drawn as a curve, which the check does not cover`).toBe(0);
      expect(nodes.length, v.slug).toBeGreaterThan(0);
      for (const e of edges)
        expect(
          e.points.every((p) => p.every(Number.isFinite)),
          `${v.slug}: ${e.from} → ${e.to}`,
        ).toBe(true);
      expect(collisions(v.markup), v.slug).toEqual([]);
    }
  });

  it("is no wider than the content column, so its smallest text is legible there", async () => {
    const { light, dark } = await pictures;
    for (const svg of [light, dark]) {
      const { width, widthAttr } = size(svg);
      // The page shows it at its own width, or scaled down to the column; never up.
      expect(widthAttr).toBe(width);
      expect(width).toBeLessThanOrEqual(TOPOLOGY_COLUMN_PX);
      expect(width, "the docs site's browser check expects more than 500 px").toBeGreaterThan(500);
      const fonts = [...svg.matchAll(/font-size="([\d.]+)"/g)].map((m) => Number(m[1]));
      expect(svg).not.toMatch(/font-size\s*:/);
      const effective = Math.min(...fonts) * Math.min(1, TOPOLOGY_COLUMN_PX / width);
      expect(effective).toBeGreaterThanOrEqual(MIN_LEGIBLE_PX);
      for (const v of viewsOf(svg))
        for (const n of readView(v.markup).nodes) expect(n.x + n.w, `${v.slug}: ${n.id}`).toBeLessThanOrEqual(width);
    }
  });

  it("comes in a dark variant that differs only in the two colours the rest derive from", async () => {
    const { light, dark } = await pictures;
    const colours = (svg: string) => svg.match(/^<svg [^>]*style="--bg:([^;]+);--fg:([^;]+);/)?.slice(1);
    expect(colours(light)).toEqual(["#FFFFFF", "#27272A"]);
    expect(colours(dark)).toEqual(["#17181C", "#E4E4E7"]);
    expect(dark.replace("--bg:#17181C;--fg:#E4E4E7;", "--bg:#FFFFFF;--fg:#27272A;")).toBe(light);
    expect(dark).not.toMatch(/@import|https:\/\//);
  });

  it("is drawn byte for byte the same twice", async () => {
    expect(await renderTopologyPictures(stackLab(stack))).toEqual(await pictures);
  });

  it("shows every service on a host, and no LAN address", async () => {
    const { light } = await pictures;
    const text = topologyMermaid(lab);
    for (const s of enabledServices(lab)) {
      if (s.entry.runsOn !== "host" || s.entry.everyHostWith === "routes" || s.id === "portal") continue;
      expect(light, s.id).toContain(`data-id="svc_${s.id.replace(/[^A-Za-z0-9]/g, "_")}"`);
    }
    // The ci stack's host is this machine's loopback address, which the labels' 127.0.0.1:<port> name on purpose.
    const addresses = [lab.config.lanAddress, ...labHosts(lab).map((h) => h.lanAddress)].filter(
      (a) => !a.startsWith("127."),
    );
    if (stack !== "ci") expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) {
      expect(text.includes(address), address).toBe(false);
      expect(light.includes(address), address).toBe(false);
    }
  });

  it("is on the home page in both themes, each a link to the picture at full size", () => {
    const home = renderDocsPages(lab).get(`${DOCS_CONTENT_DIR}/index.md`) as string;
    expect(TOPOLOGY_FILE).toBe(`public${TOPOLOGY_PICTURES.light}`);
    expect(home).toContain(
      `<a class="dark:sl-hidden" href="/topology.svg"><img src="/topology.svg" alt="Topology of the ${stack} stack`,
    );
    expect(home).toContain(
      `<a class="light:sl-hidden" href="/topology-dark.svg"><img src="/topology-dark.svg" alt="Topology of the ${stack} stack`,
    );
  });
});
