import type * as pulumi from "@pulumi/pulumi";
import { readStackFile } from "../../components/config/file";

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Input property names that were marked secret. */
  secretInputs: string[];
}

/** Resource types the program may declare; anything else is a bug the mocks catch. */
const KNOWN_TYPES = new Set([
  "homelab:index:Homelab",
  "homelab:service:Service",
  "homelab:cloudflare:Tunnel",
  "homelab:host:NixosHost",
  "pulumi:providers:cloudflare",
  "random:index/randomBytes:RandomBytes",
  "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared",
  "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
  "cloudflare:index/dnsRecord:DnsRecord",
  "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication",
  "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy",
  "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken",
  "cloudflare:index/pagesProject:PagesProject",
  "cloudflare:index/pagesDomain:PagesDomain",
  "command:remote:Command",
  "command:local:Command",
  "pulumi-nodejs:dynamic:Resource",
]);
/** What the fake Cloudflare account answers about its Zero Trust organisation. */
export interface FakeAccount {
  /** @default "javiersc.cloudflareaccess.com" */
  authDomain?: string;
  /** Identity provider types. @default ["onetimepin"] */
  loginMethods?: string[];
  /** The zone's DNS records, as Cloudflare lists them. @default none */
  dnsRecords?: { id: string; name: string; type: string; content: string; comment?: string }[];
}

/**
 * Every call the program makes, answered with the fields the real provider
 * returns (read from @pulumi/cloudflare's types), so no output the program
 * reads is empty only under test.
 */
function answer(token: string, inputs: Record<string, unknown>, account: FakeAccount): Record<string, unknown> {
  switch (token) {
    case "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken":
      return { ...inputs, token: `eyJ-tunnel-token-for-${String(inputs.tunnelId)}` };
    case "cloudflare:index/getZeroTrustOrganization:getZeroTrustOrganization":
      return { ...inputs, authDomain: account.authDomain ?? "javiersc.cloudflareaccess.com", name: "javiersc" };
    case "cloudflare:index/getZeroTrustAccessIdentityProviders:getZeroTrustAccessIdentityProviders":
      return {
        ...inputs,
        results: (account.loginMethods ?? ["onetimepin"]).map((type, i) => ({
          id: `idp-${i}`,
          name: type,
          type,
          readOnly: false,
          config: {},
        })),
      };
    case "cloudflare:index/getDnsRecords:getDnsRecords": {
      const exact = (inputs.name as { exact?: string } | undefined)?.exact;
      return { ...inputs, results: (account.dnsRecords ?? []).filter((r) => exact === undefined || r.name === exact) };
    }
    default:
      throw new Error(`unexpected call ${token}`);
  }
}

/** Strict mocks: an unknown resource type or call throws. Records every resource. */
export function strictMocks(registered: Registered[], account: FakeAccount = {}): pulumi.runtime.Mocks {
  return {
    newResource(args) {
      if (!KNOWN_TYPES.has(args.type)) throw new Error(`unexpected resource type ${args.type} (${args.name})`);
      const secretInputs = Object.entries(args.inputs)
        .filter(
          ([, v]) =>
            v &&
            typeof v === "object" &&
            (v as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270",
        )
        .map(([k]) => k);
      registered.push({ type: args.type, name: args.name, inputs: args.inputs, secretInputs });
      const state: Record<string, unknown> = { ...args.inputs };
      if (args.type.endsWith(":ZeroTrustAccessApplication")) state.aud = `aud-${args.name}`;
      if (args.type.endsWith(":ZeroTrustAccessServiceToken")) {
        // Cloudflare issues a new secret for each clientSecretVersion.
        const version = Number(args.inputs.clientSecretVersion ?? 1);
        Object.assign(state, {
          clientId: `${args.name}.access`,
          clientSecret: `secret-${args.name}-v${version}`,
          clientSecretVersion: version,
          expiresAt: "2027-11-30T00:00:00Z",
        });
      }
      if (args.type.endsWith(":RandomBytes")) Object.assign(state, { base64: "c2VjcmV0LWJ5dGVz", hex: "00" });
      // Cloudflare suffixes the subdomain when the project name is taken elsewhere.
      if (args.type.endsWith(":PagesProject")) state.subdomain = `${args.inputs.name}-4xq.pages.dev`;
      const id = args.type.endsWith(":ZeroTrustTunnelCloudflared") ? "tunnel-0001" : `${args.name}-id`;
      return { id, state };
    },
    call(args) {
      return answer(args.token, args.inputs, account);
    },
  };
}

/** The stack file's config as the engine would hand it to the program. */
export function stackConfig(
  root: string,
  stack: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string> {
  const raw = readStackFile(root, stack);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = typeof v === "string" ? v : JSON.stringify(v);
  // An undefined value removes the key, as `pulumi config rm` does.
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}
