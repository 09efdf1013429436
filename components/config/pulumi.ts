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
 */
export function readPulumiStack(): LoadedStack {
  return loadStack(pulumi.getStack(), pulumi.runtime.allConfig(), CATALOG, "program");
}
