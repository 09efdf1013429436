import { randomUUID } from "node:crypto";
import { sha256Hex } from "./bundle";
import { OBSERVE_REPORT, parseStream } from "./formats";

/**
 * Drift: what the host looks like compared with what the last deploy left
 * there. Pure functions over the output of `homelab-deploy.sh observe`.
 *
 * Drift only counts changes made outside Pulumi. When the declared bundle or
 * a declared secret differs from what the host records as deployed, that is a
 * pending change: the resources' inputs already differ, so it is not drift.
 */

/**
 * The stages that change the host; each keeps a record of its last successful
 * run. Every service with secrets has a secrets stage of its own, `secrets.<id>`.
 */
export type DeployStage = "push" | "rebuild" | `secrets.${string}`;

const STAGE = /^(push|rebuild|secrets\.[a-z0-9][a-z0-9-]*)$/;

/** The stage of one service's secrets command. */
export function secretsStage(serviceId: string): DeployStage {
  return `secrets.${serviceId}`;
}

/**
 * What the program declared for a stage's last successful run: a hash of the
 * stage's drift-free triggers and the drift entries it ran with. The host
 * keeps it, so once drift is repaired the program can declare the very inputs
 * the stack's state holds, and the next run changes nothing.
 */
export interface StageRecord {
  base: string;
  drift: string[];
}

/** One secret file as the host sees it. */
export interface ObservedFile {
  path: string;
  /** sha256 of the file's content; never the content. */
  sha256: string;
  owner: string;
  group: string;
  /** Octal mode as `stat -c %a` prints it, e.g. "440". */
  mode: string;
}

/** What the last secrets run wrote, as recorded on the host. */
export interface ManifestEntry {
  key: string;
  sha256: string;
  group: string;
  mode: string;
  path: string;
}

export interface ReachableObservation {
  reachable: true;
  /** Target of the bundle directory's link; "?directory" for a plain directory; null when absent. */
  bundleLink: string | null;
  /** Release hash the bundle directory links to, null when none or not a release. */
  bundleRelease: string | null;
  /** Content hash of the files under the bundle directory, recomputed on the host. */
  bundleHash: string | null;
  /** sha256 of the push's copy of the deploy script, which the secrets commands run; null when it is missing. */
  scriptHash: string | null;
  /** Release the last successful apply made live. */
  appliedRelease: string | null;
  /** System generation the last successful apply left. */
  deployedGeneration: number | null;
  /** System generation the profile points at now. */
  generation: number | null;
  manifest: ManifestEntry[];
  /** Keys of secrets that stay root-only until their group exists. */
  pending: string[];
  /**
   * Secret files the live release declares. One the program no longer
   * declares stays until a release without it is live and healthy (a
   * rollback may need it): a pending removal, not drift.
   */
  appliedSecrets: string[];
  files: ObservedFile[];
  failedUnits: string[];
  /** Each stage's record of its last successful run. */
  records: Partial<Record<DeployStage, StageRecord>>;
  /**
   * An apply that was killed before it finished, or that waits for the
   * deployer's confirmation (its journal is still on the host): the next
   * apply finishes it first. Observe only reports it.
   */
  interruptedApply?: InterruptedApply;
  /**
   * The apply journal is there but cannot be read: no apply runs until the
   * repair command (run on the host) has checked the host against its records.
   */
  damagedJournal?: DamagedJournal;
  /** The last release the host rolled back by itself because the deployer never confirmed it. */
  unconfirmedRollback?: { target: string; at: string };
}

/** What observe says about a journal it cannot read. */
export interface DamagedJournal {
  /** What is wrong with it. */
  problem: string;
  /** The exact command that repairs it, to run on the host. */
  repairCommand: string;
}

/** What the journal of an unfinished apply says. */
export interface InterruptedApply {
  /** The release it was applying. */
  target: string;
  /** How far it got: `started`, `switching`, `awaiting` (its checks passed; no confirmation yet), or `committed`. */
  phase: string;
  /** The release it returns to, "-" for none. */
  previousRelease: string;
  /** While awaiting: when the host rolls back by itself, seconds since the epoch. */
  confirmDeadline?: number;
}

export interface UnreachableObservation {
  reachable: false;
  /** Why the host could not be read: ssh's own message. */
  error: string;
}

export type Observation = ReachableObservation | UnreachableObservation;

/** The trigger entry a host that cannot be read gets, so a preview never shows "no changes". */
export const UNREACHABLE_REASON = "unreachable: could not check bundle, secrets, generation";

