import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import {
  backupCredentialsFor,
  backupService,
  enabledServices,
  hostSecrets,
  hostView,
  isMultiHost,
  labHosts,
  routedServices,
  type Homelab as Lab,
  type ResolvedService,
} from "./catalog/resolve";
import { DEFAULT_SSH_KEY_CONFIG, type HostConfig } from "./config/hosts";
import { adoptedId, edgeNames, tunnelUuid } from "./adopt/declared";
import { Tunnel } from "./edge/tunnel";
import { healthChecksFor } from "./host/commands";
import { NixosHost, type SecretOwner } from "./host/nixos-host";
import { allowPolicyFor, checkZeroTrust, ingressWithAccess, type ServiceTokenCredentials } from "./render/edge";
import { hostBundleFromOutputs, renderOutputs } from "./render/outputs";
import type { StackSecrets } from "./secrets/stack";
import { GeneratedSecretsItem } from "./secrets/writeback";
import { HomelabService, type ServiceEdge } from "./service";

/** The component's type token; part of every URN, so never rename it casually. */
export const HOMELAB_TYPE = "homelab:index:Homelab";

export interface HomelabArgs {
  /** The validated catalog for this stack (`readPulumiStack().lab`). */
  lab: Lab;
  /** Every secret value the stack needs, resolved once (`resolveStackSecrets`). */
  secrets: StackSecrets;
  /**
   * The key the deploy logs in to the host with (homelab:sshPrivateKey).
   * Required when the stack deploys (homelab:deploy, the default) and a
   * host does not name a key of its own.
   */
  sshPrivateKey?: pulumi.Input<string>;
  /**
   * Hosts' own login keys, by the config key `homelab:hosts.<name>.sshKeyConfig`
   * names (without the namespace).
   * @example { sshPrivateKeyGpu: pulumi.secret(secretKeys.sshPrivateKeyGpu) }
   */
  sshPrivateKeys?: Readonly<Record<string, pulumi.Input<string>>>;
}

/** The shared Cloudflare side every service's resources build on. */
interface SharedEdge {
  tunnel: Tunnel;
  /** Resolved once the ingress is declared: an adopted tunnel is imported after it. */
  ingressDeclared: (ingress: pulumi.Resource[]) => void;
  allowPolicy: cloudflare.ZeroTrustAccessPolicy;
  forServices: ServiceEdge;
}

/** One service as the stack output shows it. */
export interface ServiceSummary {
  publicUrl?: string;
  localUrl?: string;
  protection: string;
  host?: string;
  units: string[];
  /** When its API clients' Access service token expires. */
  apiClientKeyExpiresAt?: pulumi.Output<string>;
}

/**
 * The home lab of one stack, named after it: one `homelab:service:Service`
 * per enabled catalog entry, and beside them what the services share (the
 * Cloudflare provider, the tunnel and its ingress, the reusable Access
 * policy, each NixOS host's preflight, push and rebuild, one host component
 * per machine of homelab:hosts, the 1Password item of generated secrets).
 * `pulumi preview` reads as this tree.
 *
 * @example
 * const { lab, secretKeys } = readPulumiStack();
 * const secrets = await resolveStackSecrets(lab, secretKeys);
 * new Homelab(lab.config.stack, { lab, secrets, sshPrivateKey: pulumi.secret(secretKeys.sshPrivateKey) });
 */
export class Homelab extends pulumi.ComponentResource {
  /** One component per enabled service, by catalog id, in catalog order. */
  public readonly services: Readonly<Record<string, HomelabService>>;
  /** Public URL, local URL, protection, host and units of every enabled service. */
  public readonly serviceSummaries: Readonly<Record<string, ServiceSummary>>;
  /** The tunnel's id; undefined without an edge. */
  public readonly tunnelId: pulumi.Output<string> | undefined;
  /** Access service-token credentials of API clients, by service id. Secret. */
  public readonly accessServiceTokens: pulumi.Output<Record<string, ServiceTokenCredentials>> | undefined;
  /** The first (default) host; undefined when the stack does not deploy (homelab:deploy false). */
  public readonly host: NixosHost | undefined;
  /** One NixOS host component per host of the stack, by host name; empty when the stack does not deploy. */
  public readonly hosts: Readonly<Record<string, NixosHost>>;
  private readonly cloudflare: cloudflare.Provider | undefined;
  private readonly ingress: cloudflare.ZeroTrustTunnelCloudflaredConfig | undefined;
  private readonly edge: SharedEdge | undefined;

