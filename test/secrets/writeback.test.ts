import { describe, expect, it } from "vitest";
import { upsertGeneratedItem, type OnePasswordItemsApi } from "../../components/secrets/writeback";

/** A fake 1Password items and vaults API, keeping items in memory. */
function fakeItems() {
  const items = new Map<
    string,
    {
      id: string;
      title: string;
      vaultId: string;
      fields: { id: string; title: string; fieldType: string; value: string }[];
    }
  >();
  const api: OnePasswordItemsApi = {
    vaults: { list: async () => [{ id: "v1", title: "Homelab" }] },
    items: {
      create: async (p) => {
        const id = `item-${items.size + 1}`;
        items.set(id, { id, title: p.title, vaultId: p.vaultId, fields: p.fields ?? [] });
        return { id };
      },
      get: async (_v, id) => ({ ...items.get(id)! }),
      put: async (item) => {
        const i = item as { id: string };
        items.set(i.id, item as never);
        return { id: i.id };
      },
    },
  };
  return { api, items };
}

describe("writing generated secrets back to 1Password", () => {
  it("creates one item with a concealed field per secret", async () => {
    const { api, items } = fakeItems();
    const { itemId } = await upsertGeneratedItem(api, {
      vault: "Homelab",
      title: "homelab prod: generated",
      fields: { "tunnel-token": "t1" },
    });
    expect(items.get(itemId)).toMatchObject({
      vaultId: "v1",
      title: "homelab prod: generated",
      fields: [{ id: "tunnel-token", fieldType: "Concealed", value: "t1" }],
    });
  });

  it("updates the same item in place when a secret is rotated", async () => {
    const { api, items } = fakeItems();
    const { itemId } = await upsertGeneratedItem(api, {
      vault: "Homelab",
      title: "t",
      fields: { "tunnel-token": "t1" },
    });
    await upsertGeneratedItem(api, { vault: "Homelab", title: "t", fields: { "tunnel-token": "t2" } }, itemId);
    expect(items.size).toBe(1);
    expect(items.get(itemId)!.fields).toEqual([
      { id: "tunnel-token", title: "tunnel-token", fieldType: "Concealed", value: "t2" },
    ]);
  });

  it("names the vault and the fix when the vault is not shared", async () => {
    const { api } = fakeItems();
    await expect(upsertGeneratedItem(api, { vault: "Nope", title: "t", fields: {} })).rejects.toThrow(
      /vault "Nope" not found .*homelab:opVault/,
    );
  });
});
