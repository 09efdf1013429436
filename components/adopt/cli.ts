/**
 * `npm run adopt -- --stack NAME [--dry-run]`: find the Cloudflare objects
 * of a home lab made by hand, match them to what the stack declares, print
 * the table and write `homelab:adopt` into Pulumi.<stack>.yaml. Needs the
 * Cloudflare API token, not the Pulumi CLI. Reads Cloudflare, changes
 * nothing there; the next `pulumi up` imports what was adopted.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ValidationError } from "../catalog/validate";
import { readStackFile } from "../config/file";
import { loadStack, stackNameProblem } from "../config/load";
import { CONFIG_NAMESPACE } from "../config/schema";
import { connectOnePassword } from "../secrets/onepassword";
import { OnePasswordSource, SecretsError, onePasswordToken, type OnePasswordSecretsApi } from "../secrets/source";
import { checkCloudflareApiToken, cloudflareApiTokenRef } from "../secrets/stack";
import type { Homelab } from "../catalog/resolve";
import { cloudflareClient, readInventory } from "./inventory";
import { matchInventory, renderAdoptTable, type Inventory } from "./match";
import { writeAdoption } from "./stackfile";

const ROOT = resolve(__dirname, "..", "..");

export interface AdoptOptions {
  /** Folder holding Pulumi.<stack>.yaml. @default the repository root */
  root?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default the 1Password SDK */
  connect?: (token: string) => Promise<OnePasswordSecretsApi>;
  /** @default Cloudflare's API through the official SDK */
  inventory?: (token: string, lab: Homelab) => Promise<Inventory>;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

/**
 * The API token the program's provider uses: CLOUDFLARE_API_TOKEN when set,
 * else the stack's 1Password reference. A token kept in the stack's secret
 * config is encrypted for the Pulumi CLI, so it is passed in the variable.
 */
async function apiToken(lab: Homelab, env: NodeJS.ProcessEnv, connect: AdoptOptions["connect"]): Promise<string> {
  const { config } = lab;
  if (env.CLOUDFLARE_API_TOKEN) {
    checkCloudflareApiToken(env.CLOUDFLARE_API_TOKEN, "CLOUDFLARE_API_TOKEN");
    return env.CLOUDFLARE_API_TOKEN;
  }
  if (config.secrets.source !== "1password") {
    throw new SecretsError(
      `stack ${config.stack} keeps the Cloudflare API token in homelab:cloudflareApiToken, which only the Pulumi CLI decrypts: run CLOUDFLARE_API_TOKEN="$(pulumi config get ${CONFIG_NAMESPACE}:cloudflareApiToken --stack ${config.stack})" npm run adopt -- --stack ${config.stack}`,
    );
  }
  const ref = cloudflareApiTokenRef(config);
  const token = onePasswordToken(env, undefined, config.stack);
  const source = new OnePasswordSource(
    () => (connect ?? connectOnePassword)(token),
    new Map([[ref, ["npm run adopt"]]]),
  );
  const value = (await source.resolveAll([ref])).get(ref) as string;
  checkCloudflareApiToken(value, ref);
  return value;
}

export async function runAdopt(argv: string[], options: AdoptOptions = {}): Promise<number> {
  const stdout = options.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = options.stderr ?? ((t: string) => void process.stderr.write(t));
  const env = options.env ?? process.env;
  const root = options.root ?? ROOT;
  let file: string | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { stack: { type: "string", default: "prod" }, "dry-run": { type: "boolean", default: false } },
      strict: true,
    });
    const stack = values.stack as string;
    const badName = stackNameProblem(stack);
    if (badName)
      throw new ValidationError(stack, [
        {
          field: "--stack",
          message: badName,
          fix: "pass a stack name: letters, digits, hyphens, underscores and periods",
        },
      ]);
    file = `Pulumi.${stack}.yaml`;
    // Read for the program: the placeholder account and zone ids are refused, as Cloudflare would.
    // The old homelab:adopt is left out: this run replaces it, so an entry that no
    // longer names a declared resource must not stop the run that repairs it.
    const { [`${CONFIG_NAMESPACE}:adopt`]: _previous, ...raw } = readStackFile(root, stack);
    const { lab } = loadStack(stack, raw, undefined, "program");
    const cf = lab.config.cloudflare;
    if (!cf) throw new Error(`stack ${stack} has no Cloudflare edge (homelab:edge none): there is nothing to adopt`);
    const token = await apiToken(lab, env, options.connect);
    const inventory = await (
      options.inventory ?? ((t: string) => readInventory(cloudflareClient(t, env.CLOUDFLARE_BASE_URL), cf))
    )(token, lab);
    const plan = matchInventory(lab, inventory);
    stdout(`${renderAdoptTable(plan)}\n`);
    if (values["dry-run"]) {
      stdout(`\n--dry-run: ${file} was not changed\n`);
      return 0;
    }
    const changed = writeAdoption(root, stack, plan.adopt, plan.settings);
    const pinned = Object.entries(plan.settings).map(([k, v]) => `${CONFIG_NAMESPACE}:${k} = ${v}`);
    stdout(
      `\n${changed ? "wrote" : "unchanged:"} ${CONFIG_NAMESPACE}:adopt (${Object.keys(plan.adopt).length} entries)${pinned.length ? ` and ${pinned.join(", ")}` : ""} in ${file}\n` +
        `next: pulumi preview --diff --stack ${stack} (imports, and each field the first up will change), then pulumi up --stack ${stack}\n`,
    );
    const conflicts = plan.rows.filter((r) => r.status === "conflict").length;
    if (conflicts === 0) return 0;
    // The adopted rows are written all the same; the exit status tells a script the edge is not ready for pulumi up.
    stderr(
      `${conflicts} conflicting ${conflicts === 1 ? "row" : "rows"}: resolve each before pulumi up (a conflicting DNS record stops pulumi preview). Change or delete the object in the Cloudflare dashboard (or change the catalog), then run npm run adopt -- --stack ${stack} again\n`,
    );
    return 1;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    stderr(`${message}\n${file ? `${file} was not changed` : "no stack file was changed"}\n`);
    return 1;
  }
}

if (require.main === module) {
  void runAdopt(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
