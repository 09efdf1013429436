/**
 * The docs site's upload under strict mocks: index.ts for prod declares a
 * local command under the docs service that builds the site and runs
 * wrangler, triggered by the site's content hash, with the API token only in
 * its secret environment.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { DEPLOY_CONFIG, runProgram, type ProgramRun } from "./run";

vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("./fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "docs-deploy-"),
);

/** What the fake 1Password answers for the Cloudflare API token (fake-onepassword.ts). */
const TOKEN = `docs-deploy-${"x".repeat(40)}`;

const deployOf = (run: ProgramRun) => run.byType("command:local:Command").find((r) => r.name === "docs-deploy");
/** Local commands besides the host's confirm, which runs on the deployer after each switch. */
const localCommands = (run: ProgramRun) =>
  run
    .byType("command:local:Command")
    .map((r) => r.name)
    .filter((n) => n !== "prod-host-nixos-confirm");

describe("the docs site's upload (prod, under mocks)", () => {
  let run: ProgramRun;
  let again: ProgramRun;

  beforeAll(async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    run = await runProgram("prod", DEPLOY_CONFIG, ["homelab:sshPrivateKey"]);
    again = await runProgram("prod", DEPLOY_CONFIG, ["homelab:sshPrivateKey"]);
  });

  it("is one local command that builds the stack's site and deploys it to the stack's Pages project", () => {
    expect(localCommands(run)).toEqual(["docs-deploy"]);
    expect(deployOf(run)?.inputs.create).toBe(
      "npm run --silent docs -- --stack prod && node_modules/.bin/wrangler pages deploy out/prod/docs --project-name homelab-docs-prod --branch main --commit-dirty=true",
    );
  });

  it("waits for the docs Access application as well as the project, so no upload is ever public on pages.dev", () => {
    const urn = (name: string) => run.tree.find((n) => n.name === name)!.urn;
    const deploy = run.tree.find((n) => n.name === "docs-deploy")!;
    expect(deploy.dependencies).toEqual(expect.arrayContaining([urn("docs-pages"), urn("docs-access")]));
  });

  it("keeps the same trigger when nothing the site shows changed", () => {
    expect(deployOf(again)?.inputs.triggers).toEqual(deployOf(run)?.inputs.triggers);
  });

  it("keeps the trigger when only config the site does not show changes (the tunnel secret generation)", async () => {
    const rotated = await runProgram("prod", { ...DEPLOY_CONFIG, "homelab:tunnelCredentialGeneration": "2" }, [
      "homelab:sshPrivateKey",
    ]);
    expect(deployOf(rotated)?.inputs.triggers).toEqual(deployOf(run)?.inputs.triggers);
  });

  it("changes the trigger when a page's content changes (the time zone on the Transmission schedule)", async () => {
    const moved = await runProgram("prod", { ...DEPLOY_CONFIG, "homelab:timeZone": "Europe/Madrid" }, [
      "homelab:sshPrivateKey",
    ]);
    expect(deployOf(moved)?.inputs.triggers).not.toEqual(deployOf(run)?.inputs.triggers);
  });

  it("passes the API token and account id only in its environment, as a secret", () => {
    const deploy = deployOf(run)!;
    expect(deploy.secretInputs).toContain("environment");
    const env = (deploy.inputs.environment as { value: Record<string, string> }).value;
    expect(env).toEqual({
      CLOUDFLARE_API_TOKEN: TOKEN,
      CLOUDFLARE_ACCOUNT_ID: DEPLOY_CONFIG["homelab:cloudflareAccountId"],
    });
    const plain = Object.entries(deploy.inputs).filter(([k]) => !deploy.secretInputs.includes(k));
    expect(JSON.stringify(plain)).not.toContain(TOKEN);
  });

  it("does not name the token in any other resource's plain inputs", () => {
    for (const r of run.registered) {
      const plain = Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k));
      expect(JSON.stringify(plain), `${r.type} ${r.name}`).not.toContain(TOKEN);
    }
  });
});

describe("the docs site built by Pages from the owner's repository (prod, under mocks)", () => {
  let run: ProgramRun;

  beforeAll(async () => {
    vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
    run = await runProgram(
      "prod",
      { ...DEPLOY_CONFIG, "homelab:docsSource": "git", "homelab:docsRepository": "github:javiersc/homelab" },
      ["homelab:sshPrivateKey"],
    );
  });

  it("uploads nothing", () => {
    expect(localCommands(run)).toEqual([]);
  });

  it("points the Pages project at the repository, with the stack's build command and output folder", () => {
    const [project] = run.byType(":PagesProject");
    expect(project.inputs).toMatchObject({
      name: "homelab-docs-prod",
      productionBranch: "main",
      source: {
        type: "github",
        config: {
          owner: "javiersc",
          repoName: "homelab",
          productionBranch: "main",
          productionDeploymentsEnabled: true,
        },
      },
      buildConfig: { buildCommand: "npm run docs -- --stack prod", destinationDir: "out/prod/docs" },
    });
  });
});
