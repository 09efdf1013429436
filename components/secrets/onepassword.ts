import { createClient } from "@1password/sdk";
import type { OnePasswordSecretsApi } from "./source";

const INTEGRATION = { integrationName: "homelab", integrationVersion: "0.1.0" };

/**
 * A 1Password SDK client for a service-account token. The SDK checks the
 * token's format before it touches the network.
 */
export async function connectOnePassword(
  token: string,
): Promise<OnePasswordSecretsApi & { items: Awaited<ReturnType<typeof createClient>>["items"] }> {
  const client = await createClient({ auth: token, ...INTEGRATION });
  return { resolveAll: (refs) => client.secrets.resolveAll(refs), items: client.items };
}
