import * as cloudflare from "@pulumi/cloudflare";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedService } from "./catalog/resolve";
import type { StackConfig } from "./config/schema";
import { deployDocsSite, pagesSourceArgs, type DocsDeployInputs } from "./docs-deploy";
import { dnsConflict } from "./adopt/conflicts";
import { adoptedId, edgeNames } from "./adopt/declared";
import {
  accessApplicationFor,
  dnsRecordFor,
  serviceTokenExpiryWarning,
  type DnsRecordPlan,
  type ServiceTokenCredentials,
} from "./render/edge";

/** The component's type token; part of every URN, so never rename it casually. */
export const SERVICE_TYPE = "homelab:service:Service";

/** What a service's Cloudflare resources share with every other service of the stack. */
export interface ServiceEdge {
  /** CNAME target of every tunnel route, `<tunnel id>.cfargotunnel.com`. */
  tunnelTarget: pulumi.Input<string>;
  /** Id of the stack's reusable email allow policy, precedence 1 on every Access application. */
  allowPolicyId: pulumi.Input<string>;
  /** What the docs site's deploy reads (components/docs-deploy.ts); only the Pages service uses it. */
  docs?: DocsDeployInputs;
}

export interface HomelabServiceArgs {
  /** The service's catalog entry, resolved for this stack (`lab.services`); it must be enabled. */
  service: ResolvedService;
  /** The stack's config (`lab.config`): the Cloudflare account, zone and Pages project, the stack name in every Cloudflare-side name. */
  config: StackConfig;
  /**
   * The shared Cloudflare side, created before the services; absent in a
   * stack without an edge (homelab:edge none), which then declares no
   * Cloudflare resource for the service.
   */
  edge?: ServiceEdge;
}

/** The service's own Cloudflare resources, for `dependsOn` or references. */
export interface ServiceNodes {
  /** The proxied CNAME of its public route. */
  dnsRecord?: cloudflare.DnsRecord;
  /** The Access application in front of its route. */
  accessApplication?: cloudflare.ZeroTrustAccessApplication;
  /** The Access service token of its API clients, and the policy that admits it. */
  serviceToken?: {
    token: cloudflare.ZeroTrustAccessServiceToken;
    policy: cloudflare.ZeroTrustAccessPolicy;
    /**
     * Whether this program holds the client secret. Cloudflare shows it only
     * when it issues one, so a token adopted at version 1 has none (an empty
     * value after the import) until homelab:apiClientKeyVersion rotates it.
     */
    secretKnown: boolean;
  };
  /** The Pages project of a Pages site, its custom domain, and the command that uploads the site (homelab:docsSource upload). */
  pages?: { project: cloudflare.PagesProject; domain: cloudflare.PagesDomain; deploy?: command.local.Command };
}

/**
 * One homelab service, everything from its catalog entry that is its alone:
 * its DNS record, its Access application (with its service token and policy
 * when native clients use one), its Pages project for a Pages site, and, as a
 * child the host creates, the remote command that writes its secret files.
 * Shared things (the tunnel, its ingress, the allow policy, the host's push
 * and rebuild) are its siblings under the stack's root component.
 *
 * @example
 * const jellyfin = new HomelabService("jellyfin", { service, config: lab.config, edge }, { parent: root });
 * jellyfin.publicUrl; // "https://jellyfin-home.javiersc.com"
 */
export class HomelabService extends pulumi.ComponentResource {
  /** Catalog id. */
  public readonly serviceId: string;
  /** `https://<public hostname>`; undefined when the stack does not route the service. */
  public readonly publicUrl: string | undefined;
  /** `http://<LAN address>:<port>`; undefined for Pages sites and services without a listener. */
  public readonly localUrl: string | undefined;
  /** `access` (behind Cloudflare Access), `public`, or `none` (not routed). */
  public readonly protection: ResolvedService["protection"];
  /** The LAN host the service runs on (its mDNS name); undefined for Pages sites. */
  public readonly host: string | undefined;
  /** systemd units the service runs as on its host; they restart when one of its secrets changes. */
  public readonly units: string[];
  /** Audience tag of its Access application; the tunnel's ingress rule for its hostname checks it. */
  public readonly accessAudience: pulumi.Output<string> | undefined;
  /** Access service-token credentials for API clients, when the catalog gives the service one. Secret. */
  public readonly serviceTokenCredentials: pulumi.Output<ServiceTokenCredentials> | undefined;
  /** Why its route's record cannot be created (one exists that the stack neither made nor adopts); undefined for none. */
  public dnsConflict: pulumi.Output<string | undefined> | undefined;
  /** When that service token expires (RFC 3339); `pulumi preview` warns a month before. */
  public readonly serviceTokenExpiresAt: pulumi.Output<string> | undefined;
  private readonly resources: ServiceNodes = {};

