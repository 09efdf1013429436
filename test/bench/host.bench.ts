/**
 * `npm run bench` (host part): the deploy's host stages for the prod stack's
 * services and for generated catalogs of 1,000 and 5,000 services, on the
 * sshd test host (a real sshd on loopback, fake nixos-rebuild). For each size
 * it reports what the program sends (the longest command line and its
 * longest argument, against the kernel's limits; the push's stdin, which
 * Pulumi keeps in state) and how long each stage takes: push, every
 * service's secrets command, and the apply with its health checks, and
 * within the apply the build it runs before the switch (the fake
 * nixos-rebuild copies the release into its store, as Nix copies a path
 * source; the apply logs how long it took).
 *
 * Needs root and sshd, like the host test tier; without them it says so and
 * measures only the sizes.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { enabledSecrets, enabledServices, labHosts, type Homelab } from "../../components/catalog/resolve";
import { readStackFile } from "../../components/config/file";
import { loadStack } from "../../components/config/load";
import { bundleHash, bundleStdin } from "../../components/host/bundle";
import {
  applyCommand,
  deployLists,
  healthChecksFor,
  pushCommand,
  secretsCommand,
  secretsStdin,
  type HostHealthCheck,
  type HostPaths,
} from "../../components/host/commands";
import { hostBundleFromOutputs, renderOutputs } from "../../components/render/outputs";
import { catalogWithGroupPrefix, startListeners } from "../host/support/fixture";
import {
  groupExists,
  runOverSsh,
  startTestHost,
  sshdTier,
  testHostRoot,
  type SshTarget,
} from "../host/support/testhost";
import { syntheticCatalog } from "./synthetic";
import { randomBytes } from "node:crypto";
import { CATALOG } from "../../components/catalog/services";

const ROOT = join(__dirname, "..", "..");
/** Linux's limit on one argument (MAX_ARG_STRLEN, 32 pages). */
const ARG_MAX_ONE = 131_072;
/** How many secrets commands run at once, standing in for the engine running independent resources in parallel. */
const PARALLEL = 8;

interface Stages {
  paths: HostPaths;
  hash: string;
  push: { command: string; stdin: string };
  secrets: { id: string; command: string; stdin: string }[];
  apply: string;
  secretCount: number;
  checkCount: number;
}

function labFor(size: number | "prod", paths: HostPaths, groupPrefix: string): Homelab {
  const raw = {
    ...readStackFile(ROOT, "prod"),
    "homelab:bundleDir": paths.bundleDir,
    "homelab:credentialsDir": paths.secretsDir,
    "homelab:stateDir": paths.stateDir,
  };
  const catalog = catalogWithGroupPrefix(size === "prod" ? CATALOG : syntheticCatalog(size), groupPrefix);
  return loadStack("prod", raw, catalog, "plan", { hostRoot: testHostRoot(paths) }).lab;
}

/** Everything the NixosHost component would send, built by the same pure functions. */
function stagesFor(lab: Homelab, paths: HostPaths, checkPort: (c: HostHealthCheck) => number): Stages {
  const secrets = enabledSecrets(lab);
  const groups = [...new Set(secrets.flatMap((s) => (s.group === "root" ? [] : [s.group])))].sort();
  const bundle = hostBundleFromOutputs(renderOutputs(lab), labHosts(lab)[0].name);
  // The fake switch creates the groups NixOS would.
  bundle.set("fake-host/groups", `${groups.join("\n")}\n`);
  const checks = healthChecksFor(enabledServices(lab)).map((c) => ({ ...c, port: checkPort(c) }));
  // The checks point at the test host's stand-in listeners, as in the host tests.
  for (const [path, content] of deployLists(
    checks,
    secrets.map((s) => s.path),
    paths,
  ))
    bundle.set(path, content);
  const hash = bundleHash(bundle);
  const byService = new Map<string, typeof secrets>();
  for (const s of secrets) byService.set(s.serviceId, [...(byService.get(s.serviceId) ?? []), s]);
  return {
    paths,
    hash,
    push: { command: pushCommand(paths, hash, "cmVjb3Jk"), stdin: bundleStdin(bundle) },
    secrets: [...byService].map(([id, list]) => ({
      id,
      command: secretsCommand(paths, id, "cmVjb3Jk"),
      stdin: secretsStdin(
        list.map((spec) => ({ spec, value: `value of ${spec.key}` })),
        paths,
      ),
    })),
    apply: applyCommand(paths, hash, { keepGenerations: 3, healthTimeoutSeconds: 60 }, "cmVjb3Jk"),
    secretCount: secrets.length,
    checkCount: checks.length,
  };
}

/**
 * The longest command line sent. sshd hands a command to the login shell as
 * one `-c` argument, so one command is bound by the one-argument limit.
 */