/** The trigger entry of a host with no record of any deploy; see `noDeployRecorded`. */
export const NO_DEPLOY_REASON =
  "no deploy recorded on the host (a first deploy, or the state directory is gone, say after a reinstall): every step runs";

/**
 * A host with no trace of any deploy: no applied release, no stage record,
 * no written secret, no unfinished apply. On a first deploy every step is
 * created anyway, so the reason changes nothing there; on a host whose state
 * directory went (a reinstall, a new disk) it is what sets the host apart
 * from one in sync, which the records alone cannot: without them, every
 * declared value looks like a pending change the state already holds.
 */
export function noDeployRecorded(obs: ReachableObservation): boolean {
  return (
    obs.appliedRelease === null &&
    Object.keys(obs.records).length === 0 &&
    obs.manifest.length === 0 &&
    obs.interruptedApply === undefined &&
    obs.damagedJournal === undefined
  );
}

const dash = (v: string | undefined): string | null => (v === undefined || v === "-" ? null : v);
const int = (v: string | undefined): number | null => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);

/** Parse `homelab-deploy.sh observe` output. Throws on a cut or foreign stream. */
export function parseObservation(text: string): ReachableObservation {
  const single = new Map<string, string>();
  const obs: ReachableObservation = {
    reachable: true,
    bundleLink: null,
    bundleRelease: null,
    bundleHash: null,
    scriptHash: null,
    appliedRelease: null,
    deployedGeneration: null,
    generation: null,
    manifest: [],
    pending: [],
    appliedSecrets: [],
    files: [],
    failedUnits: [],
    records: {},
  };
  // Field names and order: OBSERVE_REPORT in formats.ts, the definition the script prints by.
  for (const { kind, fields: f } of parseStream(OBSERVE_REPORT, text, "the host's observe output")) {
    switch (kind) {
      case "manifest":
        obs.manifest.push({ key: f.key, sha256: f.sha256, group: f.group, mode: f.mode, path: f.path });
        break;
      case "pending":
        obs.pending.push(f.path);
        break;
      case "applied-secret":
        obs.appliedSecrets.push(f.path);
        break;
      case "file":
        obs.files.push({ sha256: f.sha256, owner: f.owner, group: f.group, mode: f.mode, path: f.path });
        break;
      case "failed-unit":
        obs.failedUnits.push(f.unit);
        break;
      case "journal": {
        obs.interruptedApply = { target: f.target, phase: f.phase, previousRelease: f.previousRelease || "-" };
        const deadline = int(f.confirmDeadline);
        if (deadline !== null) obs.interruptedApply.confirmDeadline = deadline;
        break;
      }
      case "journal-damaged":
        obs.damagedJournal = { problem: f.problem, repairCommand: f.repairCommand };
        break;
      case "unconfirmed-rollback":
        obs.unconfirmedRollback = { target: f.target, at: f.at };
        break;
      case "record": {
        const record = decodeRecord(f.record);
        if (record && STAGE.test(f.stage)) obs.records[f.stage as DeployStage] = record;
        break;
      }
      default:
        // bundle-link, generation and the other one-value lines; an unknown kind has no fields and is never read.
        single.set(kind, Object.values(f)[0]);
    }
  }
  obs.bundleLink = dash(single.get("bundle-link"));
  const release = dash(single.get("bundle-release"));
  obs.bundleRelease = release !== null && /^[0-9a-f]{64}$/.test(release) ? release : null;
  obs.bundleHash = dash(single.get("bundle-hash"));
  obs.scriptHash = dash(single.get("script-hash"));
  obs.appliedRelease = dash(single.get("applied-release"));
  obs.deployedGeneration = int(single.get("deployed-generation"));
  obs.generation = int(single.get("generation"));
  obs.failedUnits.sort();
  return obs;
}

/** A declared secret as drift needs it: where it goes and the sha256 of its value (in memory only). */
export interface DeclaredSecretFile {
  key: string;
  path: string;
  group: string;
  mode: "0400" | "0440";
  sha256: string;
}

/** Reasons, each a readable sentence, grouped by the resource they re-run. */
export interface Drift {
  /** Re-push the bundle (push). */
  bundle: string[];
  /** Re-apply: the generation or the units (apply). */
  system: string[];
  /** Re-write the secret files (secrets). */
  secrets: string[];
}

/**
 * Bundle and generation, compared with what the last deploy
 * recorded; with `declaredScriptHash` (sha256 of the bundle's deploy script),
 * also the push's copy of the script that the secrets commands run.
 */