  constructor(name: string, args: HomelabArgs, opts?: pulumi.ComponentResourceOptions) {
    super(HOMELAB_TYPE, name, {}, opts);
    this.cloudflare = this.createProvider(name, args);
    this.edge = this.createSharedEdge(name, args);
    this.services = this.createServices(args);
    this.ingress = this.createIngress(args);
    this.edge?.ingressDeclared(this.ingress ? [this.ingress] : []);
    this.createGeneratedSecretsItem(name, args);
    this.hosts = this.createHosts(name, args);
    this.host = this.hosts[labHosts(args.lab)[0].name];

    this.serviceSummaries = Object.fromEntries(
      Object.entries(this.services).map(([id, s]) => [
        id,
        {
          publicUrl: s.publicUrl,
          localUrl: s.localUrl,
          protection: s.protection,
          host: s.host,
          units: s.units,
          apiClientKeyExpiresAt: s.serviceTokenExpiresAt,
        },
      ]),
    );
    this.tunnelId = this.edge?.tunnel.tunnelId;
    const tokens = Object.values(this.services).flatMap((s) =>
      s.serviceTokenCredentials ? [[s.serviceId, s.serviceTokenCredentials] as const] : [],
    );
    this.accessServiceTokens = this.edge ? pulumi.secret(pulumi.all(Object.fromEntries(tokens))) : undefined;
    this.registerOutputs({
      services: this.serviceSummaries,
      tunnelId: this.tunnelId,
      accessServiceTokens: this.accessServiceTokens,
    });
  }

  /** The Cloudflare provider, authenticated with the stack's API token; only for a stack with a Cloudflare edge. */
  private createProvider(name: string, args: HomelabArgs): cloudflare.Provider | undefined {
    if (args.lab.config.edge !== "cloudflare") return undefined;
    return new cloudflare.Provider(
      `${name}-cloudflare`,
      { apiToken: args.secrets.cloudflareApiToken },
      { parent: this },
    );
  }

  /** Options of a direct child: parented here, with the stack's Cloudflare provider for it and its children. */
  private child(): pulumi.CustomResourceOptions {
    return { parent: this, provider: this.cloudflare };
  }

  /** The tunnel and the reusable allow policy; only for a stack with a Cloudflare edge. */
  private createSharedEdge(name: string, args: HomelabArgs): SharedEdge | undefined {
    const { config } = args.lab;
    const cf = config.cloudflare;
    const allow = allowPolicyFor(config);
    if (config.edge !== "cloudflare" || !cf || !allow) return undefined;
    let ingressDeclared: SharedEdge["ingressDeclared"] = () => undefined;
    const importAfter = new Promise<pulumi.Resource[]>((resolve) => (ingressDeclared = resolve));
    const tunnel = new Tunnel(
      `${name}-tunnel`,
      {
        accountId: cf.accountId,
        tunnelName: cf.tunnelName,
        secretGeneration: config.tunnelSecretGeneration,
        adoptedImportId: adoptedId(args.lab, edgeNames.tunnel(config.stack)),
        importAfter,
      },
      this.child(),
    );
    const allowPolicy = new cloudflare.ZeroTrustAccessPolicy(
      edgeNames.allowPolicy(config.stack),
      {
        accountId: cf.accountId,
        name: allow.name,
        decision: "allow",
        includes: allow.emails.map((email) => ({ email: { email } })),
        sessionDuration: allow.sessionDuration,
      },
      this.adoptable(args, edgeNames.allowPolicy(config.stack)),
    );
    const docs = { lab: args.lab, apiToken: args.secrets.cloudflareApiToken };
    return {
      tunnel,
      ingressDeclared,
      allowPolicy,
      forServices: { tunnelTarget: tunnel.cnameTarget, allowPolicyId: allowPolicy.id, docs },
    };
  }

  /** Options of a direct child Cloudflare resource, imported when homelab:adopt names it. */
  private adoptable(args: HomelabArgs, resourceName: string): pulumi.CustomResourceOptions {
    const id = adoptedId(args.lab, resourceName);
    return id === undefined ? this.child() : { ...this.child(), import: id };
  }

  /** One component per enabled service, named by its catalog id; pending services declare nothing. */
  private createServices(args: HomelabArgs): Record<string, HomelabService> {
    return Object.fromEntries(
      enabledServices(args.lab).map((service) => [
        service.id,
        new HomelabService(
          service.id,
          { service, config: args.lab.config, edge: this.edge?.forServices },
          this.child(),
        ),
      ]),
    );
  }

