/**
 * The 1Password service cannot be reached from here. This stands in for the
 * SDK module: createClient returns a client whose resolveAll answers every
 * reference with `prefix + reference`; everything else, the reference
 * validator included, is the real SDK.
 */
export function fakeOnePasswordSdk<T extends object>(actual: T, prefix: string): T {
  return {
    ...actual,
    createClient: async () => ({
      secrets: {
        resolveAll: async (refs: string[]) => ({
          individualResponses: Object.fromEntries(refs.map((r) => [r, { content: { secret: `${prefix}${r}`, itemId: "i", vaultId: "v" } }])),
        }),
      },
      items: {},
    }),
  };
}
