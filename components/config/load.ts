import { adoptProblems } from "../adopt/declared";
import { CATALOG } from "../catalog/services";
import { resolveHomelab, type Homelab } from "../catalog/resolve";
import { STACK_NAME } from "../catalog/rules";
import type { ServiceEntry } from "../catalog/types";
import { fromConfigProblems, validateCatalog, ValidationError } from "../catalog/validate";
import {
  CONFIG_NAMESPACE,
  parseStackConfig,
  plainPrivateKeyFix,
  plainPrivateKeys,
  show,
  type ConfigSource,
  type ConfigUse,
} from "./schema";

export interface LoadedStack {
  lab: Homelab;
  /** Raw values of the secret config keys (the offline plan never reads them). */
  secretKeys: Record<string, string>;
}

/** Why a stack name is refused, or undefined; it names Pulumi.<stack>.yaml, the tunnel and the bucket. */
export function stackNameProblem(stack: string): string | undefined {
  return STACK_NAME.test(stack) ? undefined : `${show(stack)} is not a stack name`;
}

/**
 * The one validation pass, for `npm start` and the Pulumi program alike:
 * the stack config's schema, then every catalog rule against it, then the
 * two combined. `raw` maps full config keys (`homelab:domain`) to values;
 * keys of other namespaces (`cloudflare:apiToken`) belong to providers and
 * are ignored, except that no value anywhere may be a private key in plain
 * text. `from` says whether the values are the engine's, decrypted, and
 * which keys it holds as secrets (full keys, `homelab:sshPrivateKey`); by
 * default they are the stack file's. Throws a ValidationError listing every
 * problem at once.
 */
export function loadStack(
  stack: string,
  raw: Record<string, unknown>,
  catalog: readonly ServiceEntry[] = CATALOG,
  use: ConfigUse = "plan",
  from: ConfigSource = {},
): LoadedStack {
  const badName = stackNameProblem(stack);
  if (badName) {
    throw new ValidationError(stack, [
      {
        field: "stack",
        message: badName,
        fix: "use letters, digits, hyphens, underscores and periods, as `pulumi stack init` does",
      },
    ]);
  }
  const own: Record<string, unknown> = {};
  const stray: string[] = [];
  const foreignKeys: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const [ns, ...rest] = key.split(":");
    if (ns === CONFIG_NAMESPACE && rest.length > 0) own[rest.join(":")] = value;
    else {
      if (rest.length === 0) stray.push(key);
      // A provider's key (or one without a namespace) is not ours to check, but a private key in plain text is refused wherever it is.
      if (!from.engineSecrets?.includes(key) && plainPrivateKeys(value).length > 0) foreignKeys.push(key);
    }
  }
  const prefix = `${CONFIG_NAMESPACE}:`;
  const engineSecrets = from.engineSecrets?.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const parsed = parseStackConfig(stack, own, use, { ...from, engineSecrets });
  const problems = fromConfigProblems(parsed.problems);
  for (const key of foreignKeys) {
    problems.push({ field: key, message: "holds a private key in plain text", fix: plainPrivateKeyFix(key, stack) });
  }
  for (const key of stray) {
    problems.push({
      field: key,
      message: "config key without a namespace",
      fix: `write it as ${CONFIG_NAMESPACE}:${key} in Pulumi.${stack}.yaml`,
    });
  }
  if (!parsed.config || problems.length > 0) throw new ValidationError(stack, problems);
  const catalogProblems = validateCatalog(catalog, parsed.config);
  if (catalogProblems.length > 0) throw new ValidationError(stack, catalogProblems);
  const lab = resolveHomelab(catalog, parsed.config);
  const adoptErrors = adoptProblems(lab);
  if (adoptErrors.length > 0) throw new ValidationError(stack, adoptErrors);
  return { lab, secretKeys: parsed.secretKeys };
}