  constructor(name: string, args: HomelabServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super(SERVICE_TYPE, name, {}, opts);
    const { service } = args;
    if (service.status !== "enabled")
      throw new Error(`service ${service.id} is ${service.status}: a pending service declares nothing`);
    this.serviceId = service.id;
    this.publicUrl = service.publicHostname ? `https://${service.publicHostname}` : undefined;
    this.localUrl = service.localUrl ?? undefined;
    this.protection = service.protection;
    this.host = service.host ?? undefined;
    this.units = [...service.units];

    const pages = this.createPagesSite(name, args);
    this.createDnsRecord(name, args, pages);
    const tokenPolicy = this.createServiceToken(name, args);
    this.accessAudience = this.createAccessApplication(name, args, tokenPolicy, pages);
    if (pages && args.edge?.docs) {
      // The first upload waits for the Access application, so the site is never public on pages.dev, even if creating Access fails.
      pages.deploy = deployDocsSite(
        name,
        { config: args.config, project: pages.project, docs: args.edge.docs, access: this.resources.accessApplication },
        { parent: this },
      );
    }
    const token = this.resources.serviceToken?.token;
    this.serviceTokenCredentials =
      token && this.resources.serviceToken?.secretKnown
        ? pulumi.secret(
            pulumi
              .all([token.clientId, token.clientSecret])
              .apply(([clientId, clientSecret]) => ({ clientId, clientSecret })),
          )
        : undefined;
    this.serviceTokenExpiresAt = token ? this.watchExpiry(token, args) : undefined;

    this.registerOutputs({
      publicUrl: this.publicUrl,
      localUrl: this.localUrl,
      protection: this.protection,
      host: this.host,
      units: this.units,
      accessAudience: this.accessAudience,
      serviceTokenCredentials: this.serviceTokenCredentials,
      serviceTokenExpiresAt: this.serviceTokenExpiresAt,
    });
  }

  /** The token's expiry, with a warning in every preview and up once it is near. */
  private watchExpiry(token: cloudflare.ZeroTrustAccessServiceToken, args: HomelabServiceArgs): pulumi.Output<string> {
    return token.expiresAt.apply((expiresAt) => {
      const warning = serviceTokenExpiryWarning(args.service.id, expiresAt, new Date(), args.config.stack);
      if (warning) pulumi.log.warn(warning, this);
      return expiresAt;
    });
  }

  /** The Cloudflare resources this service owns. */
  public get nodes(): Readonly<ServiceNodes> {
    return this.resources;
  }

  /** Only for a service that runs on Pages: the project and its custom domain. */
  private createPagesSite(name: string, args: HomelabServiceArgs): ServiceNodes["pages"] {
    const { service, config } = args;
    const cf = config.cloudflare;
    if (!args.edge || !cf || service.entry.runsOn !== "pages" || !service.publicHostname) return undefined;
    const project = new cloudflare.PagesProject(
      edgeNames.pagesProject(name),
      { accountId: cf.accountId, name: cf.pagesProject, ...pagesSourceArgs(config) },
      this.adoptable(args, edgeNames.pagesProject(name)),
    );
    const domain = new cloudflare.PagesDomain(
      edgeNames.pagesDomain(name),
      { accountId: cf.accountId, projectName: project.name, name: service.publicHostname },
      this.adoptable(args, edgeNames.pagesDomain(name)),
    );
    this.resources.pages = { project, domain };
    return this.resources.pages;
  }

  /** Tunnel routes point at the tunnel; a Pages site at its project's real subdomain, which Cloudflare may suffix. */
  private createDnsRecord(name: string, args: HomelabServiceArgs, pages: ServiceNodes["pages"]): void {
    const record = dnsRecordFor(args.config, args.service);
    const cf = args.config.cloudflare;
    if (!args.edge || !cf || !record) return;
    const resourceName = edgeNames.dnsRecord(name);
    this.dnsConflict = this.findConflict(resourceName, record, cf.zoneId, args);
    this.resources.dnsRecord = new cloudflare.DnsRecord(
      resourceName,
      {
        zoneId: cf.zoneId,
        name: record.name,
        type: record.type,
        content: pages ? pages.project.subdomain : args.edge.tunnelTarget,
        proxied: record.proxied,
        ttl: record.ttl,
        comment: record.comment,
      },
      this.adoptable(args, resourceName),
    );
  }