  /**
   * The tunnel's one ingress config, in the catalog's order with the
   * catch-all last; each protected rule checks its service's Access audience
   * against the team Cloudflare reports for the account, checked against
   * homelab:accessTeamName before the ingress can change.
   */
  private createIngress(args: HomelabArgs): cloudflare.ZeroTrustTunnelCloudflaredConfig | undefined {
    const cf = args.lab.config.cloudflare;
    if (!this.edge || !cf) return undefined;
    const invoke = { parent: this, provider: this.cloudflare };
    const organization = cloudflare.getZeroTrustOrganizationOutput({ accountId: cf.accountId }, invoke);
    const loginMethods = cloudflare.getZeroTrustAccessIdentityProvidersOutput({ accountId: cf.accountId }, invoke);
    const teamName = pulumi
      .all([organization.authDomain, loginMethods.results])
      .apply(([authDomain, idps]) =>
        checkZeroTrust(args.lab.config, { authDomain, loginMethods: idps.map((idp) => idp.type) }),
      );
    const audiences = new Map<string, pulumi.Output<string>>();
    for (const s of routedServices(args.lab)) {
      const aud = this.services[s.id]?.accessAudience;
      if (aud) audiences.set(s.publicHostname as string, aud);
    }
    const resourceName = edgeNames.tunnelConfig(args.lab.config.stack);
    const adoptedTunnel = adoptedId(args.lab, edgeNames.tunnel(args.lab.config.stack));
    return new cloudflare.ZeroTrustTunnelCloudflaredConfig(
      resourceName,
      {
        accountId: cf.accountId,
        // An adopted tunnel is imported after its configuration, so the configuration names it by id.
        tunnelId: adoptedTunnel ? tunnelUuid(adoptedTunnel) : this.edge.tunnel.tunnelId,
        source: "cloudflare",
        config: {
          ingresses: ingressWithAccess<pulumi.Input<string>>(args.lab, audiences, teamName).map((rule) => ({
            hostname: rule.hostname,
            service: rule.service,
            originRequest:
              rule.access || rule.noTlsVerify
                ? { ...(rule.access && { access: rule.access }), ...(rule.noTlsVerify && { noTlsVerify: true }) }
                : undefined,
          })),
        },
      },
      this.adoptable(args, resourceName),
    );
  }

  /** Only when the stack names an item (homelab:generatedCredentialsItem) and 1Password is the source. */
  private createGeneratedSecretsItem(name: string, args: HomelabArgs): void {
    const { config } = args.lab;
    const token = args.secrets.onePasswordToken;
    if (!this.edge || !config.secrets.generatedItem || !token) return;
    const fields: Record<string, pulumi.Output<string>> = { "tunnel-token": this.edge.tunnel.token };
    // Cloudflare shows a service token's secret only once, at creation.
    for (const s of Object.values(this.services)) {
      if (!s.serviceTokenCredentials) continue;
      fields[`${s.serviceId}-access-client-id`] = s.serviceTokenCredentials.apply((c) => c.clientId);
      fields[`${s.serviceId}-access-client-secret`] = s.serviceTokenCredentials.apply((c) => c.clientSecret);
    }
    new GeneratedSecretsItem(
      `${name}-generated-secrets`,
      { token, vault: config.secrets.vault, title: config.secrets.generatedItem, fields },
      { parent: this },
    );
  }

  /**
   * One NixOS host per machine, each with the bundle of only its services,
   * and each service's secrets written by a command under that service's
   * component. Hosts deploy in parallel; the hosts of homelab:rollout go
   * first, one after another, and the rest wait for the last of them, so a
   * canary whose health checks fail stops every host after it.
   */
  private createHosts(name: string, args: HomelabArgs): Record<string, NixosHost> {
    const { lab } = args;
    if (!lab.config.deploy) return {};
    const outputs = renderOutputs(lab);
    const hosts = labHosts(lab);
    const rollout = (lab.config.rollout ?? []).map((n) => hosts.find((h) => h.name === n) as HostConfig);
    const created: Record<string, NixosHost> = {};
    for (const h of [...rollout, ...hosts.filter((x) => !rollout.includes(x))]) {
      const at = rollout.indexOf(h);
      const previous =
        at > 0 ? rollout[at - 1] : at < 0 && rollout.length > 0 ? rollout[rollout.length - 1] : undefined;
      created[h.name] = this.createHost(
        hostResourceName(name, h.name),
        h,
        args,
        hostBundleFromOutputs(outputs, h.name),
        previous ? created[previous.name] : undefined,
        // Before hosts were named alike, the first host's component was plainly `<stack>-host`.
        h === hosts[0] ? `${name}-host` : undefined,
      );
    }
    return created;
  }

