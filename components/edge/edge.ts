import * as pulumi from "@pulumi/pulumi";
import type { Homelab } from "../catalog/resolve";
import { routedServices } from "../catalog/resolve";
import { pagesTarget, renderDns, renderIngress, TUNNEL_TARGET_PLACEHOLDER } from "../render/edge";
import { Access } from "./access";
import { DocsSite } from "./docs-site";
import { Routes } from "./routes";
import { Tunnel } from "./tunnel";

export interface EdgeArgs {
  /** The validated catalog for this stack; its config.cloudflare must be set. */
  lab: Homelab;
  /**
   * Bump to rotate the tunnel secret and token.
   * @default "1"
   */
  tunnelSecretGeneration?: string;
}


/**
 * The public side of the home lab: the tunnel, Access in front of every
 * route, the ingress and DNS records, and the docs site on Pages.
 */
export class Edge extends pulumi.ComponentResource {
  /** The connector token the host's cloudflared needs. Secret. */
  public readonly tunnelToken: pulumi.Output<string>;
  /** The tunnel's id. */
  public readonly tunnelId: pulumi.Output<string>;
  /** Public hostnames this stack publishes. */
  public readonly hostnames: string[];
  /** Access service-token credentials per service id, for API clients. Secret. */
  public readonly serviceTokens: Record<string, pulumi.Output<{ clientId: string; clientSecret: string }>>;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:cloudflare:Edge", name, {}, opts);
    const { lab } = args;
    const cf = lab.config.cloudflare;
    if (!cf) throw new Error(`stack "${lab.config.stack}" has homelab:edge none; the Edge component needs the Cloudflare settings`);
    const routed = routedServices(lab);
    this.hostnames = routed.map((s) => s.publicHostname as string);

    const tunnel = new Tunnel(`${name}-tunnel`, { accountId: cf.accountId, tunnelName: cf.tunnelName, secretGeneration: args.tunnelSecretGeneration }, { parent: this });
    const access = new Access(
      `${name}-access`,
      { accountId: cf.accountId, stack: lab.config.stack, emails: cf.accessEmails, services: routed },
      { parent: this },
    );
    const docs = this.createDocsSite(name, lab);
    new Routes(
      `${name}-routes`,
      {
        accountId: cf.accountId,
        zoneId: cf.zoneId,
        stack: lab.config.stack,
        tunnelId: tunnel.tunnelId,
        ingress: renderIngress(lab),
        audiences: access.audiences,
        teamName: cf.teamName,
        dns: renderDns(lab),
        // The plan's CNAME targets, with what Cloudflare actually assigned.
        targets: { [TUNNEL_TARGET_PLACEHOLDER]: tunnel.cnameTarget, ...(docs ? { [pagesTarget(lab)]: docs.subdomain } : {}) },
      },
      { parent: this },
    );
    this.tunnelToken = tunnel.token;
    this.tunnelId = tunnel.tunnelId;
    this.serviceTokens = access.serviceTokens;
    this.registerOutputs({ tunnelToken: this.tunnelToken, tunnelId: this.tunnelId, hostnames: this.hostnames, serviceTokens: this.serviceTokens });
  }

  /** Only when the stack runs a Pages service. */
  private createDocsSite(name: string, lab: Homelab): DocsSite | undefined {
    const docs = routedServices(lab).find((s) => s.entry.runsOn === "pages");
    if (!docs || !lab.config.cloudflare) return undefined;
    return new DocsSite(`${name}-docs`, { accountId: lab.config.cloudflare.accountId, projectName: lab.config.cloudflare.pagesProject, hostname: docs.publicHostname as string }, { parent: this });
  }
}
