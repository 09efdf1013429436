import { resolve } from "node:path";
import { inflateSync } from "node:zlib";
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
    blocks.push({
      names,
      defaultServer: /default_server;/.test(text),
      upstreamPort: pass ? Number(pass[1]) : null,
      text,
    });
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

/**
 * The pixels of a PNG as rgba rows: just enough of the format for what
 * librsvg writes (8-bit RGBA or RGB, not interlaced).
 */
export function decodePng(data: Buffer): { width: number; height: number; rgba: Buffer } {
  if (!data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    throw new Error("not a PNG");
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < data.length; ) {
    const length = data.readUInt32BE(at);
    const type = data.toString("latin1", at + 4, at + 8);
    const body = data.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0)
        throw new Error(`unsupported PNG: bit depth ${body[8]}, interlace ${body[12]}`);
      colorType = body[9];
    } else if (type === "IDAT") idat.push(body);
    at += 12 + length;
  }
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  if (!channels) throw new Error(`unsupported PNG colour type ${colorType}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      if (predictor === undefined) throw new Error(`bad PNG filter ${filter}`);
      line[i] = (line[i] + predictor) & 255;
    }
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) out[(y * width + x) * 4 + k] = line[x * channels + k];
      out[(y * width + x) * 4 + 3] = channels === 4 ? line[x * channels + 3] : 255;
    }
    prev = line;
  }
  return { width, height, rgba: out };
}
