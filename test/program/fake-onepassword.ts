/**
 * The 1Password service cannot be reached from here. This stands in for the
 * SDK module: createClient returns a client whose resolveAll answers every
 * reference with `prefix + reference`, or with the value the JSON map in
 * FAKE_OP_VALUES gives it (a rotated secret); everything else, the
 * reference validator included, is the real SDK.
 */
/** `prefix + reference`, except where the real value has a shape the program checks: the Cloudflare API token. */
function fakeValue(prefix: string, ref: string): string {
  if (ref.endsWith("/Cloudflare/api-token")) return `${prefix.replace(/[^A-Za-z0-9_-]/g, "")}${"x".repeat(40)}`;
  return `${prefix}${ref}`;
}

export function fakeOnePasswordSdk<T extends object>(actual: T, prefix: string): T {
  return {
    ...actual,
    createClient: async () => ({
      secrets: {
        resolveAll: async (refs: string[]) => {
          const rotated = JSON.parse(process.env.FAKE_OP_VALUES ?? "{}") as Record<string, string>;
          return {
            individualResponses: Object.fromEntries(
              refs.map((r) => [
                r,
                { content: { secret: rotated[r] ?? fakeValue(prefix, r), itemId: "i", vaultId: "v" } },
              ]),
            ),
          };
        },
      },
      items: {},
    }),
  };
}