export function bundleDrift(
  obs: ReachableObservation,
  declaredHash: string,
  declaredScriptHash?: string,
): Pick<Drift, "bundle" | "system"> {
  const bundle: string[] = [];
  const system: string[] = [];
  // Only when the host says it runs the declared bundle; otherwise the new hash is a pending change.
  if (obs.appliedRelease === declaredHash) {
    if (obs.bundleRelease !== declaredHash) {
      bundle.push(`bundle on host differs from declared: the bundle directory links to ${obs.bundleLink ?? "nothing"}`);
    } else if (obs.bundleHash !== declaredHash) {
      bundle.push("bundle on host differs from declared: files under the bundle directory were changed");
    }
    if (declaredScriptHash !== undefined && obs.scriptHash !== declaredScriptHash) {
      bundle.push(
        `the deploy script the secrets commands run is ${obs.scriptHash === null ? "missing" : "changed"} on the host (the push puts it back)`,
      );
    }
    if (obs.deployedGeneration !== null && obs.generation !== obs.deployedGeneration) {
      system.push(
        `system generation changed outside Pulumi: the last deploy made ${obs.deployedGeneration}, the host is on ${obs.generation ?? "none"}`,
      );
    }
  }
  const j = obs.interruptedApply;
  const back = (j: InterruptedApply) =>
    /^[0-9a-f]{64}$/.test(j.previousRelease) ? `release ${j.previousRelease.slice(0, 12)}` : "the system before it";
  if (j && j.phase === "awaiting") {
    const by =
      j.confirmDeadline === undefined
        ? ""
        : ` at ${new Date(j.confirmDeadline * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")}`;
    system.push(
      `an apply of release ${j.target.slice(0, 12)} passed its checks and waits for the deployer's confirmation; without it the host rolls back by itself to ${back(j)}${by}, and the next apply rolls it back first`,
    );
  } else if (j) {
    const what =
      j.phase === "committed"
        ? "after its health checks passed; the next apply records it as live"
        : /^[0-9a-f]{64}$/.test(j.previousRelease)
          ? `before it finished; the next apply rolls back to release ${j.previousRelease.slice(0, 12)} first`
          : "before it finished; the next apply finishes it first";
    system.push(`an apply of release ${j.target.slice(0, 12)} was interrupted ${what}`);
  }
  const u = obs.unconfirmedRollback;
  if (u && u.target === declaredHash && obs.appliedRelease !== declaredHash && !j) {
    system.push(unconfirmedRollbackReason(u.target, u.at));
  }
  return { bundle, system };
}

/**
 * The host rolled the declared release back by itself: the deployer could
 * not reach it to confirm the switch. The rebuild runs again; like an
 * unreachable host, each run's entry is its own (`stageTriggers`), since the
 * rebuild's record on the host is the one from before that release.
 */
export function unconfirmedRollbackReason(target: string, at: string): string {
  return `the host rolled back release ${target.slice(0, 12)} by itself at ${at}: the deployer could not confirm it over a new SSH connection after the switch (pulumi up applies it again)`;
}

const UNCONFIRMED = /^the host rolled back release [0-9a-f]{12} by itself at /;

/**
 * What a damaged apply journal means for the next deploy, as a warning: no
 * apply runs (the rebuild refuses) until the repair command has run on the
 * host. Not a trigger: no step of pulumi up can repair it.
 */
export function damagedJournalNotice(obs: ReachableObservation): string[] {
  const d = obs.damagedJournal;
  if (!d) return [];
  return [
    `the apply journal on the host is damaged (${d.problem}): pulumi up cannot finish or roll back the apply it belonged to, and every rebuild refuses until it is repaired. On the host run: ${d.repairCommand}`,
  ];
}

/**
 * Declared secret files changed or removed on the host since the last deploy
 * wrote them. Each reason is a trigger of the service's secrets command,
 * which puts the file back.
 */
export function secretsDrift(obs: ReachableObservation, declared: readonly DeclaredSecretFile[]): string[] {
  const reasons: string[] = [];
  const files = new Map(obs.files.map((f) => [f.path, f]));
  const manifest = new Map(obs.manifest.map((m) => [m.path, m]));
  const pending = new Set(obs.pending);
  for (const s of [...declared].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    const written = manifest.get(s.path);
    // The host holds another value than the declared one on record: a pending change, not drift.
    if (!written || written.sha256 !== s.sha256 || written.group !== s.group || written.mode !== s.mode) continue;
    const file = files.get(s.path);
    const [group, mode] = pending.has(s.key) ? ["root", "0400"] : [s.group, s.mode];
    if (!file) reasons.push(`secret file ${s.key} on host is missing`);
    else if (file.sha256 !== s.sha256) reasons.push(`secret file ${s.key} on host differs from declared`);
    else if (file.owner !== "root" || file.group !== group || file.mode !== mode.replace(/^0/, "")) {
      reasons.push(
        `secret file ${s.key} on host has owner ${file.owner}:${file.group} mode 0${file.mode}, declared root:${group} mode ${mode}`,
      );
    }
  }
  return reasons;
}

