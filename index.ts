/**
 * The homelab program. Reads the stack, validates it with the catalog,
 * resolves secrets once, then declares the stack's home lab: one root
 * component named after the stack, one component per enabled service under
 * it (components/homelab.ts). Everything it declares comes from the catalog
 * (components/catalog/services.ts) through the same renderers `npm start` uses.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Homelab as Lab } from "./components/catalog/resolve";
import { labHosts } from "./components/catalog/resolve";
import { HOST_SSH_KEY_NAME } from "./components/config/hosts";
import { readPulumiStack } from "./components/config/pulumi";
import { pinnedHostKey } from "./components/host/commands";
import { Homelab } from "./components/homelab";
import { ValidationError } from "./components/catalog/validate";
import { SecretsError } from "./components/secrets/source";
import { resolveStackSecrets, type StackSecrets } from "./components/secrets/stack";

/** The value of an output the preview knows (an invoke's result). */
function settled<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) =>
    output.apply((v) => {
      resolve(v);
      return v;
    }),
  );
}

/** Deploy prerequisites, checked before anything is declared so a failure changes nothing: the login keys that are missing. */
function missingLoginKeys(lab: Lab, secretKeys: Record<string, string>): string[] {
  const { config } = lab;
  if (!config.deploy) return [];
  return labHosts(lab).flatMap((host) => {
    pinnedHostKey(host.ssh.hostKey, host.ssh.host, host.ssh.port);
    if (secretKeys[host.sshKeyConfig]) return [];
    return [
      `no SSH private key for ${host.ssh.user}@${host.ssh.host} (host "${host.name}"): run pulumi config set --secret homelab:${host.sshKeyConfig} < ~/.ssh/<key> --stack ${config.stack}, or set homelab:deploy false`,
    ];
  });
}

/** The stack's secrets; every missing credential, login keys included, is named in one error. */
async function stackSecrets(lab: Lab, secretKeys: Record<string, string>) {
  const missing = missingLoginKeys(lab, secretKeys);
  let secrets: StackSecrets | undefined;
  try {
    secrets = await resolveStackSecrets(lab, secretKeys);
  } catch (err) {
    if (!(err instanceof SecretsError) || missing.length === 0) throw err;
    missing.push(...err.problems);
  }
  if (missing.length > 0 || secrets === undefined) throw SecretsError.all(lab.config.stack, missing);
  return secrets;
}

async function main() {
  const { lab, secretKeys } = readPulumiStack();
  const secrets = await stackSecrets(lab, secretKeys);

  const homelab = new Homelab(lab.config.stack, {
    lab,
    secrets,
    sshPrivateKey: secretKeys.sshPrivateKey === undefined ? undefined : pulumi.secret(secretKeys.sshPrivateKey),
    sshPrivateKeys: Object.fromEntries(
      Object.entries(secretKeys)
        .filter(([k]) => HOST_SSH_KEY_NAME.test(k))
        .map(([k, v]) => [k, pulumi.secret(v)]),
    ),
  });

  // A route whose hostname already holds a record the stack neither made nor adopts: every one, before anything changes.
  const conflicts = (
    await Promise.all(Object.values(homelab.services).flatMap((s) => (s.dnsConflict ? [settled(s.dnsConflict)] : [])))
  ).filter((c): c is string => c !== undefined);
  if (conflicts.length > 0) {
    throw new pulumi.RunError(
      `${conflicts.length} route${conflicts.length === 1 ? "" : "s"} of stack ${lab.config.stack} already ${conflicts.length === 1 ? "has a record" : "have records"} in Cloudflare:\n${conflicts.map((c) => `  - ${c}`).join("\n")}`,
    );
  }

  const outputs = {
    stack: lab.config.stack,
    /** Every enabled service: public URL, local URL, protection, host and units. */
    services: pulumi.output(homelab.serviceSummaries),
    hostnames: Object.values(homelab.serviceSummaries).flatMap((s) =>
      s.publicUrl ? [new URL(s.publicUrl).hostname] : [],
    ),
    tunnelId: homelab.tunnelId,
    /** For API clients of LiteLLM and Ollama: `pulumi stack output --show-secrets accessServiceTokens`. */
    accessServiceTokens: homelab.accessServiceTokens,
    /** The bundle this program declares for the first host; the host runs it once an up succeeds. */
    declaredBundleHash: homelab.host?.bundleHash,
    /** The bundle the first host runs, as its last successful apply reported it; after a failed up it is still the previous one. */
    appliedBundleHash: homelab.host?.appliedBundleHash,
    /** Each host's declared and applied bundle, by host name. */
    declaredBundleHashes: Object.fromEntries(Object.entries(homelab.hosts).map(([n, h]) => [n, h.bundleHash])),
    appliedBundleHashes: Object.fromEntries(Object.entries(homelab.hosts).map(([n, h]) => [n, h.appliedBundleHash])),
  };
  // An undefined output only earns a warning on every run (the LAN-only ci stack has no tunnel).
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
}

/**
 * A mistake in the stack's config or secrets is reported as its own
 * formatted text: the Pulumi runtime prints any other error with
 * util.inspect, a coloured object dump with a trace.
 */
function asUserError(err: unknown): never {
  if (err instanceof ValidationError || err instanceof SecretsError) throw new pulumi.RunError(err.message);
  throw err;
}

const program = main().catch(asUserError);
// The Pulumi runtime awaits this promise only after a failing program has
// rejected it; handled now, Node does not add a PromiseRejectionHandledWarning
// to the program's own error, which the runtime still reports.
program.catch(() => undefined);
export = program;
