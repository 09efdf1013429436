import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedService } from "../catalog/resolve";

export interface AccessArgs {
  /** Cloudflare account of the Zero Trust organisation. */
  accountId: pulumi.Input<string>;
  /** Stack name, part of every Cloudflare-side name so environments never collide. */
  stack: string;
  /** Emails the reusable allow policy lets in. */
  emails: string[];
  /** Routed services; those with protection "access" get an application. */
  services: ResolvedService[];
}

/**
 * Cloudflare Access in front of every route the catalog does not mark public:
 * one reusable email allow policy, a service token (and its policy) for each
 * service whose native clients use one, and a self-hosted application per route.
 */
export class Access extends pulumi.ComponentResource {
  /** Application audience tag per public hostname; the tunnel ingress checks it. */
  public readonly audiences: Record<string, pulumi.Output<string>> = {};
  /** Service-token credentials per service id, for API clients. Secret. */
  public readonly serviceTokens: Record<string, pulumi.Output<{ clientId: string; clientSecret: string }>> = {};

  constructor(name: string, args: AccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:cloudflare:Access", name, {}, opts);
    const allow = this.createAllowPolicy(name, args);
    for (const service of args.services.filter((s) => s.protection === "access")) {
      const policies: { id: pulumi.Input<string>; precedence: number }[] = [{ id: allow.id, precedence: 1 }];
      const tokenPolicy = this.createServiceToken(name, args, service);
      if (tokenPolicy) policies.push({ id: tokenPolicy.id, precedence: policies.length + 1 });
      const app = new cloudflare.ZeroTrustAccessApplication(
        `${name}-${service.id}`,
        {
          // Account-scoped, like the reusable policies it references.
          accountId: args.accountId,
          name: `${service.title} (${args.stack})`,
          type: "self_hosted",
          domain: service.publicHostname as string,
          destinations: [{ type: "public", uri: service.publicHostname as string }],
          policies,
          sessionDuration: "24h",
          appLauncherVisible: true,
        },
        { parent: this },
      );
      this.audiences[service.publicHostname as string] = app.aud;
    }
    this.registerOutputs({ audiences: this.audiences, serviceTokens: this.serviceTokens });
  }

  private createAllowPolicy(name: string, args: AccessArgs): cloudflare.ZeroTrustAccessPolicy {
    return new cloudflare.ZeroTrustAccessPolicy(
      `${name}-allow`,
      {
        accountId: args.accountId,
        name: `homelab ${args.stack}: owners`,
        decision: "allow",
        includes: args.emails.map((email) => ({ email: { email } })),
        sessionDuration: "24h",
      },
      { parent: this },
    );
  }

  /** Only for services whose native clients authenticate with a service token. */
  private createServiceToken(name: string, args: AccessArgs, service: ResolvedService): cloudflare.ZeroTrustAccessPolicy | undefined {
    if (service.nativeClients?.via !== "service-token") return undefined;
    const token = new cloudflare.ZeroTrustAccessServiceToken(
      `${name}-${service.id}-token`,
      { accountId: args.accountId, name: `homelab ${args.stack}: ${service.id} clients`, duration: "8760h" },
      { parent: this, additionalSecretOutputs: ["clientSecret"] },
    );
    this.serviceTokens[service.id] = pulumi.secret(pulumi.all([token.clientId, token.clientSecret]).apply(([clientId, clientSecret]) => ({ clientId, clientSecret })));
    return new cloudflare.ZeroTrustAccessPolicy(
      `${name}-${service.id}-clients`,
      {
        accountId: args.accountId,
        name: `homelab ${args.stack}: ${service.id} service token`,
        decision: "non_identity",
        includes: [{ serviceToken: { tokenId: token.id } }],
      },
      { parent: this },
    );
  }
}
