import { describe, expect, it } from "vitest";
import {
  NO_DEPLOY_REASON,
  UNREACHABLE_REASON,
  bundleDrift,
  damagedJournalNotice,
  encodeRecord,
  noDeployRecorded,
  parseObservation,
  secretsDrift,
  stageTriggers,
  unconfirmedRollbackReason,
  unmanagedSecretFiles,
  type DeclaredSecretFile,
} from "../../components/host/drift";

const H = "1".repeat(64);
const OTHER = "2".repeat(64);
const S = "/var/lib/homelab/secrets";

function observe(lines: string[]): string {
  return ["homelab-observe v1", ...lines, "end", ""].join("\n");
}

const inSync = [
  `bundle-link\t/var/lib/homelab/state/releases/${H}`,
  `bundle-release\t${H}`,
  `bundle-hash\t${H}`,
  `applied-release\t${H}`,
  "deployed-generation\t7",
  "generation\t7",
  `manifest\tmosquitto.password\t${"a".repeat(64)}\tmosquitto\t0440\t${S}/mosquitto/password`,
  `file\t${"a".repeat(64)}\troot\tmosquitto\t440\t${S}/mosquitto/password`,
];
const declared: DeclaredSecretFile[] = [
  {
    key: "mosquitto.password",
    path: `${S}/mosquitto/password`,
    group: "mosquitto",
    mode: "0440",
    sha256: "a".repeat(64),
  },
];

describe("reading the host's observation", () => {
  it("refuses a cut or foreign stream", () => {
    expect(() => parseObservation("homelab-observe v1\nbundle-hash\tx\n")).toThrow(/cut before its end/);
    expect(() => parseObservation("Welcome to NixOS\n")).toThrow(/does not start with/);
  });

  it("reads dashes as absent and keeps failed units sorted", () => {
    const obs = parseObservation(
      observe(["bundle-link\t-", "generation\t-", "failed-unit\tz.service", "failed-unit\ta.service"]),
    );
    expect(obs.bundleLink).toBeNull();
    expect(obs.generation).toBeNull();
    expect(obs.failedUnits).toEqual(["a.service", "z.service"]);
  });
});