function longestCommand(st: Stages): number {
  return Math.max(...[st.push.command, st.apply, ...st.secrets.map((s) => s.command)].map((c) => Buffer.byteLength(c)));
}

async function inParallel<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function timed(
  what: string,
  run: () => Promise<{ code: number; stderr: string; stdout: string }>,
): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr || r.stdout}`);
  return ms;
}

function kib(n: number): string {
  return `${(n / 1024).toFixed(0)} KiB`;
}

async function main(): Promise<void> {
  const sshd = sshdTier();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`host stages benchmark (sshd test host on loopback, ${PARALLEL} secrets commands at a time)`);
  const measured: {
    size: string;
    services: number;
    pushMs?: number;
    secretsMs?: number;
    applyMs?: number;
    buildMs?: number;
  }[] = [];
  // `tsx test/bench/host.bench.ts 5000` measures one size; the secrets stage of 5,000 services takes a while.
  const asked = process.argv.slice(2).map((a) => (a === "prod" ? "prod" : Number(a)));
  const sizes: ("prod" | number)[] = asked.length > 0 ? asked : ["prod", 1000, 5000];
  for (const size of sizes) {
    const prefix = `hb${randomBytes(3).toString("hex")}-`;
    const host = sshd.available ? await startTestHost() : undefined;
    const listeners = host ? await startListeners() : undefined;
    const paths = host?.paths ?? {
      bundleDir: "/etc/nixos/homelab",
      secretsDir: "/var/lib/homelab/secrets",
      stateDir: "/var/lib/homelab/state",
    };
    const lab = labFor(size, paths, prefix);
    const st = stagesFor(lab, paths, (c) =>
      listeners ? (c.kind === "http" ? listeners.httpPort : listeners.tcpPort) : c.port,
    );
    const longest = longestCommand(st);
    const services = enabledServices(lab).length;
    const pushState = Buffer.byteLength(st.push.stdin);
    const secretsStdinTotal = st.secrets.reduce((n, s) => n + Buffer.byteLength(s.stdin), 0);
    say(
      `${String(size).padEnd(5)} ${String(services).padStart(5)} services, ${st.secretCount} secrets, ${st.checkCount} checks: ` +
        `longest command ${longest} B (limit ${ARG_MAX_ONE} B), ` +
        `push stdin (kept in state) ${kib(pushState)}, secrets stdin ${kib(secretsStdinTotal)} over ${st.secrets.length} commands`,
    );
    if (host && listeners) {
      const target: SshTarget = host.target();
      try {
        const pushMs = await timed("push", () =>
          runOverSsh(target, st.push.command, st.push.stdin, { timeoutMs: 600_000 }),
        );
        const secretsStart = process.hrtime.bigint();
        await inParallel(st.secrets, PARALLEL, async (s) => {
          await timed(`secrets of ${s.id}`, () => runOverSsh(target, s.command, s.stdin, { timeoutMs: 600_000 }));
        });
        const secretsMs = Number(process.hrtime.bigint() - secretsStart) / 1e6;
        let applyOut = "";
        const applyMs = await timed("apply", async () => {
          const r = await runOverSsh(target, st.apply, undefined, { timeoutMs: 1_200_000 });
          applyOut = r.stdout;
          return r;
        });
        const built = /apply: built \S+ in (\d+) ms/.exec(applyOut);
        if (!built) throw new Error(`the apply did not say how long its build took:\n${applyOut}`);
        const buildMs = Number(built[1]);
        measured.push({ size: String(size), services, pushMs, secretsMs, applyMs, buildMs });
        say(
          `${String(size).padEnd(5)} push ${pushMs.toFixed(0)} ms, secrets ${secretsMs.toFixed(0)} ms (${st.secrets.length} commands), apply ${applyMs.toFixed(0)} ms, of which the build before the switch ${buildMs} ms`,
        );
      } finally {
        await listeners.close();
        await host.stop();
        const groups = [...new Set(enabledSecrets(lab).flatMap((s) => (s.group.startsWith(prefix) ? [s.group] : [])))];
        for (const g of groups) if (groupExists(g)) execFileSync("groupdel", [g]);
      }
    }
  }
  const at1000 = measured.find((m) => m.size === "1000");
  const at5000 = measured.find((m) => m.size === "5000");
  if (at1000 && at5000) {
    const ratio = (a?: number, b?: number) => ((a ?? 0) / 5 / (b ?? 1)).toFixed(2);
    say(
      `growth from 1,000 to 5,000 per service: secrets ${ratio(at5000.secretsMs, at1000.secretsMs)}x, apply ${ratio(at5000.applyMs, at1000.applyMs)}x`,
    );
  }
  if (measured.length === 0) say(`stage times not measured: ${sshd.reason}`);
  say(`target: at 5,000 services every command well under ${ARG_MAX_ONE} B, stage times growing linearly`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
