import { spawnSync } from "node:child_process";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedSecret } from "../catalog/resolve";
import type { NixosFlake } from "../config/hosts";
import {
  DEPLOY_SCRIPT_PATH,
  bundleEntries,
  bundleHash,
  bundleStdin,
  liveBundleOf,
  sha256Hex,
  type BundleInput,
} from "./bundle";
import {
  applyCommand,
  confirmCommand,
  confirmLocalCommand,
  deployLists,
  preflightCommand,
  pushCommand,
  secretTrigger,
  secretsCommand,
  secretsDeleteCommand,
  secretsStdin,
  sortedSecretSpecs,
  triggerKey,
  sshTargetCheck,
  validatePaths,
  pinnedHostKey,
  type HostHealthCheck,
  type HostPaths,
} from "./commands";
import {
  NO_DEPLOY_REASON,
  UNREACHABLE_REASON,
  bundleDrift,
  damagedJournalNotice,
  failedUnitsNotice,
  encodeRecord,
  noDeployRecorded,
  secretsDrift,
  secretsStage,
  stageTriggers,
  type DeployStage,
  type Drift,
  type Observation,
  unmanagedSecretFiles,
} from "./drift";
import { observeHost } from "./observe";

/** The component's type token; part of every URN, so never rename it casually. */
export const NIXOS_HOST_TYPE = "homelab:host:NixosHost";

/** How the program reaches the host over SSH. */
export interface NixosHostConnection {
  /** Address of the host (homelab:sshHost). @example "192.0.2.10" */
  host: string;
  /**
   * The host's public key, `<type> <base64>` (homelab:sshHostKey), pinned for
   * every connection. Required: without it the component throws before
   * declaring anything, because a deploy never trusts a key on first use.
   * @example "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI..."
   */
  hostKey: string | undefined;
  /** Private key the program logs in with (homelab:sshPrivateKey); kept a Pulumi secret. */
  privateKey: pulumi.Input<string>;
  /** SSH port (homelab:sshPort). @default 22 */
  port?: number;
  /** Login user (homelab:sshUser); a deploy needs root. @default "root" */
  user?: string;
}

/** A secret of an enabled service, with its value. */
export interface NixosHostSecret extends ResolvedSecret {
  /** The value, a Pulumi secret. Sent on stdin only; state and triggers only ever hold an HMAC of it. */
  value: pulumi.Input<string>;
}

export interface NixosHostArgs {
  /** How to reach the host; the host key is pinned. */
  connection: NixosHostConnection;
  /**
   * The rendered NixOS bundle, relative path → content: the host's
   * `hosts/<name>/nixos/` part of `renderOutputs(lab)` (`hostBundleFromOutputs`). It must contain
   * `deploy/homelab-deploy.sh`, the host-side script.
   */
  bundle: BundleInput;
  /** Secrets of the enabled services (`enabledSecrets(lab)`), each with its value. */
  secrets: readonly NixosHostSecret[];
  /** Where the host keeps the bundle, the secret files and the deploy record (`config.paths`). */
  paths: HostPaths;
  /**
   * Checks that must pass after a switch (`healthChecksFor(enabledServices(lab))`); otherwise the host rolls back.
   * They travel inside the release, with the list of secret files, as `generated/health-checks.tsv` and
   * `generated/secret-files.list` (`deployLists`); a bundle from `renderOutputs(lab)` already holds both.
   */
  healthChecks: readonly HostHealthCheck[];
  /** System generations kept after a successful switch (homelab:keepGenerations). @default 10 */
  keepGenerations?: number;
  /** Seconds the health checks have to pass after a switch (homelab:healthTimeoutSeconds). @default 120 */
  healthTimeoutSeconds?: number;
  /**
   * Seconds the host waits, once the checks pass, for the deployer to confirm
   * the switch over a new SSH connection; without it the host rolls back by
   * itself (homelab:confirmTimeoutSeconds). A release that breaks sshd, the
   * firewall or the network passes the host's own checks; this one it fails.
   * @default 120
   */
  confirmTimeoutSeconds?: number;
  /**
   * A host configured by its own flake (homelab:nixosFlake): the rebuild
   * builds and switches that flake with the release as its bundle input.
   * @default unset: a channel host, whose configuration.nix imports the bundle directory
   */
  flake?: NixosFlake;
  /**
   * Read the host over SSH (read-only) when the program runs, and turn
   * changes made outside Pulumi into updates that `pulumi preview` shows.
   * @default true
   */
  detectDrift?: boolean;
  /**
   * The component that owns each service's secret files, by service id, and
   * its name. That service's secrets command is created as its child,
   * `<name>-secrets`, so a rotation shows in `pulumi preview` on the service.
   * A service not listed gets its command under the host, `<host>-<id>-secrets`.
   * @example { mosquitto: { resource: mosquittoComponent, name: "mosquitto" } }
   */
  secretOwners?: Readonly<Record<string, SecretOwner>>;
  /**
   * What this host's deploy waits for before its preflight: the confirm of
   * the host before it in homelab:rollout (`confirm`). When that host's
   * rebuild fails (its health checks fail and it rolls back) or it cannot be
   * confirmed (it rolls back by itself), nothing runs here.
   * @default [] (deploys in parallel with the other hosts)
   */
  after?: pulumi.Input<pulumi.Resource>[];
  /**
   * The host's name in a stack of several hosts. A failed rebuild ends by
   * naming it, so `pulumi up`'s error says which host rolled back.
   * @default unset: one host, and the rebuild command is as it always was
   * @example "gpu"
   */
  hostName?: string;
}

