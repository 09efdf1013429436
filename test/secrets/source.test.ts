import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import type { ResolveAllResponse } from "@1password/sdk";
import { CATALOG } from "../../components/catalog/services";
import { resolveHomelab } from "../../components/catalog/resolve";
import { connectOnePassword } from "../../components/secrets/onepassword";
import {
  ConfigSource,
  OnePasswordSource,
  referenceUsers,
  referencedSecrets,
  type OnePasswordSecretsApi,
} from "../../components/secrets/source";
import { resolveStackSecrets } from "../../components/secrets/stack";
import { config } from "../spine/fixtures";

/** A fake 1Password: the SDK's resolveAll shape, with per-reference errors. */
function fakeOnePassword(vault: Record<string, string>, calls: string[][] = []): OnePasswordSecretsApi {
  return {
    async resolveAll(refs: string[]): Promise<ResolveAllResponse> {
      calls.push(refs);
      const individualResponses: ResolveAllResponse["individualResponses"] = {};
      for (const ref of refs) {
        const [, , vaultName, item] = ref.split("/");
        if (ref in vault)
          individualResponses[ref] = { content: { secret: vault[ref], itemId: "item", vaultId: "vault" } };
        else if (vaultName !== "Homelab") individualResponses[ref] = { error: { type: "vaultNotFound" } as never };
        else if (!Object.keys(vault).some((k) => k.startsWith(`op://Homelab/${item}/`)))
          individualResponses[ref] = { error: { type: "itemNotFound" } as never };
        else individualResponses[ref] = { error: { type: "fieldNotFound" } as never };
      }
      return { individualResponses };
    },
  };
}

const lab = resolveHomelab(CATALOG, config());
const secrets = referencedSecrets(lab);
const everyRef = [...referenceUsers(secrets).keys(), "op://Homelab/Cloudflare/api-token"];
const CF_TOKEN = "cfut_0123456789abcdefghijklmnopqrstuvwxyzABCD";
const fullVault = Object.fromEntries(
  everyRef.map((r) => [r, r.endsWith("/Cloudflare/api-token") ? CF_TOKEN : `value:${r}`]),
);

function isSecret(o: pulumi.Output<string>): Promise<boolean> {
  return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}

