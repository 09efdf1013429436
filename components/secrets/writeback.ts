import * as pulumi from "@pulumi/pulumi";

/** The parts of the 1Password SDK client the write-back uses. */
export interface OnePasswordItemsApi {
  vaults: { list(): Promise<{ id: string; title: string }[]> };
  items: {
    create(params: {
      category: string;
      vaultId: string;
      title: string;
      fields?: { id: string; title: string; fieldType: string; value: string }[];
      notes?: string;
    }): Promise<{ id: string }>;
    get(
      vaultId: string,
      itemId: string,
    ): Promise<
      { id: string; fields: { id: string; title: string; fieldType: string; value: string }[] } & Record<
        string,
        unknown
      >
    >;
    put(item: unknown): Promise<{ id: string }>;
  };
}

export interface GeneratedItemInputs {
  vault: string;
  title: string;
  /** Field name to value. */
  fields: Record<string, string>;
}

/**
 * Create or update the 1Password item that holds the program's generated
 * secrets, so the owner finds them next to the others. Returns the item id.
 */
export async function upsertGeneratedItem(
  api: OnePasswordItemsApi,
  inputs: GeneratedItemInputs,
  itemId?: string,
): Promise<{ itemId: string; vaultId: string }> {
  const vault = (await api.vaults.list()).find((v) => v.title === inputs.vault);
  if (!vault)
    throw new Error(
      `1Password vault "${inputs.vault}" not found or not shared with the service account; set homelab:opVault or share the vault`,
    );
  const fields = Object.keys(inputs.fields)
    .sort()
    .map((name) => ({ id: name, title: name, fieldType: "Concealed", value: inputs.fields[name] }));
  if (itemId) {
    const item = await api.items.get(vault.id, itemId);
    const kept = item.fields.filter((f) => !(f.id in inputs.fields));
    await api.items.put({ ...item, fields: [...kept, ...fields] });
    return { itemId, vaultId: vault.id };
  }
  const created = await api.items.create({
    category: "ApiCredentials",
    vaultId: vault.id,
    title: inputs.title,
    fields,
    notes: "Written by the homelab Pulumi program; rotate by changing the stack config, not here.",
  });
  return { itemId: created.id, vaultId: vault.id };
}

interface ProviderInputs extends GeneratedItemInputs {
  token: string;
}

/**
 * Runs inside the engine's dynamic-provider host, so it loads the SDK with
 * `require` rather than capturing this module's imports.
 */
const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: ProviderInputs) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sdk = require("@1password/sdk");
    const client = await sdk.createClient({
      auth: inputs.token,
      integrationName: "homelab",
      integrationVersion: "0.1.0",
    });
    const { itemId } = await upsertGeneratedItem(client, inputs);
    return { id: itemId, outs: inputs };
  },
  async update(id: string, _olds: ProviderInputs, news: ProviderInputs) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sdk = require("@1password/sdk");
    const client = await sdk.createClient({
      auth: news.token,
      integrationName: "homelab",
      integrationVersion: "0.1.0",
    });
    await upsertGeneratedItem(client, news, id);
    return { outs: news };
  },
  // Deleting the stack leaves the item: the owner may still need the values.
  async delete() {},
};

export interface GeneratedSecretsItemArgs {
  /** Service-account token with write access to the vault. */
  token: pulumi.Input<string>;
  /** Vault name. */
  vault: string;
  /** Item title. @example "homelab prod: generated" */
  title: string;
  /** Field name to generated value. */
  fields: Record<string, pulumi.Input<string>>;
}

/** The generated secrets, written back to 1Password. Every input is secret. */
export class GeneratedSecretsItem extends pulumi.dynamic.Resource {
  constructor(name: string, args: GeneratedSecretsItemArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        token: pulumi.secret(args.token),
        vault: args.vault,
        title: args.title,
        fields: pulumi.secret(pulumi.output(args.fields)),
      },
      { ...opts, additionalSecretOutputs: ["token", "fields"] },
    );
  }
}