/** A component that owns one service's secrets command. */
export interface SecretOwner {
  /** The parent of the command. */
  resource: pulumi.Resource;
  /** The parent's resource name; the command is named after it. */
  name: string;
  /**
   * The name the command's parent gave it before this one, when it changed:
   * the command is aliased to `<formerName>-secrets` under the same parent,
   * so the engine moves its state instead of replacing it.
   */
  formerName?: string;
}

/** One service's secrets, the unit its secrets command writes. */
interface ServiceSecrets {
  id: string;
  secrets: NixosHostSecret[];
}

/** What differs on the host: by the command that repairs it, and what no command touches. */
interface HostDrift {
  /** Bundle and generation: push and rebuild. */
  system: pulumi.Output<Drift>;
  /** Files in the secrets directory no deploy wrote: warnings only, no trigger. */
  unmanaged: pulumi.Output<string[]>;
  /** Failed units: warnings only, no trigger. */
  failedUnits: pulumi.Output<string[]>;
  /** A damaged apply journal, with the command that repairs it: a warning, no trigger (no step can repair it). */
  damagedJournal: pulumi.Output<string[]>;
  /** Per service id: its declared secret files, repaired by its secrets command. */
  secrets: Record<string, pulumi.Output<string[]>>;
}

/** A stage's triggers, and its record (base64) that the host keeps once the stage succeeds. */
interface StageInputs {
  triggers: string[];
  record: string;
}

/** Everything the commands are built from, validated. */
interface HostPlan {
  bundle: BundleInput;
  hash: string;
  host: string;
  script: string;
  paths: HostPaths;
  hostKey: string;
  port: number;
  user: string;
  secrets: NixosHostSecret[];
  /** The secrets by service, sorted by service id; only services that have secrets. */
  services: ServiceSecrets[];
  checks: readonly HostHealthCheck[];
  keepGenerations: number;
  healthTimeoutSeconds: number;
  confirmTimeoutSeconds: number;
  flake?: NixosFlake;
  hostName?: string;
}

/**
 * Deploys the NixOS bundle and the secret files to the host over SSH, then
 * switches with health-checked rollback. Remote commands, in order: preflight
 * (read-only), push (bundle staged as a release), one secrets command per
 * service with secrets (its files written, its units restarted), rebuild
 * (switch, checks, rollback), then confirm (from the deployer over a new
 * SSH connection; without it the host rolls the switch back by itself). Each
 * runs only when its inputs change, so an unchanged program runs nothing on
 * the host, and a rotated secret re-runs only its service's command.
 *
 * @example
 * new NixosHost("prod-host-nixos", {
 *   connection: { host: "192.0.2.10", hostKey: "ssh-ed25519 AAAA...", privateKey },
 *   bundle: hostBundleFromOutputs(renderOutputs(lab), "nixos"),
 *   secrets: enabledSecrets(lab).map((s) => ({ ...s, value: values.get(s.key)! })),
 *   paths: lab.config.paths,
 *   healthChecks: healthChecksFor(enabledServices(lab)),
 * });
 */
