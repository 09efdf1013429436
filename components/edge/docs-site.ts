import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";

export interface DocsSiteArgs {
  /** Cloudflare account of the Pages project. */
  accountId: pulumi.Input<string>;
  /** Pages project name; includes the stack. @example "homelab-docs-prod" */
  projectName: string;
  /** The custom domain, e.g. docs-home.javiersc.com. Its DNS record is one of the routes. */
  hostname: string;
  /**
   * Branch Pages publishes as production.
   * @default "main"
   */
  productionBranch?: string;
}

/** The documentation site on Cloudflare Pages with its custom domain. */
export class DocsSite extends pulumi.ComponentResource {
  /** The project's own hostname, `<project>.pages.dev`. */
  public readonly subdomain: pulumi.Output<string>;

  constructor(name: string, args: DocsSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:cloudflare:DocsSite", name, {}, opts);
    const project = new cloudflare.PagesProject(
      `${name}-project`,
      { accountId: args.accountId, name: args.projectName, productionBranch: args.productionBranch ?? "main" },
      { parent: this },
    );
    new cloudflare.PagesDomain(
      `${name}-domain`,
      { accountId: args.accountId, projectName: project.name, name: args.hostname },
      { parent: this },
    );
    this.subdomain = project.subdomain;
    this.registerOutputs({ subdomain: this.subdomain });
  }
}
