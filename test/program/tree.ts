import type { TreeNode } from "./run";

/**
 * The resource tree as `pulumi preview` lists it: type and name, children
 * under their parent. The operator page's "What `pulumi
 * preview` shows" is this text for the prod stack.
 */
export function renderTree(tree: readonly TreeNode[]): string {
  const children = new Map<string, TreeNode[]>();
  for (const node of tree) children.set(node.parent, [...(children.get(node.parent) ?? []), node]);
  const rows: [string, string][] = [];
  const walk = (node: TreeNode, prefix: string, last: boolean, top: boolean) => {
    rows.push([`${top ? "" : `${prefix}${last ? "└─ " : "├─ "}`}${node.type}`, node.name]);
    const kids = ordered(children.get(node.urn) ?? []);
    const next = top ? "" : `${prefix}${last ? "   " : "│  "}`;
    for (const [i, kid] of kids.entries()) walk(kid, next, i === kids.length - 1, false);
  };
  for (const root of children.get("") ?? []) walk(root, "", true, true);
  const width = Math.max(...rows.map(([t]) => [...t].length)) + 2;
  return `${rows.map(([t, n]) => `${t}${" ".repeat(width - [...t].length)}${n}`).join("\n")}\n`;
}

/**
 * Children as a reader scans them: what the services share first, by name,
 * then the services in catalog order, each one's resources by name. (The
 * registration order itself depends on when each resource's inputs settle.)
 */
function ordered(kids: readonly TreeNode[]): TreeNode[] {
  const isService = (n: TreeNode) => n.type === "homelab:service:Service";
  const byName = (a: TreeNode, b: TreeNode) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return [...kids.filter((n) => !isService(n)).sort(byName), ...kids.filter(isService)];
}

/** The parent chain of a node, nearest first, as nodes. */
export function ancestors(tree: readonly TreeNode[], node: TreeNode): TreeNode[] {
  const byUrn = new Map(tree.map((n) => [n.urn, n]));
  const chain: TreeNode[] = [];
  for (let p = byUrn.get(node.parent); p; p = byUrn.get(p.parent)) chain.push(p);
  return chain;
}

/** What the engine does with a state it finds: which new resource took each old URN, and how. */
export interface StateClaims {
  /** Old URN → the new resource's URN that took its state. */
  claimedBy: Map<string, string>;
  /** New URNs that took an old state through an alias (a rename), with the old URN. */
  renamed: [newUrn: string, oldUrn: string][];
  /** Old URNs no new resource takes: the engine would delete them. */
  dropped: string[];
  /** Old URNs two new resources reach for: the engine refuses the run. */
  contested: string[];
}

/**
 * Match a new run's resources to an old state's URNs the way the engine's
 * step generator does: each resource's own URN first, then its aliases,
 * then the alias its parent was found by, with the child's name rewritten
 * when it starts with its parent's (`<parent>-push` follows `<parent>`).
 * URNs are built as the mock monitor builds them (the parent's own type as
 * the prefix), so they compare with URNs recorded from a mocked run.
 */
export function claimState(tree: readonly TreeNode[], oldUrns: readonly string[], stack: string): StateClaims {
  const olds = new Set(oldUrns);
  const project = "homelab";
  const urnOf = (parent: string, type: string, name: string) => {
    const prefix = parent === "" ? "" : `${lastType(parent)}$`;
    return `urn:pulumi:${stack}::${project}::${prefix}${type}::${name}`;
  };
  const foundByAlias = new Map<string, string>();
  const claimedBy = new Map<string, string>();
  const contested: string[] = [];
  const renamed: [string, string][] = [];
  for (const node of tree) {
    const own = node.aliases.map((a) =>
      "urn" in a
        ? a.urn
        : urnOf(a.noParent ? "" : a.parentUrn || node.parent, a.type || node.type, a.name || node.name),
    );
    const inherited: string[] = [];
    const parentAlias = foundByAlias.get(node.parent);
    if (parentAlias !== undefined) {
      const parentName = nameOf(node.parent);
      const rename = (name: string) =>
        name.startsWith(parentName) ? nameOf(parentAlias) + name.slice(parentName.length) : name;
      for (const u of [node.urn, ...own]) inherited.push(urnOf(parentAlias, lastType(u), rename(nameOf(u))));
    }
    const old = [node.urn, ...own, ...inherited].find((u) => olds.has(u));
    if (old === undefined) continue;
    if (claimedBy.has(old)) contested.push(old);
    claimedBy.set(old, node.urn);
    if (old !== node.urn) {
      foundByAlias.set(node.urn, old);
      renamed.push([node.urn, old]);
    }
  }
  return { claimedBy, renamed, dropped: oldUrns.filter((u) => !claimedBy.has(u)), contested };
}

/** A URN's own type, without its parents' types. */
const lastType = (urn: string) => urn.split("::")[2].split("$").pop() as string;
const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