export class NixosHost extends pulumi.ComponentResource {
  /** Content hash of the declared bundle; the release's name on the host. */
  public readonly bundleHash: string;
  /**
   * The bundle the host runs, as the last confirm that succeeded reported it.
   * A failed apply or confirm leaves the confirm's recorded output as it was, so after
   * a rollback this is still the live release, not the declared one; "none"
   * until an apply of this stack has succeeded.
   */
  public readonly appliedBundleHash: pulumi.Output<string>;
  /**
   * Readable reasons the host differed from the last deploy when this run
   * read it; empty when it is in sync. They show as warnings and as
   * `drift:` entries in the triggers of the commands that repair them.
   * Files in the secrets directory that no deploy wrote are listed too, but
   * only as warnings: `pulumi up` leaves them alone, so they trigger nothing.
   */
  public readonly drift: pulumi.Output<string[]>;
  /** Read-only check that the host answers with the pinned key; everything else waits for it. */
  public readonly preflight: command.remote.Command;
  /** Streams the bundle to the host and keeps it as a release; applies nothing. */
  public readonly push: command.remote.Command;
  /** Per service id: writes that service's secret files and restarts its units when one changed. */
  public readonly secretFiles: Readonly<Record<string, command.remote.Command>>;
  /**
   * Links the release, runs nixos-rebuild switch and the health checks, rolls
   * back on failure; once they pass, arms the host's rollback and waits for `confirm`.
   */
  public readonly rebuild: command.remote.Command;
  /**
   * Runs on the deployer after the rebuild: a new SSH connection with the
   * pinned key that confirms the switch, so the host keeps it. When the host
   * cannot be reached, it fails and the host rolls back by itself. What
   * another host's deploy waits for (`after`).
   */
  public readonly confirm: command.local.Command;

  constructor(name: string, args: NixosHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super(NIXOS_HOST_TYPE, name, {}, opts);
    const plan = planHost(args);
    this.bundleHash = plan.hash;

    const connection = this.connection(args, plan);
    const observed = this.observe(args, plan);
    const drift = this.diagnose(plan, observed);
    this.drift = this.reportDrift(name, plan, observed, drift);

    const bundleBase = [`bundle ${plan.hash}`];
    const push = this.stage(
      observed,
      "push",
      pulumi.output(bundleBase),
      drift.system.apply((d) => d.bundle),
    );
    const rebuild = this.stage(
      observed,
      "rebuild",
      pulumi.output(bundleBase),
      drift.system.apply((d) => [...d.bundle, ...d.system]),
    );
    const secrets = plan.services.map((svc) => ({
      svc,
      stage: this.stage(observed, secretsStage(svc.id), this.secretTriggers(args, svc), drift.secrets[svc.id]),
    }));

    this.preflight = this.createPreflight(
      name,
      plan,
      connection,
      [push, rebuild, ...secrets.map((s) => s.stage)],
      args.after ?? [],
    );
    this.push = this.createPush(name, plan, connection, push);
    this.secretFiles = Object.fromEntries(
      secrets.map(({ svc, stage }) => [
        svc.id,
        this.createSecrets(name, plan, connection, svc, stage, args.secretOwners?.[svc.id]),
      ]),
    );
    this.rebuild = this.createRebuild(name, plan, connection, rebuild);
    this.confirm = this.createConfirm(name, plan, args, rebuild);
    // The confirm says which release is live: the rebuild's checks passing commits nothing until it.
    this.appliedBundleHash = this.confirm.stdout.apply((out) => liveBundleOf(out ?? "") ?? "none");

    // Not drift: it is read before the deploy repairs what it finds, so stored in state it would be stale after every up.
    this.registerOutputs({ bundleHash: this.bundleHash, appliedBundleHash: this.appliedBundleHash });
  }

  private connection(args: NixosHostArgs, plan: HostPlan): command.types.input.remote.ConnectionArgs {
    return {
      host: plan.host,
      port: plan.port,
      user: plan.user,
      privateKey: pulumi.secret(args.connection.privateKey),
      hostKey: plan.hostKey,
      // Fail within a minute on an unreachable host instead of retrying for minutes.
      dialErrorLimit: 3,
      perDialTimeout: 15,
    };
  }

