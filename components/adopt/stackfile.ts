/**
 * Writing `homelab:adopt` (and the few keys adoption must pin) into
 * `Pulumi.<stack>.yaml`, keeping the file's comments and the order of its
 * other keys. The new text replaces the file in one rename, so an error at
 * any point leaves the file as it was.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, parseDocument } from "yaml";
import { CONFIG_NAMESPACE } from "../config/schema";

/** The stack file's text with `homelab:adopt` set to `adopt` (removed when empty) and each of `settings` set. */
export function withAdoption(text: string, adopt: Record<string, string>, settings: Record<string, string>): string {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0)
    throw new Error(`the stack file is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
  if (!isMap(doc.get("config", true))) doc.set("config", doc.createNode({}));
  const key = `${CONFIG_NAMESPACE}:adopt`;
  if (Object.keys(adopt).length === 0) doc.deleteIn(["config", key]);
  else {
    const node = doc.createNode(adopt);
    const existing = doc.getIn(["config", key], true) as { commentBefore?: string | null } | undefined;
    // The comment above the key says what it is for; a rewrite keeps one the owner edited.
    (node as { commentBefore?: string | null }).commentBefore =
      existing?.commentBefore ??
      " Cloudflare objects made by hand that this stack took over (npm run adopt):\n resource name in the preview -> the id pulumi imports it by.";
    doc.setIn(["config", key], node);
  }
  for (const [k, v] of Object.entries(settings)) doc.setIn(["config", `${CONFIG_NAMESPACE}:${k}`], v);
  return doc.toString({ lineWidth: 0 });
}

/** Rewrite `Pulumi.<stack>.yaml` under `root`; returns whether its bytes changed. */
export function writeAdoption(
  root: string,
  stack: string,
  adopt: Record<string, string>,
  settings: Record<string, string>,
): boolean {
  const file = join(root, `Pulumi.${stack}.yaml`);
  const before = readFileSync(file, "utf8");
  const after = withAdoption(before, adopt, settings);
  if (after === before) return false;
  const temp = `${file}.adopt-${process.pid}.tmp`;
  try {
    writeFileSync(temp, after, { flag: "wx" });
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
  return true;
}
