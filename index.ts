/**
 * The homelab program. Reads the stack, validates it with the catalog,
 * resolves secrets once, then declares the stack's home lab: one root
 * component named after the stack, one component per enabled service under
 * it (components/homelab.ts). Everything it declares comes from the catalog
 * (components/catalog/services.ts) through the same renderers `npm start` uses.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Homelab as Lab } from "./components/catalog/resolve";
import { readPulumiStack } from "./components/config/pulumi";
import { pinnedHostKey } from "./components/host/commands";
import { Homelab } from "./components/homelab";
import { resolveStackSecrets } from "./components/secrets/stack";

/** Deploy prerequisites, checked before anything is declared so a failure changes nothing. */
function checkDeployConfig(lab: Lab, secretKeys: Record<string, string>): void {
  const { config } = lab;
  if (!config.deploy) return;
  pinnedHostKey(config.ssh.hostKey, config.ssh.host, config.ssh.port);
  if (!secretKeys.sshPrivateKey) {
    throw new Error(
      `no SSH private key for ${config.ssh.user}@${config.ssh.host}: run pulumi config set --secret homelab:sshPrivateKey < ~/.ssh/<key> --stack ${config.stack}, or set homelab:deploy false`,
    );
  }
}

async function main() {
  const { lab, secretKeys } = readPulumiStack();
  checkDeployConfig(lab, secretKeys);
  const secrets = await resolveStackSecrets(lab, secretKeys);

  const homelab = new Homelab(lab.config.stack, {
    lab,
    secrets,
    sshPrivateKey: secretKeys.sshPrivateKey === undefined ? undefined : pulumi.secret(secretKeys.sshPrivateKey),
  });

  const outputs = {
    stack: lab.config.stack,
    /** Every enabled service: public URL, local URL, protection, host and units. */
    services: pulumi.output(homelab.serviceSummaries),
    hostnames: Object.values(homelab.serviceSummaries).flatMap((s) => (s.publicUrl ? [new URL(s.publicUrl).hostname] : [])),
    tunnelId: homelab.tunnelId,
    /** For API clients of LiteLLM and Ollama: `pulumi stack output --show-secrets accessServiceTokens`. */
    accessServiceTokens: homelab.accessServiceTokens,
    bundleHash: homelab.host?.bundleHash,
  };
  // An undefined output only earns a warning on every run (the LAN-only ci stack has no tunnel).
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
}

const program = main();
// The Pulumi runtime awaits this promise only after a failing program has
// rejected it; handled now, Node does not add a PromiseRejectionHandledWarning
// to the program's own error, which the runtime still reports.
program.catch(() => undefined);
export = program;