  /** The host's state when the program runs (preview and up), or null when drift detection is off. */
  private observe(args: NixosHostArgs, plan: HostPlan): pulumi.Output<Observation | null> {
    if (args.detectDrift === false) return pulumi.output(null);
    return pulumi
      .output(args.connection.privateKey)
      .apply((privateKey) =>
        observeHost(
          { host: plan.host, port: plan.port, user: plan.user, privateKey, hostKey: plan.hostKey },
          { paths: plan.paths, script: plan.script },
        ),
      );
  }

  /**
   * Drift by the command that repairs it: the bundle and the system (the
   * generation, failed units) go to push and rebuild; a service's secret
   * files go to its secrets command. Files no deploy wrote go to no command
   * (`unmanaged`): nothing in a deploy removes them.
   */
  private diagnose(plan: HostPlan, observed: pulumi.Output<Observation | null>): HostDrift {
    const system = observed.apply((obs): Drift => {
      if (obs === null) return { bundle: [], system: [], secrets: [] };
      if (!obs.reachable) return { bundle: [], system: [UNREACHABLE_REASON], secrets: [] };
      if (noDeployRecorded(obs)) return { bundle: [NO_DEPLOY_REASON], system: [], secrets: [] };
      return { ...bundleDrift(obs, plan.hash, sha256Hex(plan.script)), secrets: [] };
    });
    const declaredPaths = new Set(plan.secrets.map((s) => s.path));
    const unmanaged = observed.apply((obs) => (obs?.reachable ? unmanagedSecretFiles(obs, declaredPaths) : []));
    const failedUnits = observed.apply((obs) => (obs?.reachable ? failedUnitsNotice(obs) : []));
    const damagedJournal = observed.apply((obs) => (obs?.reachable ? damagedJournalNotice(obs) : []));
    // Values are compared in memory; only the reasons, which name keys, leave this function.
    const secrets = Object.fromEntries(
      plan.services.map((svc) => {
        const reasons = pulumi.all([observed, pulumi.all(svc.secrets.map((s) => s.value))]).apply(([obs, values]) => {
          if (obs === null || !obs.reachable) return [];
          if (noDeployRecorded(obs)) return [NO_DEPLOY_REASON];
          const declared = svc.secrets.map((s, i) => ({
            key: s.key,
            path: s.path,
            group: s.group,
            mode: s.mode,
            sha256: sha256Hex(Buffer.from(values[i], "utf8")),
          }));
          return secretsDrift(obs, declared);
        });
        return [svc.id, pulumi.unsecret(reasons)];
      }),
    );
    return { system, unmanaged, failedUnits, damagedJournal, secrets };
  }

  /**
   * Warn about drift as soon as each part is known: secret values can be
   * unknown in a preview (a token created in the same run), and that must not
   * hide a changed bundle or generation.
   */
  private reportDrift(
    name: string,
    plan: HostPlan,
    observed: pulumi.Output<Observation | null>,
    drift: HostDrift,
  ): pulumi.Output<string[]> {
    const warn = (reasons: string[]) => {
      if (reasons.length > 0)
        pulumi.log.warn(
          `${name}: the host changed outside Pulumi (pulumi up re-applies what is declared):\n  - ${reasons.join("\n  - ")}`,
          this,
        );
    };
    const system = pulumi.all([observed, drift.system]).apply(([obs, d]) => {
      if (obs !== null && !obs.reachable) {
        pulumi.log.warn(
          `${name}: could not read ${plan.user}@${plan.host}:${plan.port} to check for drift: could not check bundle, secrets, generation, so this run cannot tell whether the host is in sync. ${obs.error}`,
          this,
        );
        return [UNREACHABLE_REASON];
      }
      const reasons = [...d.bundle, ...d.system];
      if (reasons.includes(NO_DEPLOY_REASON)) {
        // Every first deploy says this, so it is news, not a warning; on a reinstalled host the plan's replacements show it too.
        pulumi.log.info(`${name}: ${NO_DEPLOY_REASON}`, this);
        return reasons;
      }
      warn(reasons);
      return reasons;
    });
    const unmanaged = drift.unmanaged.apply((files) => {
      if (files.length > 0) {
        pulumi.log.warn(
          `${name}: files in the secrets directory that no deploy wrote; pulumi up leaves them alone, remove them by hand if nothing needs them:\n  - ${files.join("\n  - ")}`,
          this,
        );
      }
      return files;
    });
    const damagedJournal = drift.damagedJournal.apply((notes) => {
      for (const note of notes) pulumi.log.warn(`${name}: ${note}`, this);
      return notes;
    });
    const failedUnits = drift.failedUnits.apply((units) => {
      if (units.length > 0)
        pulumi.log.warn(
          `${name}: ${units.join("; ")}. pulumi up does not restart them; look at journalctl -u <unit> on the host`,
          this,
        );
      return units;
    });
    // A host with no deploy recorded is said once, by the bundle's reasons, not again for each service.
    const secrets = Object.values(drift.secrets).map((reasons) =>
      reasons
        .apply((r) => r.filter((x) => x !== NO_DEPLOY_REASON))
        .apply((r) => {
          warn(r);
          return r;
        }),
    );
    return pulumi.unsecret(
      pulumi.all([system, damagedJournal, failedUnits, unmanaged, ...secrets]).apply((all) => all.flat()),
    );
  }