describe("what counts as drift", () => {
  it("an apply that was killed is drift of the system, whatever release is declared, worded by how far it got", () => {
    const killed = parseObservation(observe([...inSync, `journal\t${OTHER}\tswitching\t${H}`]));
    expect(killed.interruptedApply).toEqual({ target: OTHER, phase: "switching", previousRelease: H });
    for (const declaredHash of [H, OTHER]) {
      expect(bundleDrift(killed, declaredHash).system).toEqual([
        `an apply of release ${OTHER.slice(0, 12)} was interrupted before it finished; the next apply rolls back to release ${H.slice(0, 12)} first`,
      ]);
    }
    const passed = parseObservation(observe([...inSync, `journal\t${OTHER}\tcommitted\t${H}`]));
    expect(bundleDrift(passed, OTHER).system).toEqual([
      `an apply of release ${OTHER.slice(0, 12)} was interrupted after its health checks passed; the next apply records it as live`,
    ]);
    const first = parseObservation(observe([...inSync, `journal\t${OTHER}\tstarted\t-`]));
    expect(bundleDrift(first, OTHER).system).toEqual([
      `an apply of release ${OTHER.slice(0, 12)} was interrupted before it finished; the next apply finishes it first`,
    ]);
  });

  it("an apply that waits for the deployer's confirmation says when the host rolls back by itself", () => {
    const waiting = parseObservation(observe([...inSync, `journal\t${OTHER}\tawaiting\t${H}\t1796000000`]));
    expect(waiting.interruptedApply).toEqual({
      target: OTHER,
      phase: "awaiting",
      previousRelease: H,
      confirmDeadline: 1796000000,
    });
    expect(bundleDrift(waiting, OTHER).system).toEqual([
      `an apply of release ${OTHER.slice(0, 12)} passed its checks and waits for the deployer's confirmation; without it the host rolls back by itself to release ${H.slice(0, 12)} at 2026-11-30T00:53:20Z, and the next apply rolls it back first`,
    ]);
  });

  it("a release the host rolled back because nobody confirmed it is drift of the system until it is live, with an entry of its own each run", () => {
    const rolled = parseObservation(observe([...inSync, `unconfirmed-rollback\t${OTHER}\t2026-12-05T05:00:00Z`]));
    expect(rolled.unconfirmedRollback).toEqual({ target: OTHER, at: "2026-12-05T05:00:00Z" });
    const reason = unconfirmedRollbackReason(OTHER, "2026-12-05T05:00:00Z");
    expect(bundleDrift(rolled, OTHER).system).toEqual([reason]);
    expect(bundleDrift(rolled, "3".repeat(64)).system, "another release declared: a pending change, not drift").toEqual(
      [],
    );
    expect(stageTriggers(["bundle"], [reason], undefined, "a").triggers).toContain("drift run a");
  });

  it("a damaged journal is a warning with the repair command, never a claim that the next apply finishes it", () => {
    const command =
      "bash /var/lib/homelab/state/bin/homelab-deploy.sh journal-repair --bundle-dir /etc/nixos/homelab --secrets-dir /var/lib/homelab/secrets --state-dir /var/lib/homelab/state";
    const damaged = parseObservation(observe([...inSync, `journal-damaged\tit has no phase\t${command}`]));
    expect(damaged.interruptedApply).toBeUndefined();
    expect(bundleDrift(damaged, H).system).toEqual([]);
    expect(damagedJournalNotice(damaged)).toEqual([
      `the apply journal on the host is damaged (it has no phase): pulumi up cannot finish or roll back the apply it belonged to, and every rebuild refuses until it is repaired. On the host run: ${command}`,
    ]);
    const onlyJournal = parseObservation(observe([`journal-damaged\tit has no phase\t${command}`]));
    expect(noDeployRecorded(onlyJournal), "a host with a journal has been deployed to").toBe(false);
  });

  it("a host in sync has none", () => {
    const obs = parseObservation(observe(inSync));
    expect(bundleDrift(obs, H)).toEqual({ bundle: [], system: [] });
    expect(secretsDrift(obs, declared)).toEqual([]);
  });

  it("the script copy the secrets commands run, missing or changed on a deployed host, is push drift", () => {
    const script = "c".repeat(64);
    const withCopy = parseObservation(observe([...inSync, `script-hash\t${script}`]));
    expect(bundleDrift(withCopy, H, script)).toEqual({ bundle: [], system: [] });
    const missing = parseObservation(observe([...inSync, "script-hash\t-"]));
    expect(bundleDrift(missing, H, script).bundle).toEqual([
      "the deploy script the secrets commands run is missing on the host (the push puts it back)",
    ]);
    const changed = parseObservation(observe([...inSync, `script-hash\t${"d".repeat(64)}`]));
    expect(bundleDrift(changed, H, script).bundle).toEqual([
      "the deploy script the secrets commands run is changed on the host (the push puts it back)",
    ]);
    // A new bundle is pushed anyway, and its push installs its script.
    expect(bundleDrift(missing, OTHER, script).bundle).toEqual([]);
  });

  it("a new declared bundle is a pending change, not drift, even if the host differs", () => {
    const obs = parseObservation(observe(inSync.map((l) => l.replace(`bundle-hash\t${H}`, `bundle-hash\t${OTHER}`))));
    expect(bundleDrift(obs, OTHER).bundle).toEqual([]);
  });

  it("a host never deployed to has no drift", () => {
    const obs = parseObservation(observe(["bundle-link\t-", "applied-release\t-", "generation\t3"]));
    expect(bundleDrift(obs, H)).toEqual({ bundle: [], system: [] });
    expect(secretsDrift(obs, declared)).toEqual([]);
  });

  it("the bundle link moved away from the applied release", () => {
    const obs = parseObservation(
      observe(inSync.map((l) => (l.startsWith("bundle-release") ? "bundle-release\t?/etc/nixos/other" : l))),
    );
    expect(bundleDrift(obs, H).bundle).toEqual([
      `bundle on host differs from declared: the bundle directory links to /var/lib/homelab/state/releases/${H}`,
    ]);
  });

  it("a new secret value is pending; the same value changed on the host is drift", () => {
    const obs = parseObservation(
      observe(inSync.map((l) => (l.startsWith("file") ? l.replace("a".repeat(64), "b".repeat(64)) : l))),
    );
    expect(secretsDrift(obs, declared)).toEqual(["secret file mosquitto.password on host differs from declared"]);
    expect(secretsDrift(obs, [{ ...declared[0], sha256: "c".repeat(64) }])).toEqual([]);
  });

  it("a secret whose group does not exist yet is expected root-only", () => {
    const lines = [
      ...inSync.map((l) => (l.startsWith("file") ? l.replace("\troot\tmosquitto\t440", "\troot\troot\t400") : l)),
      `pending\tmosquitto.password\t${S}/mosquitto/password\tmosquitto\t0440\tmosquitto.service`,
    ];
    expect(secretsDrift(parseObservation(observe(lines)), declared)).toEqual([]);
  });

  it("a removed secret file is drift; a file the last deploy wrote but nobody declares is a pending removal", () => {
    const gone = parseObservation(observe(inSync.filter((l) => !l.startsWith("file"))));
    expect(secretsDrift(gone, declared)).toEqual(["secret file mosquitto.password on host is missing"]);
    expect(secretsDrift(parseObservation(observe(inSync)), [])).toEqual([]);
  });

  const declaredPaths = new Set(declared.map((s) => s.path));

  it("a file the live release still declares is a pending removal, neither drift nor a warning", () => {
    const leftover = `${S}/transmission/rpc-password`;
    const obs = parseObservation(
      observe([
        ...inSync,
        `file	${"d".repeat(64)}	root	transmission	440	${leftover}`,
        `applied-secret	${leftover}`,
      ]),
    );
    expect(obs.appliedSecrets).toEqual([leftover]);
    expect(secretsDrift(obs, declared)).toEqual([]);
    expect(unmanagedSecretFiles(obs, declaredPaths)).toEqual([]);
  });

  it("a file a deploy wrote (a manifest records it) that nobody declares any more is a pending removal", () => {
    const dropped = `${S}/dropped/token`;
    const obs = parseObservation(
      observe([
        ...inSync,
        `manifest	dropped.token	${"d".repeat(64)}	root	0400	${dropped}`,
        `file	${"d".repeat(64)}	root	root	400	${dropped}`,
      ]),
    );
    expect(unmanagedSecretFiles(obs, declaredPaths)).toEqual([]);
  });

  it("a file no deploy wrote is a warning, in a service's directory or outside every one, and never a secrets trigger", () => {
    const inService = `${S}/mosquitto/notes`;
    const outside = `${S}/by-hand/token`;
    const obs = parseObservation(
      observe([
        ...inSync,
        `file	${"d".repeat(64)}	root	root	400	${inService}`,
        `file	${"e".repeat(64)}	root	root	644	${outside}`,
      ]),
    );
    expect(unmanagedSecretFiles(obs, declaredPaths)).toEqual([
      `file in the secrets directory that no deploy wrote, left in place: ${inService}`,
      `file in the secrets directory that no deploy wrote, left in place: ${outside}`,
    ]);
    expect(
      secretsDrift(obs, declared),
      "the service's own command cannot remove it, so it does not trigger it",
    ).toEqual([]);
    expect(
      unmanagedSecretFiles(obs, new Set([...declaredPaths, inService, outside])),
      "a declared file is the secrets command's business",
    ).toEqual([]);
  });

  it("each service's secrets stage keeps a record of its own", () => {
    const record = encodeRecord({ base: "b", drift: [] });
    const obs = parseObservation(observe([`record	secrets.mosquitto	${record}`, `record	secrets.../x	${record}`]));
    expect(Object.keys(obs.records)).toEqual(["secrets.mosquitto"]);
  });
});

