import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/**
 * Read `Pulumi.<stack>.yaml` the way the Pulumi CLI would, for the offline
 * plan, which runs without the CLI. Secure values stay encrypted: the plan
 * never needs them.
 */
export function readStackFile(root: string, stack: string): Record<string, unknown> {
  const file = join(root, `Pulumi.${stack}.yaml`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`stack "${stack}" has no ${file}; create it with \`pulumi stack init ${stack}\` or pick an existing stack with --stack`);
  }
  // Pulumi keeps config scalars as strings; the failsafe schema does the same.
  const doc = (parse(text, { schema: "failsafe" }) ?? {}) as { config?: Record<string, unknown> };
  return doc.config ?? {};
}