  /** One entry per secret of the service: key, HMAC of the value, group and mode. Never the value. */
  private secretTriggers(args: NixosHostArgs, svc: ServiceSecrets): pulumi.Output<string[]> {
    const triggers = pulumi
      .all([args.connection.privateKey, pulumi.all(svc.secrets.map((s) => s.value))])
      .apply(([privateKey, values]) => {
        const key = triggerKey(privateKey);
        return svc.secrets.map((s, i) => secretTrigger(s, values[i], key));
      });
    return pulumi.unsecret(triggers);
  }

  /** A stage's triggers and the record the host keeps when it succeeds; see `stageTriggers`. */
  private stage(
    observed: pulumi.Output<Observation | null>,
    stage: DeployStage,
    base: pulumi.Output<string[]>,
    reasons: pulumi.Output<string[]>,
  ): pulumi.Output<StageInputs> {
    return pulumi.unsecret(
      pulumi.all([observed, base, reasons]).apply(([obs, b, r]) => {
        const { triggers, record } = stageTriggers(b, r, obs?.reachable ? obs.records[stage] : undefined);
        return { triggers, record: encodeRecord(record) };
      }),
    );
  }

  private createPreflight(
    name: string,
    plan: HostPlan,
    connection: command.types.input.remote.ConnectionArgs,
    stages: pulumi.Output<StageInputs>[],
    after: pulumi.Input<pulumi.Resource>[],
  ): command.remote.Command {
    // Re-run whenever any later stage will, so every deploy starts by checking the host.
    const fingerprint = pulumi.all(stages).apply((all) => [`deploy ${sha256Hex(JSON.stringify(all)).slice(0, 16)}`]);
    return new command.remote.Command(
      `${name}-preflight`,
      {
        connection,
        create: preflightCommand(plan.paths),
        stdin: plan.script,
        triggers: fingerprint,
        logging: command.types.enums.remote.Logging.StdoutAndStderr,
        addPreviousOutputInEnv: false,
      },
      { parent: this, dependsOn: after },
    );
  }

  private createPush(
    name: string,
    plan: HostPlan,
    connection: command.types.input.remote.ConnectionArgs,
    stage: pulumi.Output<StageInputs>,
  ): command.remote.Command {
    return new command.remote.Command(
      `${name}-push`,
      {
        connection,
        create: stage.apply((s) => pushCommand(plan.paths, plan.hash, s.record)),
        stdin: bundleStdin(plan.bundle),
        triggers: stage.apply((s) => s.triggers),
        logging: command.types.enums.remote.Logging.StdoutAndStderr,
        addPreviousOutputInEnv: false,
      },
      { parent: this, dependsOn: [this.preflight] },
    );
  }

