import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import type { Homelab } from "../../components/catalog/resolve";
import { join } from "node:path";

export const ROOT = join(__dirname, "..", "..");
export const STACKS = ["prod", "staging", "ci"] as const;

/** A stack's lab from its Pulumi.<stack>.yaml, with `extra` keys (`homelab:` prefix) on top. */
export function stackLab(stack: string, extra: Record<string, unknown> = {}): Homelab {
  return loadStack(stack, { ...readStackFile(ROOT, stack), ...extra }).lab;
}

/**
 * Strings that look like a credential, whatever service issued it: PEM
 * private keys, JWTs (the tunnel token is one), 1Password service-account
 * tokens, Access client secrets and long runs of hex or base64 with no word
 * boundary (a Cloudflare API token is 40 of them).
 */
export const SECRET_LOOKING: [string, RegExp][] = [
  ["private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["JWT", /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  ["1Password service-account token", /\bops_[A-Za-z0-9]{16,}/],
  ["Access client secret", /CF-Access-Client-Secret:\s*[A-Za-z0-9]{16,}/i],
  ["API token", /(?<![A-Za-z0-9_\-/.])[A-Za-z0-9_-]{40,80}(?![A-Za-z0-9_\-/.])/],
];

/** Every credential-looking match in `text`, named. */
export function secretLooking(text: string): string[] {
  return SECRET_LOOKING.flatMap(([name, re]) => {
    const m = re.exec(text);
    return m ? [`${name}: ${m[0].slice(0, 12)}…`] : [];
  });
}
