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
 * boundary (a Cloudflare API token is 40 of them). A run in one case
 * joined by `_` or `-` is a name, not a token: an environment variable
 * (`PULUMI_…`) or a heading's slug. Random base64 is never in one case, and
 * hex has no separator, so both are still caught.
 */
export const SECRET_LOOKING: [string, RegExp][] = [
  ["private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["JWT", /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  ["1Password service-account token", /\bops_[A-Za-z0-9]{16,}/],
  ["Access client secret", /CF-Access-Client-Secret:\s*[A-Za-z0-9]{16,}/i],
  ["API token", /(?<![A-Za-z0-9_\-/.])[A-Za-z0-9_-]{40,80}(?![A-Za-z0-9_\-/.])/],
];

const isName = (run: string) => /[-_]/.test(run) && (run === run.toUpperCase() || run === run.toLowerCase());

/** Every credential-looking match in `text`, named. */
export function secretLooking(text: string): string[] {
  return SECRET_LOOKING.flatMap(([name, re]) => {
    const hits = [...text.matchAll(new RegExp(re.source, `${re.flags}g`))].map((m) => m[0]);
    const m = name === "API token" ? hits.find((hit) => !isName(hit)) : hits[0];
    return m ? [`${name}: ${m.slice(0, 12)}…`] : [];
  });
}