  private createSecrets(
    name: string,
    plan: HostPlan,
    connection: command.types.input.remote.ConnectionArgs,
    svc: ServiceSecrets,
    stage: pulumi.Output<StageInputs>,
    owner: SecretOwner | undefined,
  ): command.remote.Command {
    const stdin = pulumi.secret(
      pulumi.all(svc.secrets.map((s) => s.value)).apply((values) =>
        secretsStdin(
          svc.secrets.map((s, i) => ({ spec: s, value: values[i] })),
          plan.paths,
        ),
      ),
    );
    return new command.remote.Command(
      owner ? `${owner.name}-secrets` : `${name}-${svc.id}-secrets`,
      {
        connection,
        create: stage.apply((s) => secretsCommand(plan.paths, svc.id, s.record)),
        delete: stage.apply((s) => secretsDeleteCommand(plan.paths, svc.id, s.record)),
        stdin,
        triggers: stage.apply((s) => s.triggers),
        // stdout names keys and units only; stderr stays out of the log to be safe.
        logging: command.types.enums.remote.Logging.Stdout,
        addPreviousOutputInEnv: false,
      },
      {
        parent: owner?.resource ?? this,
        dependsOn: [this.preflight, this.push],
        additionalSecretOutputs: ["stdin"],
        aliases: owner?.formerName === undefined ? undefined : [{ name: `${owner.formerName}-secrets` }],
      },
    );
  }

  private createRebuild(
    name: string,
    plan: HostPlan,
    connection: command.types.input.remote.ConnectionArgs,
    stage: pulumi.Output<StageInputs>,
  ): command.remote.Command {
    return new command.remote.Command(
      `${name}-rebuild`,
      {
        connection,
        create: stage.apply((s) =>
          namingHost(applyCommand(plan.paths, plan.hash, applyOptions(plan), s.record), plan.hostName),
        ),
        triggers: stage.apply((s) => s.triggers),
        logging: command.types.enums.remote.Logging.StdoutAndStderr,
        addPreviousOutputInEnv: false,
      },
      { parent: this, dependsOn: [this.preflight, this.push, ...Object.values(this.secretFiles)] },
    );
  }

  /**
   * The confirmation, from the deployer and not through the provider's
   * connection: a local ssh with the pinned key proves a new connection can
   * still be made, and its failure can say what happens next on the host.
   * It runs whenever the rebuild runs (the same triggers), and again on the
   * next up after it failed; confirming a confirmed release changes nothing.
   */
  private createConfirm(
    name: string,
    plan: HostPlan,
    args: NixosHostArgs,
    stage: pulumi.Output<StageInputs>,
  ): command.local.Command {
    const target = { host: plan.host, port: plan.port, user: plan.user, hostKey: plan.hostKey };
    // Without a client the confirm can never arrive, so every up would switch and the host roll it back: refuse before anything changes.
    if (!openSshClientFound()) {
      throw new pulumi.RunError(
        `the ${plan.hostName ? `host ${plan.hostName}` : "host"} is confirmed after each switch over a new SSH connection from this machine, and the OpenSSH client (ssh) is not on its PATH: install it (Debian: apt install openssh-client), then run pulumi again`,
      );
    }
    return new command.local.Command(
      `${name}-confirm`,
      {
        create: stage.apply((s) =>
          confirmLocalCommand(
            target,
            confirmCommand(plan.paths, plan.hash, s.record),
            plan.confirmTimeoutSeconds,
            plan.hostName,
          ),
        ),
        // The private key, for the one call; never argv or the environment.
        stdin: pulumi.secret(args.connection.privateKey),
        triggers: stage.apply((s) => s.triggers),
        logging: command.types.enums.local.Logging.StdoutAndStderr,
        addPreviousOutputInEnv: false,
      },
      { parent: this, dependsOn: [this.rebuild], additionalSecretOutputs: ["stdin"] },
    );
  }
}

/** Whether this machine has the OpenSSH client the confirm (and drift detection) run. */
function openSshClientFound(): boolean {
  return spawnSync("ssh", ["-V"], { stdio: "ignore" }).error === undefined;
}

