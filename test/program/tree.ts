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
