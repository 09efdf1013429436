import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ValidationError } from "../catalog/validate";
import { show } from "./schema";

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Read `Pulumi.<stack>.yaml` the way the Pulumi CLI would, for the offline
 * plan, which runs without the CLI. Secure values stay encrypted: the plan
 * never needs them. A file of the wrong shape is a ValidationError naming
 * what is wrong, like any other config problem.
 */
export function readStackFile(root: string, stack: string): Record<string, unknown> {
  const name = `Pulumi.${stack}.yaml`;
  const file = join(root, name);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(
      `stack "${stack}" has no ${file}; create it with \`pulumi stack init ${stack}\` or pick an existing stack with --stack`,
    );
  }
  const refuse = (field: string, message: string, fix: string): never => {
    throw new ValidationError(stack, [{ field, message, fix }]);
  };
  let doc: unknown;
  try {
    // Pulumi keeps config scalars as strings; the failsafe schema does the same.
    doc = parse(text, { schema: "failsafe", uniqueKeys: true });
  } catch (err) {
    return refuse(
      name,
      `is not valid YAML: ${(err as Error).message.split("\n")[0]}`,
      `fix the YAML syntax of ${name}`,
    );
  }
  if (doc === null || doc === undefined || doc === "") return {};
  if (!isMap(doc))
    return refuse(
      name,
      `must be a map with a config: key, got ${show(doc)}`,
      `write ${name} as "config:" followed by indented <namespace>:<key>: <value> lines`,
    );
  const config = doc.config;
  if (config === undefined || config === null || config === "") return {};
  if (!isMap(config)) {
    return refuse(
      "config",
      `config must be a map, got ${Array.isArray(config) ? "a list" : show(config)}`,
      `in ${name}, write each setting as "  homelab:<key>: <value>" under config:, without a leading "- "`,
    );
  }
  return config;
}