/** Validate the args and derive what the commands are built from. Throws with the field and the fix. */
export function planHost(args: NixosHostArgs): HostPlan {
  const port = args.connection.port ?? 22;
  sshTargetCheck(args.connection.host, port, args.connection.user ?? "root");
  const hostKey = pinnedHostKey(args.connection.hostKey, args.connection.host, port);
  validatePaths(args.paths);
  const script = bundleEntries(args.bundle).find(([path]) => path === DEPLOY_SCRIPT_PATH)?.[1];
  if (script === undefined) {
    throw new Error(
      `the bundle has no ${DEPLOY_SCRIPT_PATH}; pass the host's part of renderOutputs(lab) (hostBundleFromOutputs), which copies nixos/deploy/ from the repository`,
    );
  }
  const secrets = sortedSecretSpecs(args.secrets, args.paths);
  for (const s of secrets) {
    if (!s.path.startsWith(`${serviceDir(args.paths, s.serviceId)}/`) || !s.key.startsWith(`${s.serviceId}.`)) {
      throw new Error(
        `secret ${s.key}: a service's secret files live in its own directory ${serviceDir(args.paths, s.serviceId)}/, but its path is ${s.path}`,
      );
    }
  }
  const services = [...new Set(secrets.map((s) => s.serviceId))]
    .sort()
    .map((id) => ({ id, secrets: secrets.filter((s) => s.serviceId === id) }));
  const bundle = withDeployLists(
    args,
    secrets.map((s) => s.path),
  );
  const plan: HostPlan = {
    bundle,
    hash: bundleHash(bundle),
    host: args.connection.host,
    script,
    paths: args.paths,
    hostKey,
    port,
    user: args.connection.user ?? "root",
    secrets,
    services,
    checks: args.healthChecks,
    keepGenerations: args.keepGenerations ?? 10,
    flake: args.flake,
    healthTimeoutSeconds: args.healthTimeoutSeconds ?? 120,
    confirmTimeoutSeconds: args.confirmTimeoutSeconds ?? 120,
    hostName: args.hostName,
  };
  if (args.hostName !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(args.hostName)) {
    throw new Error(`hostName "${args.hostName}" is not a host name of homelab:hosts (a DNS label)`);
  }
  // Build the commands once here so bad checks, ids or numbers throw before anything is declared.
  applyCommand(plan.paths, plan.hash, applyOptions(plan));
  confirmLocalCommand(
    { host: plan.host, port: plan.port, user: plan.user, hostKey: plan.hostKey },
    confirmCommand(plan.paths, plan.hash),
    plan.confirmTimeoutSeconds,
  );
  for (const svc of services) secretsCommand(plan.paths, svc.id);
  return plan;
}

/**
 * The rebuild command, ending with the host's name when it fails: with
 * several hosts deploying at once, the deploy script's own message says what
 * failed and whether it rolled back, and this line says where.
 */
function namingHost(command: string, hostName: string | undefined): string {
  if (hostName === undefined) return command;
  return `${command} || { rc=$?; echo "homelab: the rebuild of host ${hostName} failed (exit $rc); the other hosts keep what they deployed" >&2; exit $rc; }`;
}

function applyOptions(plan: HostPlan) {
  return {
    keepGenerations: plan.keepGenerations,
    healthTimeoutSeconds: plan.healthTimeoutSeconds,
    confirmTimeoutSeconds: plan.confirmTimeoutSeconds,
    flake: plan.flake,
  };
}

/**
 * The bundle with the release's health checks and secret files in it
 * (`deployLists`), where the apply reads them. `renderOutputs(lab)` already
 * holds the same two files, so the offline plan shows what the host gets; one
 * that differs from `healthChecks` and `secrets` means the args were built
 * from different labs, and the host would check one and run the other.
 */
function withDeployLists(args: NixosHostArgs, secretFiles: string[]): Map<string, string> {
  const bundle = new Map(bundleEntries(args.bundle));
  for (const [path, content] of deployLists(args.healthChecks, secretFiles, args.paths)) {
    const given = bundle.get(path);
    if (given !== undefined && given !== content) {
      throw new Error(
        `the bundle's ${path} differs from the healthChecks and secrets passed to NixosHost; build the bundle and them from the same lab`,
      );
    }
    bundle.set(path, content);
  }
  return bundle;
}

/** Where one service's secret files live; its secrets command writes nothing else. */
function serviceDir(paths: HostPaths, serviceId: string): string {
  return `${paths.secretsDir}/${serviceId}`;
}
