import * as pulumi from "@pulumi/pulumi";
import { loadStack, type LoadedStack } from "./load";

/**
 * The Pulumi program's view of the stack config. This is the only place that
 * reads the engine's config; everything else receives the typed result.
 * Secret keys come back as plain strings here and are wrapped as Pulumi
 * secrets by their single consumer.
 */
export function readPulumiStack(): LoadedStack {
  return loadStack(pulumi.getStack(), pulumi.runtime.allConfig());
}
