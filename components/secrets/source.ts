import type { ResolveAllResponse } from "@1password/sdk";
import type { Homelab, ResolvedSecret } from "../catalog/resolve";
import { enabledSecrets } from "../catalog/resolve";
import { opReferenceError } from "../catalog/opref";

/**
 * Where secret values come from. The one call per program run keeps a
 * 1Password service account inside its hourly and daily request quotas.
 */
export interface SecretsSource {
  /** Human name for error messages. */
  readonly name: string;
  /** Resolve every reference at once; throws listing every failure. */
  resolveAll(refs: string[]): Promise<Map<string, string>>;
}

/** The part of the 1Password SDK client this program uses. */
export interface OnePasswordSecretsApi {
  resolveAll(secretReferences: string[]): Promise<ResolveAllResponse>;
}

export class SecretsError extends Error {
  /** Each missing or bad credential, one sentence with its fix. */
  readonly problems: string[];

  constructor(message: string, problems: string[] = [message]) {
    super(message);
    this.name = "SecretsError";
    this.problems = problems;
  }

  /** One error for several missing credentials, so a run names them all at once. */
  static all(stack: string, problems: string[]): SecretsError {
    if (problems.length === 1) return new SecretsError(problems[0]);
    return new SecretsError(
      `stack ${stack} lacks ${problems.length} credentials:\n${problems.map((m) => `  - ${m}`).join("\n")}`,
      problems,
    );
  }
}

/** The secrets of the enabled services that a source must resolve (not the generated ones). */
export function referencedSecrets(lab: Homelab): ResolvedSecret[] {
  return enabledSecrets(lab).filter((s) => s.ref !== "generated");
}

/** Every distinct reference, sorted, with the services that use it. */
export function referenceUsers(secrets: ResolvedSecret[]): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const s of [...secrets].sort((a, b) => a.ref.localeCompare(b.ref))) {
    const list = users.get(s.ref) ?? [];
    if (!list.includes(s.serviceId)) list.push(s.serviceId);
    users.set(s.ref, list);
  }
  return users;
}

const REASONS: Record<string, string> = {
  vaultNotFound: "no such vault, or the service account cannot read it",
  itemNotFound: "no such item in the vault",
  fieldNotFound: "no such field in the item",
  tooManyVaults: "more than one vault has that name",
  tooManyItems: "more than one item has that name",
  tooManyMatchingFields: "more than one field has that name",
  noMatchingSections: "no such section in the item",
  parsing: "the reference is malformed",
};

/**
 * 1Password through the SDK's `secrets.resolveAll`. `client` is created
 * lazily so that a missing token is reported before any network use.
 */
export class OnePasswordSource implements SecretsSource {
  readonly name = "1Password";

  constructor(
    private readonly connect: () => Promise<OnePasswordSecretsApi>,
    private readonly users: Map<string, string[]> = new Map(),
  ) {}

  async resolveAll(refs: string[]): Promise<Map<string, string>> {
    const malformed = refs.map((r) => [r, opReferenceError(r)] as const).filter(([, e]) => e);
    if (malformed.length > 0) {
      throw new SecretsError(
        `malformed 1Password references:\n${malformed.map(([r, e]) => `  - ${r} (${this.usedBy(r)}): ${e}`).join("\n")}`,
      );
    }
    if (refs.length === 0) return new Map();
    let api: OnePasswordSecretsApi;
    try {
      api = await this.connect();
    } catch (err) {
      throw new SecretsError(
        `1Password refused the session: ${(err as Error).message ?? String(err)}. Check the service-account token (OP_SERVICE_ACCOUNT_TOKEN or homelab:onePasswordToken); nothing was changed.`,
      );
    }
    let response: ResolveAllResponse;
    try {
      response = await api.resolveAll(refs);
    } catch (err) {
      throw new SecretsError(
        `1Password unreachable: ${(err as Error).message ?? String(err)}. Nothing was changed; check the network, then run again.`,
      );
    }
    const values = new Map<string, string>();
    const failures: string[] = [];
    for (const ref of refs) {
      const r = response.individualResponses[ref];
      if (r?.content !== undefined) {
        values.set(ref, r.content.secret);
      } else {
        const type = r?.error?.type ?? "missing";
        const reason =
          REASONS[type] ?? (r?.error && "message" in r.error && r.error.message ? String(r.error.message) : type);
        failures.push(`  - ${ref} (${this.usedBy(ref)}): ${reason}`);
      }
    }
    if (failures.length > 0) {
      throw new SecretsError(
        `${failures.length} 1Password reference${failures.length === 1 ? "" : "s"} could not be resolved:\n${failures.join("\n")}`,
      );
    }
    return values;
  }

  private usedBy(ref: string): string {
    const users = this.users.get(ref);
    return users ? `used by ${users.join(", ")}` : "unused";
  }
}

/**
 * Pulumi secret config as the source, for environments without 1Password
 * (the tests and a LAN-only stack). `homelab:secretValues` is a JSON map from
 * `<service>.<secret>` to the value.
 */
export class ConfigSource implements SecretsSource {
  readonly name = "stack config";

  constructor(
    private readonly stack: string,
    private readonly secrets: ResolvedSecret[],
    private readonly json: string | undefined,
  ) {}

  async resolveAll(refs: string[]): Promise<Map<string, string>> {
    let map: Record<string, unknown> = {};
    if (this.json !== undefined) {
      try {
        map = JSON.parse(this.json) as Record<string, unknown>;
      } catch {
        throw new SecretsError(
          `homelab:secretValues is not a JSON object; set it with: pulumi config set --secret homelab:secretValues '{"<service>.<secret>": "..."}' --stack ${this.stack}`,
        );
      }
    }
    const values = new Map<string, string>();
    const missing: string[] = [];
    for (const s of this.secrets) {
      if (!refs.includes(s.ref)) continue;
      const v = map[s.key];
      if (typeof v !== "string" || v === "") missing.push(s.key);
      else values.set(s.ref, v);
    }
    if (missing.length > 0) {
      throw new SecretsError(
        `homelab:secretValues lacks ${missing.join(", ")}; add each with: pulumi config set --secret --path 'secretValues["<service>.<secret>"]' <value> --stack ${this.stack}`,
      );
    }
    return values;
  }
}

/** The service-account token: OP_SERVICE_ACCOUNT_TOKEN first, then secret config. */
export function onePasswordToken(env: NodeJS.ProcessEnv, configToken: string | undefined, stack: string): string {
  const token = env.OP_SERVICE_ACCOUNT_TOKEN || configToken;
  if (!token) {
    throw new SecretsError(
      `no 1Password service-account token: set OP_SERVICE_ACCOUNT_TOKEN, or run pulumi config set --secret homelab:onePasswordToken <token> --stack ${stack}`,
    );
  }
  return token;
}

/** Map each secret key (`<service>.<name>`) to its value, given values per reference. */
export function valuesByKey(secrets: ResolvedSecret[], byRef: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of secrets) {
    const v = byRef.get(s.ref);
    if (v !== undefined) out.set(s.key, v);
  }
  return out;
}
