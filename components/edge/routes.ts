import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { DnsRecordPlan, IngressRule } from "../render/edge";

export interface RoutesArgs {
  /** Cloudflare account of the tunnel. */
  accountId: pulumi.Input<string>;
  /** Zone that holds the records. */
  zoneId: pulumi.Input<string>;
  /** Stack name, written into each record's comment. */
  stack: string;
  /** The tunnel the ingress belongs to. */
  tunnelId: pulumi.Input<string>;
  /** Ingress rules in evaluation order, catch-all last, from the shared renderer. */
  ingress: IngressRule[];
  /** Access audience tag per hostname; cloudflared rejects requests without a valid Access JWT. */
  audiences: Record<string, pulumi.Input<string>>;
  /** Zero Trust team name the JWTs are issued by. */
  teamName: string;
  /** DNS records from the shared renderer, one per route. */
  dns: DnsRecordPlan[];
  /**
   * Replacements for the plan's CNAME targets that only Cloudflare knows:
   * the tunnel's `<id>.cfargotunnel.com` and the Pages project's subdomain.
   */
  targets: Record<string, pulumi.Input<string>>;
}

/**
 * The tunnel's ingress and the DNS records of every route. Both come from the
 * same renderers as the offline plan, so plan.json and the program agree.
 */
export class Routes extends pulumi.ComponentResource {
  /** Record ids by hostname. */
  public readonly records: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: RoutesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:cloudflare:Routes", name, {}, opts);
    this.createIngress(name, args);
    this.createRecords(name, args);
    this.registerOutputs({ records: this.records });
  }

  private createIngress(name: string, args: RoutesArgs): void {
    new cloudflare.ZeroTrustTunnelCloudflaredConfig(
      `${name}-ingress`,
      {
        accountId: args.accountId,
        tunnelId: args.tunnelId,
        source: "cloudflare",
        config: {
          ingresses: args.ingress.map((rule) => {
            const aud = rule.hostname ? args.audiences[rule.hostname] : undefined;
            return {
              hostname: rule.hostname,
              service: rule.service,
              originRequest: aud ? { access: { required: true, teamName: args.teamName, audTags: [aud] } } : undefined,
            };
          }),
        },
      },
      { parent: this },
    );
  }

  private createRecords(name: string, args: RoutesArgs): void {
    for (const record of args.dns) {
      const label = record.name.split(".")[0];
      const dns = new cloudflare.DnsRecord(
        `${name}-${label}`,
        {
          zoneId: args.zoneId,
          name: record.name,
          type: record.type,
          content: args.targets[record.content] ?? record.content,
          proxied: record.proxied,
          // 1 means "automatic", the only TTL Cloudflare allows on proxied records.
          ttl: 1,
          comment: `homelab stack ${args.stack}; managed by Pulumi`,
        },
        { parent: this },
      );
      this.records[record.name] = dns.id;
    }
  }
}
