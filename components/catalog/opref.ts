import { Secrets } from "@1password/sdk";

/** The SDK's own parser decides what a well-formed secret reference is. */
export function opReferenceError(ref: string): string | undefined {
  try {
    Secrets.validateSecretReference(ref);
    return undefined;
  } catch (err) {
    // The SDK's errors carry a JSON body: {"name": ..., "message": ...}.
    const raw = (err as { message?: string }).message ?? String(err);
    try {
      return (JSON.parse(raw) as { message?: string }).message ?? raw;
    } catch {
      return raw;
    }
  }
}