  /**
   * Reads the zone's records of the route's name: why creating the record
   * would fail (one the stack neither made nor adopts), or undefined. The
   * program fails on it before the preview ends (index.ts), so `pulumi up`
   * stops before it changes anything.
   */
  private findConflict(
    resourceName: string,
    record: DnsRecordPlan,
    zoneId: string,
    args: HomelabServiceArgs,
  ): pulumi.Output<string | undefined> {
    const live = cloudflare.getDnsRecordsOutput({ zoneId, name: { exact: record.name } }, { parent: this });
    return live.results.apply((results) => {
      const why = dnsConflict(args.config.stack, resourceName, record, adoptedId(args, resourceName), results);
      return why === undefined ? undefined : `${record.name}: ${why}`;
    });
  }

  /** Options of a child resource: parented here, imported when homelab:adopt names it. */
  private adoptable(args: HomelabServiceArgs, resourceName: string): pulumi.CustomResourceOptions {
    const id = adoptedId(args, resourceName);
    return id === undefined ? { parent: this } : { parent: this, import: id };
  }

  /** Only for services whose native clients authenticate with an Access service token. */
  private createServiceToken(name: string, args: HomelabServiceArgs): cloudflare.ZeroTrustAccessPolicy | undefined {
    const app = accessApplicationFor(args.config, args.service);
    const cf = args.config.cloudflare;
    if (!args.edge || !cf || !app?.serviceToken) return undefined;
    const token = new cloudflare.ZeroTrustAccessServiceToken(
      edgeNames.serviceToken(name),
      {
        accountId: cf.accountId,
        name: app.serviceToken.name,
        duration: app.serviceToken.duration,
        // A new version makes Cloudflare issue a new secret; the old one keeps working until the overlap ends.
        // The provider takes the two together or neither (an AlsoRequires validator on each), and version 1 is its default.
        ...(app.serviceToken.version > 1
          ? {
              clientSecretVersion: app.serviceToken.version,
              previousClientSecretExpiresAt: args.config.apiClientKeyOverlapUntil,
            }
          : {}),
      },
      { ...this.adoptable(args, edgeNames.serviceToken(name)), additionalSecretOutputs: ["clientSecret"] },
    );
    const policy = new cloudflare.ZeroTrustAccessPolicy(
      edgeNames.serviceTokenPolicy(name),
      {
        accountId: cf.accountId,
        name: app.serviceToken.policyName,
        decision: "non_identity",
        includes: [{ serviceToken: { tokenId: token.id } }],
      },
      this.adoptable(args, edgeNames.serviceTokenPolicy(name)),
    );
    const adopted = adoptedId(args, edgeNames.serviceToken(name)) !== undefined;
    this.resources.serviceToken = { token, policy, secretKnown: !adopted || app.serviceToken.version > 1 };
    return policy;
  }

  /**
   * Every route the catalog does not mark public gets an application: the
   * allow policy first, the token's policy second. A Pages site's application
   * also covers the project's own hostname and its preview hostnames.
   */
  private createAccessApplication(
    name: string,
    args: HomelabServiceArgs,
    tokenPolicy: cloudflare.ZeroTrustAccessPolicy | undefined,
    pages: ServiceNodes["pages"],
  ): pulumi.Output<string> | undefined {
    const app = accessApplicationFor(args.config, args.service);
    const cf = args.config.cloudflare;
    if (!args.edge || !cf || !app) return undefined;
    const policies: { id: pulumi.Input<string>; precedence: number }[] = [
      { id: args.edge.allowPolicyId, precedence: 1 },
    ];
    if (tokenPolicy) policies.push({ id: tokenPolicy.id, precedence: 2 });
    const uris: pulumi.Input<string>[] = [app.domain];
    if (app.coversPagesHostnames) {
      if (!pages)
        throw new Error(
          `service ${args.service.id}: its Access application must cover the Pages hostnames, but it has no Pages project`,
        );
      // A wildcard covers one label only, so the project's own hostname needs its own entry.
      uris.push(pages.project.subdomain, pulumi.interpolate`*.${pages.project.subdomain}`);
    }
    this.resources.accessApplication = new cloudflare.ZeroTrustAccessApplication(
      edgeNames.accessApplication(name),
      {
        // Account-scoped, like the reusable policy it references.
        accountId: cf.accountId,
        name: app.name,
        type: "self_hosted",
        domain: app.domain,
        destinations: uris.map((uri) => ({ type: "public", uri })),
        policies,
        sessionDuration: app.sessionDuration,
        appLauncherVisible: true,
        // API clients without valid service-token headers get a 401, not the login page.
        serviceAuth401Redirect: tokenPolicy ? true : undefined,
      },
      this.adoptable(args, edgeNames.accessApplication(name)),
    );
    return this.resources.accessApplication.aud;
  }
}