describe("the 1Password source", () => {
  it("resolves every reference of the enabled services in one resolveAll call", async () => {
    const calls: string[][] = [];
    const result = await resolveStackSecrets(lab, {}, { OP_SERVICE_ACCOUNT_TOKEN: "ops_x" }, async () =>
      fakeOnePassword(fullVault, calls),
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual([...new Set(everyRef)].sort());
    expect(result.values.size).toBe(secrets.length);
  });

  it("asks once for a reference two services share", async () => {
    const calls: string[][] = [];
    await resolveStackSecrets(lab, {}, { OP_SERVICE_ACCOUNT_TOKEN: "ops_x" }, async () =>
      fakeOnePassword(fullVault, calls),
    );
    expect(calls[0].filter((r) => r === "op://Homelab/OpenAI/credential")).toHaveLength(1);
  });

  it("makes every value a Pulumi secret from the moment it is read", async () => {
    const result = await resolveStackSecrets(lab, {}, { OP_SERVICE_ACCOUNT_TOKEN: "ops_x" }, async () =>
      fakeOnePassword(fullVault),
    );
    for (const [key, value] of result.values) expect(await isSecret(value), key).toBe(true);
    expect(await isSecret(result.cloudflareApiToken!)).toBe(true);
  });

  it("names the variable and the config key when the token is missing", async () => {
    const connect = vi.fn();
    await expect(resolveStackSecrets(lab, {}, {}, connect)).rejects.toThrow(
      /OP_SERVICE_ACCOUNT_TOKEN.*homelab:onePasswordToken/,
    );
    expect(connect).not.toHaveBeenCalled();
  });

  it("takes the token from secret config when the variable is unset", async () => {
    const connect = vi.fn(async () => fakeOnePassword(fullVault));
    await resolveStackSecrets(lab, { onePasswordToken: "ops_from_config" }, {}, connect);
    expect(connect).toHaveBeenCalledWith("ops_from_config");
  });

  it("lists every failing reference at once, with the services that use it", async () => {
    const partial = { ...fullVault };
    delete partial["op://Homelab/Backblaze B2/keyID"];
    delete partial["op://Homelab/Tailscale/auth-key"];
    const err = await resolveStackSecrets(lab, {}, { OP_SERVICE_ACCOUNT_TOKEN: "ops_x" }, async () =>
      fakeOnePassword(partial),
    ).catch((e: Error) => e);
    expect(String(err)).toContain("2 1Password references could not be resolved");
    expect(String(err)).toContain("op://Homelab/Backblaze B2/keyID (used by backrest): no such field in the item");
    expect(String(err)).toContain("op://Homelab/Tailscale/auth-key (used by tailscale): no such item in the vault");
  });

  it("reports an unknown vault", async () => {
    const staging = resolveHomelab(
      CATALOG,
      config({ opVault: "Homelab-Staging", services: ["portal", "dashboard"] }, "staging"),
    );
    const err = await resolveStackSecrets(staging, {}, { OP_SERVICE_ACCOUNT_TOKEN: "ops_x" }, async () =>
      fakeOnePassword(fullVault),
    ).catch((e: Error) => e);
    expect(String(err)).toContain(
      "op://Homelab-Staging/Home Assistant/long-lived-token (used by dashboard): no such vault",
    );
  });

  it("says 1Password is unreachable when the request fails", async () => {
    const down: OnePasswordSecretsApi = {
      resolveAll: async () => {
        throw new Error("connect ETIMEDOUT");
      },
    };
    await expect(
      new OnePasswordSource(async () => down).resolveAll(["op://Homelab/OpenAI/credential"]),
    ).rejects.toThrow(/1Password unreachable: connect ETIMEDOUT/);
  });

  it("rejects malformed references offline with the SDK's validator, before connecting", async () => {
    const connect = vi.fn();
    const err = await new OnePasswordSource(connect, new Map([["op://Homelab/OpenAI", ["home-assistant"]]]))
      .resolveAll(["op://Homelab/OpenAI"])
      .catch((e: Error) => e);
    expect(String(err)).toMatch(
      /malformed 1Password references:\n {2}- op:\/\/Homelab\/OpenAI \(used by home-assistant\): .*invalid format/,
    );
    expect(connect).not.toHaveBeenCalled();
  });

  it("refuses a Cloudflare API token the provider would refuse, naming where it came from but not the value", async () => {
    const vault = { ...fullVault, "op://Homelab/Cloudflare/api-token": "not a token\n" };
    const err = await resolveStackSecrets(lab, {}, { OP_SERVICE_ACCOUNT_TOKEN: "ops_x" }, async () =>
      fakeOnePassword(vault),
    ).catch((e: Error) => e);
    expect(String(err)).toMatch(
      /Cloudflare API token from op:\/\/Homelab\/Cloudflare\/api-token has leading or trailing whitespace.*API Tokens/,
    );
    expect(String(err)).not.toContain("not a token");
    const short = await resolveStackSecrets(
      lab,
      { cloudflareApiToken: "abc" },
      { OP_SERVICE_ACCOUNT_TOKEN: "ops_x" },
      async () => fakeOnePassword(fullVault),
    ).catch((e: Error) => e);
    expect(String(short)).toMatch(/from homelab:cloudflareApiToken is 3 characters long/);
  });

  it("surfaces the real SDK's token-format error without touching the network", async () => {
    const source = new OnePasswordSource(() => connectOnePassword("not-a-service-account-token"));
    await expect(source.resolveAll(["op://Homelab/OpenAI/credential"])).rejects.toThrow(
      /refused the session: .*service account token had invalid format/,
    );
  });
});

describe("the config source", () => {
  const lan = resolveHomelab(
    CATALOG,
    config(
      { edge: "none", credentialsSource: "config", services: ["portal", "dashboard", "home-assistant", "mosquitto"] },
      "ci",
    ),
  );

  it("reads values from homelab:secretValues by <service>.<secret>", async () => {
    const json = JSON.stringify(Object.fromEntries(referencedSecrets(lan).map((s) => [s.key, `v-${s.key}`])));
    const result = await resolveStackSecrets(lan, { secretValues: json }, {});
    expect(await new Promise((r) => result.values.get("mosquitto.password")!.apply(r))).toBe("v-mosquitto.password");
    expect(result.cloudflareApiToken).toBeUndefined();
  });

  it("lists every missing key with the command that sets it", async () => {
    const source = new ConfigSource("ci", referencedSecrets(lan), JSON.stringify({ "mosquitto.username": "u" }));
    const err = await source.resolveAll(referencedSecrets(lan).map((s) => s.ref)).catch((e: Error) => e);
    expect(String(err)).toContain(
      "lacks dashboard.hass-token, home-assistant.openai-api-key, home-assistant.anthropic-api-key, mosquitto.password",
    );
    expect(String(err)).toContain("pulumi config set --secret --path");
  });
});
