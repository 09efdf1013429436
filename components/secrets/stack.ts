import * as pulumi from "@pulumi/pulumi";
import type { Homelab } from "../catalog/resolve";
import { withVault } from "../catalog/resolve";
import { CONFIG_KEYS } from "../config/schema";
import { connectOnePassword } from "./onepassword";
import {
  ConfigSource,
  OnePasswordSource,
  SecretsError,
  onePasswordToken,
  referenceUsers,
  referencedSecrets,
  valuesByKey,
  type OnePasswordSecretsApi,
  type SecretsSource,
} from "./source";

export interface StackSecrets {
  /** Secret values by `<service>.<name>`, as Pulumi secrets. Generated secrets are absent. */
  values: Map<string, pulumi.Output<string>>;
  /** The Cloudflare provider's API token, when the stack has an edge. */
  cloudflareApiToken?: pulumi.Output<string>;
  /** The 1Password service-account token, for writing generated secrets back. */
  onePasswordToken?: pulumi.Output<string>;
}

/**
 * The shape the Cloudflare provider accepts for an API token (40 to 80 of
 * A-Z a-z 0-9 _ -); it refuses anything else, but only once a preview runs.
 */
const CLOUDFLARE_API_TOKEN = /^[A-Za-z0-9_-]{40,80}$/;

/** Throws, naming where the token came from and never its value, unless it has the provider's shape. */
export function checkCloudflareApiToken(token: string, from: string): void {
  if (CLOUDFLARE_API_TOKEN.test(token)) return;
  const why =
    token.trim() !== token
      ? "has leading or trailing whitespace"
      : `is ${token.length} characters long or holds characters other than A-Z a-z 0-9 _ -`;
  throw new SecretsError(
    `the Cloudflare API token from ${from} ${why}; Cloudflare's tokens are 40 to 80 of those characters. Copy it again from the Cloudflare dashboard (My Profile → API Tokens) into ${from}`,
  );
}

/** Where the Cloudflare API token lives in 1Password unless the stack says otherwise: homelab:cloudflareCredentialRef's default, for configs built by hand. */
export const DEFAULT_CLOUDFLARE_TOKEN_REF = CONFIG_KEYS.cloudflareCredentialRef.default as string;

/** The 1Password reference of the stack's Cloudflare API token, for the program and for npm run adopt. */
export function cloudflareApiTokenRef(config: Homelab["config"]): string {
  return withVault(config.cloudflareApiTokenRef ?? DEFAULT_CLOUDFLARE_TOKEN_REF, config.secrets.vault);
}

/**
 * Resolve every secret the stack needs in one request, before any resource
 * is declared, so a missing token or a bad reference changes nothing.
 */
export async function resolveStackSecrets(
  lab: Homelab,
  secretKeys: Record<string, string>,
  env: NodeJS.ProcessEnv = process.env,
  connect: (token: string) => Promise<OnePasswordSecretsApi> = connectOnePassword,
): Promise<StackSecrets> {
  const { config } = lab;
  const secrets = referencedSecrets(lab);
  const users = referenceUsers(secrets);

  let cloudflareRef: string | undefined;
  // Every missing credential is named in one run, not one per run.
  const missing: string[] = [];
  if (config.edge === "cloudflare" && secretKeys.cloudflareApiToken === undefined) {
    if (config.secrets.source !== "1password") {
      missing.push(
        `no Cloudflare API token: run pulumi config set --secret homelab:cloudflareApiToken <token> --stack ${config.stack}`,
      );
    } else {
      cloudflareRef = cloudflareApiTokenRef(config);
      users.set(cloudflareRef, [...(users.get(cloudflareRef) ?? []), "the Cloudflare provider"]);
    }
  }
  const refs = [...users.keys()].sort();

  let source: SecretsSource;
  let token: string | undefined;
  if (config.secrets.source === "1password") {
    token = onePasswordToken(env, secretKeys.onePasswordToken, config.stack);
    const auth = token;
    source = new OnePasswordSource(() => connect(auth), users);
  } else {
    source = new ConfigSource(config.stack, secrets, secretKeys.secretValues);
  }
  let byRef = new Map<string, string>();
  try {
    byRef = await source.resolveAll(refs);
  } catch (err) {
    if (!(err instanceof SecretsError) || missing.length === 0) throw err;
    missing.push(...err.problems);
  }
  if (missing.length > 0) throw SecretsError.all(config.stack, missing);

  const values = new Map<string, pulumi.Output<string>>();
  for (const [key, value] of valuesByKey(secrets, byRef)) values.set(key, pulumi.secret(value));
  const cfToken = secretKeys.cloudflareApiToken ?? (cloudflareRef ? byRef.get(cloudflareRef) : undefined);
  if (cfToken !== undefined) checkCloudflareApiToken(cfToken, cloudflareRef ?? "homelab:cloudflareApiToken");
  return {
    values,
    cloudflareApiToken: cfToken === undefined ? undefined : pulumi.secret(cfToken),
    onePasswordToken: token === undefined ? undefined : pulumi.secret(token),
  };
}
