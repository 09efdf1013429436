import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { TUNNEL_CNAME_DOMAIN } from "../catalog/rules";

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
  /**
   * The import id (`<account>/<tunnel uuid>`) of a tunnel made by hand that
   * the stack takes over (homelab:adopt). Its secret stays Cloudflare's: the
   * connector token is read from Cloudflare, never derived from bytes here.
   */
  adoptedImportId?: string;
  /**
   * What must exist before an adopted tunnel is imported: its remote
   * configuration, whose first write turns a locally managed tunnel into a
   * remotely managed one. Imported after it, the tunnel is read as it will
   * stay, so no later refresh finds a config source that would replace it.
   */
  importAfter?: Promise<pulumi.Resource[]>;
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
  public readonly tunnelSecret: pulumi.Output<string | undefined>;

  constructor(name: string, args: TunnelArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:cloudflare:Tunnel", name, {}, opts);
    const tunnel = args.adoptedImportId ? this.adopt(name, args, args.adoptedImportId) : this.create(name, args);
    this.tunnelSecret = tunnel.tunnelSecret;
    this.tunnelId = tunnel.id;
    this.cnameTarget = pulumi.interpolate`${tunnel.id}.${TUNNEL_CNAME_DOMAIN}`;
    this.token = pulumi.secret(
      cloudflare.getZeroTrustTunnelCloudflaredTokenOutput(
        { accountId: args.accountId, tunnelId: tunnel.id },
        { parent: this },
      ).token,
    );
    this.registerOutputs({
      tunnelId: this.tunnelId,
      cnameTarget: this.cnameTarget,
      token: this.token,
      tunnelSecret: this.tunnelSecret,
    });
  }

  private create(name: string, args: TunnelArgs): cloudflare.ZeroTrustTunnelCloudflared {
    const secret = new random.RandomBytes(
      `${name}-secret`,
      { length: 32, keepers: { generation: args.secretGeneration ?? "1" } },
      { parent: this },
    );
    return new cloudflare.ZeroTrustTunnelCloudflared(
      `${name}-cloudflared`,
      {
        accountId: args.accountId,
        name: args.tunnelName,
        configSrc: "cloudflare",
        tunnelSecret: pulumi.secret(secret.base64),
      },
      { parent: this, additionalSecretOutputs: ["tunnelSecret"] },
    );
  }

  /**
   * The adopted tunnel: no secret of ours (the write-only secret Cloudflare
   * holds would otherwise be overwritten and the running connector cut off),
   * and its config source taken from Cloudflare, because the provider
   * replaces a tunnel whose declared config source differs from the live one
   * (RequiresReplaceIfConfigured on config_src in the Cloudflare Terraform
   * provider the Pulumi provider wraps).
   */
  private adopt(name: string, args: TunnelArgs, importId: string): cloudflare.ZeroTrustTunnelCloudflared {
    return new cloudflare.ZeroTrustTunnelCloudflared(
      `${name}-cloudflared`,
      { accountId: args.accountId, name: args.tunnelName, configSrc: "cloudflare" },
      {
        parent: this,
        import: importId,
        ignoreChanges: ["configSrc"],
        dependsOn: args.importAfter,
        additionalSecretOutputs: ["tunnelSecret"],
      },
    );
  }
}
