import { spawn } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import type { NixosHost, NixosHostArgs } from "../../../components/host/nixos-host";
import { runOverSsh, type RunResult, type SshRunOptions, type SshTarget } from "./testhost";

/**
 * The NixosHost component under strict Pulumi mocks, and a small stand-in for
 * the engine that decides, like `pulumi up` would, which remote.Command runs:
 * create when new, create again when `triggers` changed (they force a
 * replacement), `update ?? create` when another input changed, nothing when
 * the inputs are the same. The chosen commands then run over real ssh.
 */

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface Captured {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const KNOWN_TYPES = new Set(["homelab:host:NixosHost", "command:remote:Command", "command:local:Command"]);
let registered: Captured[] = [];

/** Strict mocks: any other resource type, and any call, throws. Call before importing the component. */
export function installMocks(preview: boolean): void {
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (!KNOWN_TYPES.has(args.type)) throw new Error(`unexpected resource type ${args.type} (${args.name})`);
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: args.custom ? `${args.name}-id` : undefined, state: { ...args.inputs } };
      },
      call(args) {
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    "homelab",
    "test",
    preview,
  );
}

export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** Strip the secret wrappers the mock monitor keeps around secret inputs. */
export function plain(v: unknown): unknown {
  if (isSecretValue(v)) return plain((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function settle<T>(o: pulumi.Output<T>, what: string, ms = 60_000): Promise<T> {
  return Promise.race([
    new Promise<T>((resolve) =>
      o.apply((v) => {
        resolve(v);
        return v;
      }),
    ),
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not resolve in ${ms / 1000}s`)), ms)),
  ]);
}

export interface ProgramRun {
  /**
   * The command inputs by stage, in the order the engine runs them:
   * preflight, push, `secrets.<service>` for each service with secrets,
   * rebuild, then confirm (a local.Command: it runs ssh on the deployer).
   */
  commands: Map<string, Record<string, unknown>>;
  drift: string[];
  host: NixosHost;
}

export type NixosHostClass = typeof NixosHost;

/** One program run: declare the component, wait for every command's inputs, return them by stage. */
export async function runProgram(
  Component: NixosHostClass,
  args: NixosHostArgs,
  name = "homelab-host",
): Promise<ProgramRun> {
  registered = [];
  const host = new Component(name, args);
  const secretCommands = Object.values(host.secretFiles);
  await settle(
    pulumi.all([host.preflight.id, host.push.id, ...secretCommands.map((c) => c.id), host.rebuild.id, host.confirm.id]),
    "the host's commands",
  );
  const drift = await settle(host.drift, "drift");
  const commands = new Map<string, Record<string, unknown>>();
  for (const r of registered) {
    if (r.type !== "command:remote:Command" && r.type !== "command:local:Command") continue;
    commands.set(stageOf(r.name.slice(name.length + 1)), r.inputs);
  }
  // Dependency order: the secrets commands wait for the push, the rebuild for every secrets command.
  const order = (stage: string) =>
    stage === "preflight" ? 0 : stage === "push" ? 1 : stage === "rebuild" ? 3 : stage === "confirm" ? 4 : 2;
  return {
    commands: new Map([...commands].sort((a, b) => order(a[0]) - order(b[0]) || (a[0] < b[0] ? -1 : 1))),
    drift,
    host,
  };
}

/** `mosquitto-secrets` → `secrets.mosquitto`; the host's own stages keep their names. */
function stageOf(suffix: string): Stage {
  const m = /^(.+)-secrets$/.exec(suffix);
  return m ? `secrets.${m[1]}` : suffix;
}

/** `preflight`, `push`, `rebuild`, or `secrets.<service>`. */
export type Stage = string;

export interface StepResult {
  stage: Stage;
  op: "create" | "replace" | "update";
  result: RunResult;
}

export interface UpResult {
  steps: StepResult[];
  /** The stage that failed, when one did; later stages did not run. */
  failed?: StepResult;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The operation the engine would pick for a remote.Command, from its stored and new inputs. */
export function operation(
  old: Record<string, unknown> | undefined,
  next: Record<string, unknown>,
): "create" | "replace" | "update" | "same" {
  if (!old) return "create";
  if (!same(old.triggers, next.triggers)) return "replace";
  return same(old, next) ? "same" : "update";
}

export class FakeEngine {
  /** Inputs of each stage as the last successful operation left them: the stack's state. */
  readonly state = new Map<Stage, Record<string, unknown>>();

  plan(run: ProgramRun): Map<Stage, ReturnType<typeof operation>> {
    return new Map([...run.commands].map(([s, inputs]) => [s, operation(this.state.get(s), inputs)]));
  }

  /** `pulumi up`: run what changed, in dependency order; stop at the first failure. */
  async up(run: ProgramRun): Promise<UpResult> {
    const steps: StepResult[] = [];
    for (const [stage, op] of this.plan(run)) {
      if (op === "same") continue;
      const inputs = run.commands.get(stage)!;
      const cmd = (op === "update" ? (inputs.update ?? inputs.create) : inputs.create) as string;
      const result = await runCaptured(inputs, cmd);
      const step = { stage, op, result };
      steps.push(step);
      if (result.code !== 0) return { steps, failed: step };
      this.state.set(stage, inputs);
    }
    return { steps };
  }
}

/** The ssh target a captured remote.Command connects to, pinned key included. */
export function capturedTarget(inputs: Record<string, unknown>): SshTarget {
  const c = plain(inputs.connection) as {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    hostKey: string;
  };
  return { host: c.host, port: c.port, user: c.user, privateKey: c.privateKey, hostKey: c.hostKey };
}

/**
 * Run a captured command with its stdin as the provider would: a
 * remote.Command over real ssh, a local.Command (the confirm) under /bin/sh
 * on this machine, which opens its own ssh connection.
 */
export function runCaptured(
  inputs: Record<string, unknown>,
  cmd = inputs.create as string,
  opts: SshRunOptions = {},
): Promise<RunResult> {
  const stdin = plain(inputs.stdin) as string | undefined;
  if (inputs.connection === undefined) return runLocal(cmd, stdin, opts);
  return runOverSsh(capturedTarget(inputs), cmd, stdin, opts);
}

function runLocal(cmd: string, stdin: string | undefined, opts: SshRunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", cmd], { stdio: ["pipe", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += String(d)));
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.stdin.on("error", () => undefined);
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(kill, opts.timeoutMs ?? 120_000);
    const killWhen = opts.killWhen;
    const poll = killWhen ? setInterval(() => killWhen() && kill(), 50) : undefined;
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      resolve({ code: code ?? (signal ? 255 : 1), stdout, stderr });
    });
    child.stdin.end(stdin ?? "");
  });
}

/**
 * What `pulumi up` runs for a switch: the rebuild, then (when it succeeded)
 * the confirm over a new connection. The result is the rebuild's when it
 * failed, else both outputs together with the confirm's status.
 */
export async function rebuildAndConfirm(
  run: ProgramRun,
  opts: SshRunOptions = {},
): Promise<RunResult & { rebuild: RunResult; confirm?: RunResult }> {
  const rebuild = await runCaptured(run.commands.get("rebuild")!, undefined, opts);
  if (rebuild.code !== 0) return { ...rebuild, rebuild };
  const confirm = await runCaptured(run.commands.get("confirm")!, undefined, opts);
  return {
    code: confirm.code,
    stdout: rebuild.stdout + confirm.stdout,
    stderr: rebuild.stderr + confirm.stderr,
    rebuild,
    confirm,
  };
}
