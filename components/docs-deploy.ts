/**
 * How the docs site reaches Cloudflare Pages, for the docs service's
 * component (components/service.ts): either `pulumi up` builds it and
 * uploads it with wrangler (homelab:docsSource upload, the default), or the
 * Pages project builds the owner's repository itself (homelab:docsSource git)
 * and nothing is uploaded.
 */
import type * as cloudflare from "@pulumi/cloudflare";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Homelab } from "./catalog/resolve";
import type { StackConfig } from "./config/schema";
import { docsSiteHash } from "./docs/site";
import { DOCS_SITE_DIR } from "./render/docs";

/** What the upload needs besides the service's own config. */
export interface DocsDeployInputs {
  /** The whole stack: the site documents every service, not only the docs service. */
  lab: Homelab;
  /** The Cloudflare API token the provider uses; wrangler uploads with it. Secret. */
  apiToken?: pulumi.Input<string>;
}

/** The PagesProject arguments that depend on where the site comes from. */
export function pagesSourceArgs(
  config: StackConfig,
): Pick<cloudflare.PagesProjectArgs, "productionBranch" | "source" | "buildConfig"> {
  const source = config.docs?.source;
  if (source?.kind !== "git") return { productionBranch: "main" };
  return {
    productionBranch: source.branch,
    source: {
      type: source.provider,
      config: {
        owner: source.owner,
        repoName: source.repo,
        productionBranch: source.branch,
        productionDeploymentsEnabled: true,
        deploymentsEnabled: true,
      },
    },
    buildConfig: { buildCommand: source.buildCommand, destinationDir: source.outputDir },
  };
}

/** The command line of the upload, relative to the project's folder, where Pulumi runs the program and its local commands. */
export function deployScript(stack: string, projectName: string): string {
  const dir = `out/${stack}/${DOCS_SITE_DIR}`;
  // --commit-dirty: the site is built from the working tree, which need not be committed.
  return `npm run --silent docs -- --stack ${stack} && node_modules/.bin/wrangler pages deploy ${dir} --project-name ${projectName} --branch main --commit-dirty=true`;
}

/**
 * With homelab:docsSource upload: a local command that builds the site and
 * runs `wrangler pages deploy`. Its trigger is docsSiteHash, which changes
 * exactly when the built site would, so an unchanged site deploys nothing and
 * `pulumi preview` never runs Astro. The token and account id reach wrangler
 * in the environment, as a secret, never on the command line.
 */
export function deployDocsSite(
  name: string,
  args: {
    config: StackConfig;
    project: cloudflare.PagesProject;
    docs: DocsDeployInputs;
    access?: cloudflare.ZeroTrustAccessApplication;
  },
  opts: pulumi.CustomResourceOptions,
): command.local.Command | undefined {
  const { config, project, docs } = args;
  const cf = config.cloudflare;
  if (config.docs?.source.kind === "git" || !cf) return undefined;
  if (docs.apiToken === undefined)
    throw new Error(`stack ${config.stack}: uploading the docs site needs the Cloudflare API token, and there is none`);
  return new command.local.Command(
    `${name}-deploy`,
    {
      create: project.name.apply((projectName) => deployScript(config.stack, projectName)),
      environment: pulumi.secret(
        pulumi
          .output(docs.apiToken)
          .apply((token) => ({ CLOUDFLARE_API_TOKEN: token, CLOUDFLARE_ACCOUNT_ID: cf.accountId })),
      ),
      triggers: [docsSiteHash(docs.lab)],
      // Pages keeps every deployment; a destroy deletes the project, and with it the uploads.
      addPreviousOutputInEnv: false,
    },
    { ...opts, dependsOn: [project, ...(args.access ? [args.access] : [])] },
  );
}
