import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface TunnelArgs {
  /** Cloudflare account that owns the tunnel. */
  accountId: pulumi.Input<string>;
  /** Tunnel name; includes the stack so environments never share one. @example "homelab-prod" */
  tunnelName: string;
  /**
   * Bump to rotate the tunnel secret (and so the connector token): the
   * random bytes are replaced when this changes.
   * @default "1"
   */
  secretGeneration?: string;
}

/**
 * A remotely managed Cloudflare tunnel: its ingress lives in Cloudflare
 * (`configSrc: "cloudflare"`), and the host's cloudflared only needs the token.
 * The ingress itself is the root component's, built from every service's rule.
 *
 * @example
 * const tunnel = new Tunnel("prod-tunnel", { accountId, tunnelName: "homelab-prod" }, { parent: root });
 */
export class Tunnel extends pulumi.ComponentResource {
  /** The tunnel's id; DNS routes point at `<id>.cfargotunnel.com`. */
  public readonly tunnelId: pulumi.Output<string>;
  /** CNAME target of every tunnel route. */
  public readonly cnameTarget: pulumi.Output<string>;
  /** The connector token cloudflared reads from its token file. Secret. */
  public readonly token: pulumi.Output<string>;
  /** The tunnel secret, base64. Secret. */
  public readonly tunnelSecret: pulumi.Output<string>;

  constructor(name: string, args: TunnelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:cloudflare:Tunnel", name, {}, opts);
    const secret = new random.RandomBytes(
      `${name}-secret`,
      { length: 32, keepers: { generation: args.secretGeneration ?? "1" } },
      { parent: this },
    );
    this.tunnelSecret = pulumi.secret(secret.base64);
    const tunnel = new cloudflare.ZeroTrustTunnelCloudflared(
      `${name}-cloudflared`,
      { accountId: args.accountId, name: args.tunnelName, configSrc: "cloudflare", tunnelSecret: this.tunnelSecret },
      { parent: this, additionalSecretOutputs: ["tunnelSecret"] },
    );
    this.tunnelId = tunnel.id;
    this.cnameTarget = pulumi.interpolate`${tunnel.id}.cfargotunnel.com`;
    this.token = pulumi.secret(
      cloudflare.getZeroTrustTunnelCloudflaredTokenOutput({ accountId: args.accountId, tunnelId: tunnel.id }, { parent: this }).token,
    );
    this.registerOutputs({ tunnelId: this.tunnelId, cnameTarget: this.cnameTarget, token: this.token, tunnelSecret: this.tunnelSecret });
  }
}
