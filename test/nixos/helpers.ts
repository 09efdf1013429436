import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { labHosts, type Homelab } from "../../components/catalog/resolve";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import type { HomelabNixosData } from "../../components/render/nixos";
import { HOMELAB_JSON } from "../../components/render/nixos";
import { hostBundleFromOutputs, renderOutputs } from "../../components/render/outputs";

export const ROOT = resolve(__dirname, "..", "..");

/** A stack exactly as `npm start` loads it: the real Pulumi.<stack>.yaml through loadStack. */
export function stackFromFile(stack = "prod"): Homelab {
  return loadStack(stack, readStackFile(ROOT, stack)).lab;
}

/** A stack from raw `homelab:` keys on top of the prod file's. */
export function stackWith(overrides: Record<string, unknown>, stack = "prod"): Homelab {
  const raw = { ...readStackFile(ROOT, "prod"), ...prefixed(overrides) };
  return loadStack(stack, raw).lab;
}

export function prefixed(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`homelab:${k}`, v]));
}

/** A host's bundle (the first, the only one in most tests), taken from everything the offline plan writes. */
export function bundleOf(lab: Homelab, host: string = labHosts(lab)[0].name): Map<string, string> {
  return hostBundleFromOutputs(renderOutputs(lab), host);
}

export function dataOf(bundle: Map<string, string>): HomelabNixosData {
  const text = bundle.get(HOMELAB_JSON);
  if (text === undefined) throw new Error(`the bundle has no ${HOMELAB_JSON}`);
  return JSON.parse(text) as HomelabNixosData;
}

/** Write a file map under a fresh temporary directory and return the directory. */
export function writeTree(files: Map<string, string>, prefix = "homelab-nixos-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [path, content] of files) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  return dir;
}
