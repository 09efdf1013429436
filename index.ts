/**
 * The homelab program. Reads the stack, validates it with the catalog,
 * resolves secrets once, then declares the Cloudflare edge and the NixOS host.
 * Everything it declares comes from the catalog (components/catalog/services.ts)
 * through the same renderers `npm start` uses.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import { enabledSecrets, enabledServices, type Homelab } from "./components/catalog/resolve";
import { readPulumiStack } from "./components/config/pulumi";
import { Edge } from "./components/edge/edge";
import { bundleFromOutputs } from "./components/host/bundle";
import { healthChecksFor, pinnedHostKey } from "./components/host/commands";
import { NixosHost } from "./components/host/nixos-host";
import { renderOutputs } from "./components/render/outputs";
import { renderPlan } from "./components/render/plan";
import { resolveStackSecrets, type StackSecrets } from "./components/secrets/stack";
import { GeneratedSecretsItem } from "./components/secrets/writeback";

/** Deploy prerequisites, checked before anything is declared so a failure changes nothing. */
function checkDeployConfig(lab: Homelab, secretKeys: Record<string, string>): void {
  const { config } = lab;
  if (!config.deploy) return;
  pinnedHostKey(config.ssh.hostKey, config.ssh.host, config.ssh.port);
  if (!secretKeys.sshPrivateKey) {
    throw new Error(
      `no SSH private key for ${config.ssh.user}@${config.ssh.host}: run pulumi config set --secret homelab:sshPrivateKey < ~/.ssh/<key> --stack ${config.stack}, or set homelab:deploy false`,
    );
  }
}

function createEdge(lab: Homelab, secrets: StackSecrets): Edge | undefined {
  const { config } = lab;
  if (config.edge !== "cloudflare") return undefined;
  const provider = new cloudflare.Provider(`cloudflare-${config.stack}`, { apiToken: secrets.cloudflareApiToken });
  const edge = new Edge(`edge-${config.stack}`, { lab, tunnelSecretGeneration: config.tunnelSecretGeneration }, { providers: { cloudflare: provider } });
  if (config.secrets.generatedItem && secrets.onePasswordToken) {
    new GeneratedSecretsItem(`generated-secrets-${config.stack}`, {
      token: secrets.onePasswordToken,
      vault: config.secrets.vault,
      title: config.secrets.generatedItem,
      fields: {
        "tunnel-token": edge.tunnelToken,
        // Cloudflare shows a service token's secret only once, at creation.
        ...Object.fromEntries(
          Object.entries(edge.serviceTokens).flatMap(([id, t]) => [
            [`${id}-access-client-id`, t.apply((c) => c.clientId)],
            [`${id}-access-client-secret`, t.apply((c) => c.clientSecret)],
          ]),
        ),
      },
    });
  }
  return edge;
}

function createHost(lab: Homelab, secretKeys: Record<string, string>, secrets: StackSecrets, edge: Edge | undefined): NixosHost | undefined {
  const { config } = lab;
  if (!config.deploy) return undefined;
  const generated: Record<string, pulumi.Output<string> | undefined> = { "cloudflared.tunnel-token": edge?.tunnelToken };
  return new NixosHost(
    `host-${config.stack}`,
    {
      connection: {
        host: config.ssh.host,
        port: config.ssh.port,
        user: config.ssh.user,
        hostKey: config.ssh.hostKey,
        privateKey: pulumi.secret(secretKeys.sshPrivateKey),
      },
      bundle: bundleFromOutputs(renderOutputs(lab)),
      secrets: enabledSecrets(lab).map((s) => {
        const value = s.ref === "generated" ? generated[s.key] : secrets.values.get(s.key);
        if (!value) throw new Error(`secret ${s.key} has no value: a generated secret needs its producer (the Cloudflare edge)`);
        return { ...s, value };
      }),
      paths: config.paths,
      healthChecks: healthChecksFor(enabledServices(lab)),
      keepGenerations: config.keepGenerations,
      healthTimeoutSeconds: config.healthTimeoutSeconds,
      detectDrift: config.detectDrift,
    },
    // The tunnel and its routes exist before cloudflared starts with the new token.
    { dependsOn: edge ? [edge] : [] },
  );
}

async function main() {
  const { lab, secretKeys } = readPulumiStack();
  checkDeployConfig(lab, secretKeys);
  const secrets = await resolveStackSecrets(lab, secretKeys);

  const edge = createEdge(lab, secrets);
  const host = createHost(lab, secretKeys, secrets, edge);

  const plan = renderPlan(lab);
  return {
    stack: lab.config.stack,
    services: plan.services.filter((s) => s.status === "enabled").map((s) => s.id),
    hostnames: edge?.hostnames ?? [],
    tunnelId: edge?.tunnelId,
    /** For API clients of LiteLLM and Ollama: `pulumi stack output --show-secrets accessServiceTokens`. */
    accessServiceTokens: edge ? pulumi.secret(pulumi.output(edge.serviceTokens)) : undefined,
    bundleHash: host?.bundleHash,
    drift: host?.drift,
  };
}

export = main();
