/**
 * The homelab program. Reads the stack, validates it with the catalog,
 * resolves secrets once, then declares the Cloudflare edge and the NixOS host.
 * Everything it declares comes from the catalog (components/catalog/services.ts)
 * through the same renderers `npm start` uses.
 */
import * as cloudflare from "@pulumi/cloudflare";
import { readPulumiStack } from "./components/config/pulumi";
import { Edge } from "./components/edge/edge";
import { renderPlan } from "./components/render/plan";
import { resolveStackSecrets } from "./components/secrets/stack";

async function main() {
  const { lab, secretKeys } = readPulumiStack();
  const { config } = lab;
  const secrets = await resolveStackSecrets(lab, secretKeys);

  let edge: Edge | undefined;
  if (config.edge === "cloudflare") {
    const provider = new cloudflare.Provider(`cloudflare-${config.stack}`, { apiToken: secrets.cloudflareApiToken });
    edge = new Edge(`edge-${config.stack}`, { lab, tunnelSecretGeneration: config.tunnelSecretGeneration }, { providers: { cloudflare: provider } });
  }

  const plan = renderPlan(lab);
  return {
    stack: config.stack,
    services: plan.services.filter((s) => s.status === "enabled").map((s) => s.id),
    hostnames: edge?.hostnames ?? [],
    tunnelId: edge?.tunnelId,
  };
}

export = main();