  private createHost(
    name: string,
    host: HostConfig,
    args: HomelabArgs,
    bundle: Map<string, string>,
    after: NixosHost | undefined,
    formerName: string | undefined,
  ): NixosHost {
    const { lab, secrets } = args;
    const { config } = lab;
    const view = hostView(lab, host.name);
    const privateKey =
      host.sshKeyConfig === DEFAULT_SSH_KEY_CONFIG ? args.sshPrivateKey : args.sshPrivateKeys?.[host.sshKeyConfig];
    if (privateKey === undefined) {
      throw new Error(
        `stack ${config.stack} deploys to host "${host.name}" but has no SSH private key for it: set homelab:${host.sshKeyConfig} with pulumi config set --secret, or homelab:deploy false`,
      );
    }
    // The tunnel's token is the generated secret of the tunnel's connector (the entry on every host with a route).
    const connector = enabledServices(lab).find((s) => s.entry.everyHostWith === "routes");
    const generated: Record<string, pulumi.Output<string> | undefined> = Object.fromEntries(
      (connector?.secrets ?? []).filter((s) => s.ref === "generated").map((s) => [s.key, this.edge?.tunnel.token]),
    );
    const secretOwners: Record<string, SecretOwner> = Object.fromEntries(
      enabledServices(view).flatMap((s) => {
        const owner = this.services[s.id];
        return owner ? [[s.id, { resource: owner, ...secretsCommandName(s, host.name) }]] : [];
      }),
    );
    // The backup credentials on a host that backs up without running Backrest: a command under Backrest, named for the host.
    const backupId = backupService(lab)?.id;
    const backup = backupId === undefined ? undefined : this.services[backupId];
    if (backupId && backup && backupCredentialsFor(lab, host.name).length > 0)
      secretOwners[backupId] = { resource: backup, name: `${backupId}-${host.name}` };
    return new NixosHost(
      name,
      {
        connection: {
          host: host.ssh.host,
          port: host.ssh.port,
          user: host.ssh.user,
          hostKey: host.ssh.hostKey,
          privateKey: pulumi.secret(privateKey),
        },
        bundle,
        secrets: hostSecrets(lab, host.name).map((s) => {
          const value = s.ref === "generated" ? generated[s.key] : secrets.values.get(s.key);
          if (!value)
            throw new Error(
              `secret ${s.key} has no value: a generated secret needs its producer (the Cloudflare edge)`,
            );
          return { ...s, value };
        }),
        secretOwners,
        paths: config.paths,
        healthChecks: healthChecksFor(enabledServices(view)),
        keepGenerations: config.keepGenerations,
        flake: host.flake,
        healthTimeoutSeconds: config.healthTimeoutSeconds,
        confirmTimeoutSeconds: config.confirmTimeoutSeconds,
        detectDrift: config.detectDrift,
        after: after ? [after.confirm] : undefined,
        hostName: isMultiHost(lab) ? host.name : undefined,
      },
      {
        parent: this,
        // The tunnel, its ingress and the routes' records exist before cloudflared starts with the new token.
        dependsOn: this.edgeResources(),
        // Its commands' names start with its own, so the engine carries this alias over to them.
        aliases: formerName === undefined ? undefined : [{ name: formerName }],
      },
    );
  }

  private edgeResources(): pulumi.Resource[] {
    if (!this.edge) return [];
    const records = Object.values(this.services).flatMap((s) => (s.nodes.dnsRecord ? [s.nodes.dnsRecord] : []));
    return [this.edge.tunnel, ...(this.ingress ? [this.ingress] : []), ...records];
  }
}

/**
 * A host's component, named after the host so that adding, removing or
 * reordering hosts renames no other host. Its commands are named after it.
 */
function hostResourceName(root: string, host: string): string {
  return `${root}-host-${host}`;
}

/**
 * What a service's secrets command on `host` is named after. A service that
 * runs on every host that needs it (the tunnel's connector, the tailnet)
 * has one command per host, named for the host, on one host as on several.
 * Before that, the command on its first host had the service's plain name.
 */
function secretsCommandName(s: ResolvedService, host: string): { name: string; formerName?: string } {
  if (s.entry.everyHostWith === undefined) return { name: s.id };
  return { name: `${s.id}-${host}`, formerName: s.hostNames[0] === host ? s.id : undefined };
}