describe("a stage's triggers", () => {
  const base = [`bundle ${H}`];

  it("without drift or a record, they are the drift-free entries alone", () => {
    expect(stageTriggers(base, [], undefined).triggers).toEqual(base);
  });

  it("drift adds one readable entry per reason, and the number of this repair", () => {
    expect(stageTriggers(base, ["units failed: a.service"], undefined).triggers).toEqual([
      ...base,
      "drift: units failed: a.service",
      "drift repair #1",
    ]);
  });

  it("once repaired, the host's record reproduces the inputs the state holds", () => {
    const repair = stageTriggers(base, ["bundle on host differs from declared"], undefined);
    const obs = parseObservation(observe([`record\tpush\t${encodeRecord(repair.record)}`]));
    const after = stageTriggers(base, [], obs.records.push);
    expect(after.triggers).toEqual(repair.triggers);
    expect(encodeRecord(after.record)).toBe(encodeRecord(repair.record));
  });

  it("the same drift back after a repair changes the triggers again, so up repairs it again", () => {
    const reason = "secret file mosquitto.password on host differs from declared";
    const repair = stageTriggers(base, [reason], undefined);
    // The host keeps the repaired stage's record; the same hand edit comes back.
    const again = stageTriggers(base, [reason], repair.record);
    expect(again.triggers).not.toEqual(repair.triggers);
    expect(again.triggers).toContain(`drift: ${reason}`);
    // A preview repeated before that up declares the same inputs each time.
    expect(stageTriggers(base, [reason], repair.record).triggers).toEqual(again.triggers);
    // Once repaired a second time, the host's record again reproduces what the state holds.
    expect(stageTriggers(base, [], again.record).triggers).toEqual(again.triggers);
  });

  it("a record written before repairs were numbered reproduces its inputs and its own bytes, so no command changes by itself", () => {
    const old = {
      base: stageTriggers(base, [], undefined).record.base,
      drift: ["drift: bundle on host differs from declared"],
    };
    const encoded = Buffer.from(JSON.stringify(old)).toString("base64");
    const obs = parseObservation(observe([`record\tpush\t${encoded}`]));
    const now = stageTriggers(base, [], obs.records.push);
    expect(now.triggers).toEqual([...base, "drift: bundle on host differs from declared"]);
    expect(encodeRecord(now.record)).toBe(encoded);
    // Its drift back: the first numbered repair, which differs from what the state holds.
    expect(stageTriggers(base, ["bundle on host differs from declared"], obs.records.push).triggers).toContain(
      "drift repair #1",
    );
  });

  it("repaired twice and then in sync, the record reproduces the inputs and its own bytes", () => {
    const repaired = stageTriggers(base, ["bundle on host differs from declared"], undefined);
    const next = stageTriggers(base, ["bundle on host differs from declared"], repaired.record);
    expect(next.triggers).toContain("drift repair #2");
    // Repaired twice, then read again: the same inputs and the same record.
    const settled = stageTriggers(base, [], next.record);
    expect(settled.triggers).toEqual(next.triggers);
    expect(encodeRecord(settled.record)).toBe(encodeRecord(next.record));
  });

  it("a run that could not tell the host's state gets an entry of its own; other drift does not", () => {
    const unread = (run: string) => stageTriggers(base, [UNREACHABLE_REASON], undefined, run).triggers;
    expect(unread("a")).toContain("drift run a");
    expect(unread("a"), "one run's inputs never match another's").not.toEqual(unread("b"));
    const wiped = stageTriggers(base, [NO_DEPLOY_REASON], undefined, "c");
    // Recorded once the wiped host is deployed again, and reproduced from then on.
    expect(stageTriggers(base, [], wiped.record, "d").triggers).toEqual(wiped.triggers);
    expect(stageTriggers(base, ["units changed"], undefined, "e").triggers).toEqual(
      stageTriggers(base, ["units changed"], undefined, "f").triggers,
    );
  });

  it("a record made for other inputs is dropped: those inputs change anyway", () => {
    const repair = stageTriggers(base, ["bundle on host differs from declared"], undefined);
    expect(stageTriggers([`bundle ${OTHER}`], [], repair.record).triggers).toEqual([`bundle ${OTHER}`]);
  });

  it("a record the program cannot read counts as none", () => {
    expect(parseObservation(observe(["record\tpush\tnot-base64-json"])).records).toEqual({});
  });
});
