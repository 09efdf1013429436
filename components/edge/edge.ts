import * as pulumi from "@pulumi/pulumi";
import type { Homelab } from "../catalog/resolve";
import { routedServices } from "../catalog/resolve";
import { renderDns, renderIngress } from "../render/edge";
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

const TUNNEL_PLACEHOLDER = "<tunnel-id>.cfargotunnel.com";

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
      { accountId: cf.accountId, zoneId: cf.zoneId, stack: lab.config.stack, emails: cf.accessEmails, services: routed },
      { parent: this },
    );
    this.createDocsSite(name, lab);
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
        dns: renderDns(lab, TUNNEL_PLACEHOLDER),
        tunnelTarget: tunnel.cnameTarget,
        tunnelPlaceholder: TUNNEL_PLACEHOLDER,
      },
      { parent: this },
    );
    this.tunnelToken = tunnel.token;
    this.tunnelId = tunnel.tunnelId;
    this.registerOutputs({ tunnelToken: this.tunnelToken, tunnelId: this.tunnelId, hostnames: this.hostnames });
  }

  /** Only when the stack runs a Pages service. */
  private createDocsSite(name: string, lab: Homelab): void {
    const docs = routedServices(lab).find((s) => s.entry.runsOn === "pages");
    if (!docs || !lab.config.cloudflare) return;
    new DocsSite(`${name}-docs`, { accountId: lab.config.cloudflare.accountId, projectName: lab.config.cloudflare.pagesProject, hostname: docs.publicHostname as string }, { parent: this });
  }
}
