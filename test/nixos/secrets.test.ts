import { describe, expect, it } from "vitest";
import { enabledSecrets } from "../../components/catalog/resolve";
import { readStackFile } from "../../components/config/file";
import { CONFIG_KEYS } from "../../components/config/schema";
import { loadStack } from "../../components/config/load";
import { renderOutputs } from "../../components/render/outputs";
import { ROOT, prefixed, stackFromFile } from "./helpers";

const CANARY = "s3cr3t-CANARY-7f3a9c1e";

describe("secret values never reach the bundle", () => {
  // The renderer takes no secret values at all; this proves it stays that
  // way by feeding a recognisable value to every input that can carry one.
  const secretKeys = Object.entries(CONFIG_KEYS)
    .filter(([, spec]) => spec.secret)
    .map(([key]) => key);
  const everySecret = Object.fromEntries(
    enabledSecrets(stackFromFile("prod")).map((s) => [s.key, `${CANARY}-${s.key}`]),
  );

  const raw = {
    ...readStackFile(ROOT, "prod"),
    ...prefixed({
      credentialsSource: "config",
      ...Object.fromEntries(secretKeys.map((key) => [key, CANARY])),
      secretValues: JSON.stringify(everySecret),
    }),
  };
  // As the program gets them: decrypted, with the engine's list of secret keys.
  const loaded = loadStack("prod", raw, undefined, "plan", {
    engineSecrets: secretKeys.map((key) => `homelab:${key}`),
  });
  const outputs = renderOutputs(loaded.lab);

  it("accepts the canary through every secret config key", () => {
    expect(secretKeys).toEqual(
      expect.arrayContaining(["secretValues", "sshPrivateKey", "cloudflareApiToken", "onePasswordToken"]),
    );
    for (const key of secretKeys) {
      expect(loaded.secretKeys[key], `homelab:${key}`).toContain(CANARY);
    }
  });

  it("finds the canary in no output file", () => {
    expect(outputs.size).toBeGreaterThan(5);
    for (const [path, content] of outputs) {
      expect(content.includes(CANARY), `${path} contains a secret value`).toBe(false);
    }
  });

  it("keeps the canary out of the resolved homelab the renderers see", () => {
    expect(JSON.stringify(loaded.lab)).not.toContain(CANARY);
  });

  it("renders the same bundle with and without secret values", () => {
    const plain = renderOutputs(stackFromFile("prod"));
    const bundle = [...plain].filter(([path]) => path.startsWith("hosts/nixos/nixos/"));
    expect(bundle.length, "the prod host's bundle files").toBeGreaterThan(5);
    for (const [path, content] of bundle) expect(outputs.get(path), path).toBe(content);
  });
});