/**
 * Files under the secrets directory that nobody declares, no deploy wrote
 * (no manifest records them) and the live release does not keep for a
 * rollback: put there by hand. No deploy removes a file it did not write, so
 * these are warnings, never triggers: a trigger for something `pulumi up`
 * cannot change would only re-run a command that changes nothing. A file a
 * deploy wrote and nobody declares any more is a pending removal instead.
 */
export function unmanagedSecretFiles(obs: ReachableObservation, declaredPaths: ReadonlySet<string>): string[] {
  const written = new Set(obs.manifest.map((m) => m.path));
  const kept = new Set(obs.appliedSecrets);
  return obs.files
    .filter((f) => !declaredPaths.has(f.path) && !written.has(f.path) && !kept.has(f.path))
    .map((f) => `file in the secrets directory that no deploy wrote, left in place: ${f.path}`);
}

/** `drift: <reason>`, the trigger entry of one reason. */
export function driftEntry(reason: string): string {
  return `drift: ${reason}`;
}

export function encodeRecord(record: StageRecord): string {
  return Buffer.from(JSON.stringify({ base: record.base, drift: record.drift }), "utf8").toString("base64");
}

function decodeRecord(text: string | undefined): StageRecord | null {
  try {
    const value = JSON.parse(Buffer.from(text ?? "", "base64").toString("utf8")) as StageRecord;
    if (typeof value.base === "string" && Array.isArray(value.drift) && value.drift.every((d) => typeof d === "string"))
      return { base: value.base, drift: value.drift };
  } catch {
    /* a record this version cannot read counts as none */
  }
  return null;
}

/**
 * A stage's triggers: its drift-free entries, then the drift entries. With
 * drift now, those reasons and the number of this repair: the same reason
 * back after an earlier repair (a file edited by hand twice) must still
 * differ from the inputs that repair left in the state. Without drift, the
 * entries the stage last ran with, when it ran for these same drift-free
 * entries: they are what the state holds, so a repaired host declares no
 * change instead of dropping them.
 */
export function stageTriggers(
  base: readonly string[],
  reasons: readonly string[],
  recorded: StageRecord | undefined,
  run: string = randomUUID(),
): { triggers: string[]; record: StageRecord } {
  const hash = sha256Hex(JSON.stringify(base)).slice(0, 16);
  const unsettled = reasons.some((r) => UNSETTLED.has(r) || UNCONFIRMED.test(r));
  const drift =
    reasons.length > 0
      ? [...reasons.map(driftEntry), repairEntry(lastRepair(recorded) + 1), ...(unsettled ? [`drift run ${run}`] : [])]
      : recorded?.base === hash
        ? [...recorded.drift]
        : [];
  return { triggers: [...base, ...drift], record: { base: hash, drift } };
}

/**
 * Reasons that say this run could not tell the host's state: it could not
 * read it, or found no record of any deploy (a second wipe looks like the
 * first). Each run with one gets an entry of its own (`run`), so none ever
 * matches the inputs an earlier run left in the state.
 */
const UNSETTLED: ReadonlySet<string> = new Set([UNREACHABLE_REASON, NO_DEPLOY_REASON]);

const repairEntry = (n: number) => `drift repair #${n}`;

/**
 * The number of the stage's last repair, read from the drift entries it ran
 * with (0 without one). Kept in those entries rather than beside them, so a
 * record written before repairs were numbered reads the same and re-encodes
 * to the same bytes: the stage's command does not change by itself.
 */
function lastRepair(recorded: StageRecord | undefined): number {
  for (const entry of recorded?.drift ?? []) {
    const m = /^drift repair #([1-9][0-9]{0,8})$/.exec(entry);
    if (m) return Number(m[1]);
  }
  return 0;
}

/**
 * Failed units on the host, reported and never a trigger: no deploy step
 * restarts a failed unit, so as a trigger it would re-run a rebuild that
 * changes nothing, on every up for as long as the unit stays failed.
 */
export function failedUnitsNotice(obs: ReachableObservation): string[] {
  return obs.failedUnits.length > 0 ? [`units failed: ${obs.failedUnits.join(", ")}`] : [];
}
