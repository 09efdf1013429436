import * as pulumi from "@pulumi/pulumi";
import { loadStack, type LoadedStack } from "./load";
import { CATALOG } from "../catalog/services";

/**
 * The Pulumi program's view of the stack config. This is the only place that
 * reads the engine's config; everything else receives the typed result.
 * Secret keys come back as plain strings here and are wrapped as Pulumi
 * secrets by their single consumer. Read for "program" use: unlike the
 * offline plan, the program hands the Cloudflare ids to Cloudflare, so their
 * placeholders are refused here.
 *
 * The engine gives every value decrypted, so which keys are secrets comes
 * from its list (PULUMI_CONFIG_SECRET_KEYS, read by the SDK's
 * isConfigSecret): a secret key the stack file holds in plain text is
 * refused here as it is by the offline plan. An SDK without isConfigSecret
 * cannot say, and then every key is taken as a secret (the offline plan
 * still reads the file itself).
 *
 * HOMELAB_TEST_HOST_ROOT is for the engine tests only: the test host keeps a
 * fake host under a temporary directory, and the host directories are
 * checked below it (ConfigSource.hostRoot). The offline plan never reads it.
 */
export function readPulumiStack(): LoadedStack {
  const raw = pulumi.runtime.allConfig();
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
  const engineSecrets = Object.keys(raw).filter(
    (key) => !isSecret || isSecret(key) || isSecret(key.replace(":", ":config:")),
  );
  const hostRoot = process.env.HOMELAB_TEST_HOST_ROOT || undefined;
  return loadStack(pulumi.getStack(), raw, CATALOG, "program", { engineSecrets, hostRoot });
}
