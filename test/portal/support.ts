import { resolve } from "node:path";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import type { Homelab } from "../../components/catalog/resolve";
import { PLACEHOLDERS } from "../../components/render/nginx";

export const ROOT = resolve(__dirname, "..", "..");

/** A stack as the offline plan loads it from Pulumi.<stack>.yaml. */
export function stackLab(stack: string): Homelab {
  return loadStack(stack, readStackFile(ROOT, stack)).lab;
}

/** A stack built from config values, for cases no committed stack covers. */
export function labFrom(values: Record<string, unknown>): Homelab {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) raw[`homelab:${k}`] = v;
  return loadStack("test", raw).lab;
}

export interface ServerBlock {
  names: string[];
  defaultServer: boolean;
  /** Port of `location /`'s proxy_pass, or null. */
  upstreamPort: number | null;
  text: string;
}

/** The top-level server blocks of rendered nginx text. */
export function serverBlocks(conf: string): ServerBlock[] {
  const blocks: ServerBlock[] = [];
  const lines = conf.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "server {") continue;
    const start = i;
    while (lines[i] !== "}") i++;
    const text = lines.slice(start, i + 1).join("\n");
    const names = /^\s*server_name (.*);$/m.exec(text)?.[1].split(" ") ?? [];
    const pass = /^\s*proxy_pass http:\/\/127\.0\.0\.1:(\d+);$/m.exec(text);
    blocks.push({ names, defaultServer: /default_server;/.test(text), upstreamPort: pass ? Number(pass[1]) : null, text });
  }
  return blocks;
}

/** What portal.nix does with builtins.replaceStrings, with local folders for store paths. */
export function fillPlaceholders(text: string, paths: Record<keyof typeof PLACEHOLDERS, string>): string {
  let out = text;
  for (const [key, placeholder] of Object.entries(PLACEHOLDERS)) {
    out = out.split(placeholder).join(paths[key as keyof typeof PLACEHOLDERS]);
  }
  if (/@[A-Za-z]+@/.test(out)) throw new Error(`placeholder left in the nginx config: ${/@[A-Za-z]+@/.exec(out)?.[0]}`);
  return out;
}
