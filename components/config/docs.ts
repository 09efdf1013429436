/**
 * The docs site's stack config: how Cloudflare Pages gets the site, and what
 * the generated pages may show. Parsed here so components/config/schema.ts
 * only lists the keys and calls this once.
 */
import { gitBranchProblem, repoFolderProblem } from "../catalog/rules";
import { option } from "./key";
import type { ConfigProblem, KeyValues } from "./schema";

/** `github:<owner>/<repo>` or `gitlab:<owner>/<repo>`; neither name starts with a dot or a hyphen, so neither is . or .. */
const REPOSITORY = /^(github|gitlab):([A-Za-z0-9_][A-Za-z0-9_.-]{0,99})\/([A-Za-z0-9_][A-Za-z0-9_.-]{0,99})$/;

/** A check of the config schema: the problem with a value, quoted, or undefined. */
const quoted = (problem: (v: string) => string | undefined) => (v: string) => {
  const why = problem(v);
  return why ? `${JSON.stringify(v)} ${why}` : undefined;
};

/** Where the Pages project gets the site from. */
export type DocsSource =
  /** `pulumi up` builds the site and uploads it with `wrangler pages deploy` (Direct Upload). */
  | { kind: "upload" }
  /** Cloudflare Pages builds the owner's repository itself on every push; nothing is uploaded. */
  | {
      kind: "git";
      /** The provider of the repository. */
      provider: "github" | "gitlab";
      owner: string;
      repo: string;
      /** Branch whose pushes are production deployments (`homelab:docsBranch`). */
      branch: string;
      /** `homelab:docsBuildCommand`. */
      buildCommand: string;
      /** Relative to the repository's root (`homelab:docsOutputDir`). */
      outputDir: string;
    };

export interface DocsConfig {
  source: DocsSource;
  /**
   * Whether the generated pages show the host's LAN address. Off by default:
   * the site is on the internet (behind Access), and the address is of no use
   * outside the LAN; the pages show the mDNS alias and `<homelab.ip>` instead
   * (`homelab:docsShowLanAddresses`).
   */
  showLanAddresses: boolean;
}

/**
 * The keys, for CONFIG_KEYS in schema.ts. docsSource and docsRepository fill
 * no field one to one: parseDocsConfig makes the source from them.
 */
export const DOCS_CONFIG_KEYS = {
  docsSource: option({
    kind: "string",
    default: "upload",
    doc: "how Pages gets the docs site: upload (pulumi up builds and uploads it) or git",
  }),
  docsRepository: option({
    kind: "string",
    doc: "with docsSource git: the repository Pages builds, github:<owner>/<repo> or gitlab:<owner>/<repo>",
    check: quoted((v) => (REPOSITORY.test(v) ? undefined : "is not github:<owner>/<repo> or gitlab:<owner>/<repo>")),
    expect:
      "github:<owner>/<repo> or gitlab:<owner>/<repo>, each name of letters, digits and . _ -, starting with a letter, digit or _",
  }),
  docsBranch: option({
    kind: "string",
    target: "docs.source.branch",
    default: "main",
    doc: "with docsSource git: the production branch",
    check: quoted(gitBranchProblem),
    expect:
      "a git branch name such as main or release/docs: letters, digits and . _ - /, no .., no component starting with . or ending in .lock, not starting with - or ending in / or .",
  }),
  // The build command is the owner's, run by Cloudflare's build in the owner's repository, not on the host: any one-line command is taken.
  docsBuildCommand: option({
    kind: "string",
    target: "docs.source.buildCommand",
    default: (stack: string) => `npm run docs -- --stack ${stack}`,
    doc: "with docsSource git: the build command Pages runs",
  }),
  docsOutputDir: option({
    kind: "string",
    target: "docs.source.outputDir",
    default: (stack: string) => `out/${stack}/docs`,
    doc: "with docsSource git: the built site's folder in the repository",
    check: quoted(repoFolderProblem),
    expect:
      "a folder relative to the repository's root, such as out/<stack>/docs: letters, digits and . _ - between single slashes, no . or .. segment, no leading or trailing /",
  }),
  docsShowLanAddresses: option({
    kind: "boolean",
    target: "docs.showLanAddresses",
    default: false,
    doc: "show the host's LAN address on the docs site",
  }),
};

const GIT_ONLY = ["docsRepository", "docsBranch", "docsBuildCommand", "docsOutputDir"] as const;

/** The docs fields the keys' records fill, defaults included, before the source takes its shape. */
export interface FilledDocs {
  showLanAddresses: boolean;
  source: { branch: string; buildCommand: string; outputDir: string };
}

/**
 * The docs keys' cross-key rules, after the per-key step: the git-only keys
 * need docsSource git, and the repository gives the source its provider,
 * owner and repo. Problems are appended to `problems`.
 */
export function parseDocsConfig(
  stack: string,
  keys: KeyValues,
  filled: FilledDocs,
  problems: ConfigProblem[],
): DocsConfig {
  const file = `Pulumi.${stack}.yaml`;
  // A key whose value the schema already refused is not refused again here.
  const refused = (key: string) => problems.some((p) => p.key === `homelab:${key}`);
  const { showLanAddresses } = filled;
  const kind = keys.withDefaults.docsSource as string;
  if (kind === "upload") {
    for (const key of GIT_ONLY) {
      if (keys.set[key] !== undefined) {
        problems.push({
          key: `homelab:${key}`,
          message: "only used when Pages builds from a repository, but homelab:docsSource is upload",
          fix: `remove homelab:${key} from ${file}, or set homelab:docsSource to git`,
        });
      }
    }
    return { source: { kind: "upload" }, showLanAddresses };
  }
  if (kind !== "git") {
    problems.push({
      key: "homelab:docsSource",
      message: `unknown docs source "${kind}"`,
      fix: `set homelab:docsSource to upload or git in ${file}`,
    });
    return { source: { kind: "upload" }, showLanAddresses };
  }
  const repository = keys.set.docsRepository as string | undefined;
  const m = repository === undefined ? null : REPOSITORY.exec(repository);
  if (!m && !refused("docsRepository")) {
    problems.push({
      key: "homelab:docsRepository",
      message:
        repository === undefined
          ? "missing; homelab:docsSource git needs the repository Pages builds"
          : `"${repository}" is not github:<owner>/<repo> or gitlab:<owner>/<repo>`,
      fix: `pulumi config set homelab:docsRepository github:<owner>/<repo> --stack ${stack}, after installing the Cloudflare Pages app on that repository`,
    });
  }
  const { outputDir } = filled.source;
  if (repoFolderProblem(outputDir) && !refused("docsOutputDir")) {
    problems.push({
      key: "homelab:docsOutputDir",
      message: `"${outputDir}" is not a folder inside the repository`,
      fix: `set homelab:docsOutputDir in ${file} to a relative path such as out/${stack}/docs`,
    });
  }
  return {
    showLanAddresses,
    source: {
      kind: "git",
      provider: (m?.[1] ?? "github") as "github" | "gitlab",
      owner: m?.[2] ?? "",
      repo: m?.[3] ?? "",
      ...filled.source,
    },
  };
}
