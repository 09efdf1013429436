/**
 * Samples of each format in components/host/formats.ts, with the text or
 * value it must give. The expected hashes and base64 were computed with
 * coreutils (sha256sum, base64), not with the program's own code, and
 * test/host/formats.test.ts runs every sample through the program and
 * through homelab-deploy.sh.
 */
import type { StageRecord } from "../../components/host/drift";

/** The secrets directory the samples' paths are under; the script's run swaps in its own. */
export const SAMPLE_SECRETS_DIR = "/var/lib/homelab/secrets";

export const SECRETS_SAMPLE = {
  service: "mosquitto",
  // Declared out of key order, with a value holding a tab, a newline and non-ASCII text.
  secrets: [
    {
      key: "mosquitto.username",
      path: `${SAMPLE_SECRETS_DIR}/mosquitto/username`,
      group: "root",
      mode: "0400" as const,
      units: [],
      value: "homelab",
    },
    {
      key: "mosquitto.password",
      path: `${SAMPLE_SECRETS_DIR}/mosquitto/password`,
      group: "root",
      mode: "0440" as const,
      units: ["mosquitto.service", "home-assistant.service"],
      value: "pa ss\twörd\nx",
    },
  ],
  text: [
    "homelab-secrets v1",
    `secret\tmosquitto.password\t${SAMPLE_SECRETS_DIR}/mosquitto/password\troot\t0440\thome-assistant.service,mosquitto.service\tcGEgc3MJd8O2cmQKeA==`,
    `secret\tmosquitto.username\t${SAMPLE_SECRETS_DIR}/mosquitto/username\troot\t0400\t-\taG9tZWxhYg==`,
    "end\t2",
    "",
  ].join("\n"),
};

/** Paths that sort differently by bytes than by locale ("a-b" before "a.nix"), nested folders, an empty file. */
export const BUNDLE_SAMPLE = {
  files: {
    "modules/Z.nix": "{ }\n",
    "a.nix": "x\n",
    "deploy/run.sh": "#!/bin/sh\necho hi\n",
    "a-b.txt": "tab\there\n",
    empty: "",
  },
  manifest: [
    "848a61fe59b8a98a825cddeb9ae567e6ce85e5285fa9de000fc7460f1be12297  a-b.txt",
    "73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac  a.nix",
    "299001868fb8c02fd431c336c6d058f5558c5dff5b5af5e6fe04b870a6a9cbba  deploy/run.sh",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty",
    "1d6faa9e1a76d13f3ab8558a3640158b1f0a54f624a4e37ddc3ef41ed4191058  modules/Z.nix",
    "",
  ].join("\n"),
  hash: "b45623bba6aa94e9d90f25e0efa44053d7ea583d7e425c23a335c37ca139eef6",
};

export const RECORD_SAMPLE: { record: StageRecord; base64: string } = {
  record: {
    base: "0123456789abcdef",
    drift: [`drift: ${SAMPLE_SECRETS_DIR}/mosquitto/password was edited by hand`, "drift repair #2"],
  },
  base64:
    "eyJiYXNlIjoiMDEyMzQ1Njc4OWFiY2RlZiIsImRyaWZ0IjpbImRyaWZ0OiAvdmFyL2xpYi9ob21lbGFiL3NlY3JldHMvbW9zcXVpdHRvL3Bhc3N3b3JkIHdhcyBlZGl0ZWQgYnkgaGFuZCIsImRyaWZ0IHJlcGFpciAjMiJdfQ==",
};

const RELEASE = "a".repeat(64);
const PREVIOUS = "b".repeat(64);

/** An observe report with a line of every kind, and what the program reads from it. */
export const OBSERVE_SAMPLE = {
  text: [
    "homelab-observe v1",
    `bundle-link\t/var/lib/homelab/state/releases/${RELEASE}`,
    `bundle-release\t${RELEASE}`,
    `bundle-hash\t${RELEASE}`,
    "script-hash\t-",
    `applied-release\t${PREVIOUS}`,
    `journal\t${RELEASE}\tawaiting\t${PREVIOUS}\t1796000000`,
    "journal-damaged\tits phase is not one the script writes\tbash /var/lib/homelab/state/bin/homelab-deploy.sh journal-repair --bundle-dir /etc/nixos/homelab",
    `unconfirmed-rollback\t${PREVIOUS}\t2026-12-05T06:00:00Z`,
    "deployed-generation\t6",
    "generation\t7",
    `manifest\tmosquitto.password\t${"c".repeat(64)}\troot\t0440\t${SAMPLE_SECRETS_DIR}/mosquitto/password`,
    `pending\t${SAMPLE_SECRETS_DIR}/mosquitto/old`,
    `applied-secret\t${SAMPLE_SECRETS_DIR}/mosquitto/password`,
    `file\tunreadable\troot\troot\t440\t${SAMPLE_SECRETS_DIR}/mosquitto/password`,
    `record\tsecrets.mosquitto\t${RECORD_SAMPLE.base64}`,
    "failed-unit\tmosquitto.service",
    "end",
    "",
  ].join("\n"),
  parsed: {
    bundleLink: `/var/lib/homelab/state/releases/${RELEASE}`,
    bundleRelease: RELEASE,
    bundleHash: RELEASE,
    scriptHash: null,
    appliedRelease: PREVIOUS,
    interruptedApply: { target: RELEASE, phase: "awaiting", previousRelease: PREVIOUS, confirmDeadline: 1796000000 },
    damagedJournal: {
      problem: "its phase is not one the script writes",
      repairCommand: "bash /var/lib/homelab/state/bin/homelab-deploy.sh journal-repair --bundle-dir /etc/nixos/homelab",
    },
    unconfirmedRollback: { target: PREVIOUS, at: "2026-12-05T06:00:00Z" },
    deployedGeneration: 6,
    generation: 7,
    manifest: [
      {
        key: "mosquitto.password",
        sha256: "c".repeat(64),
        group: "root",
        mode: "0440",
        path: `${SAMPLE_SECRETS_DIR}/mosquitto/password`,
      },
    ],
    pending: [`${SAMPLE_SECRETS_DIR}/mosquitto/old`],
    appliedSecrets: [`${SAMPLE_SECRETS_DIR}/mosquitto/password`],
    files: [
      {
        sha256: "unreadable",
        owner: "root",
        group: "root",
        mode: "440",
        path: `${SAMPLE_SECRETS_DIR}/mosquitto/password`,
      },
    ],
    failedUnits: ["mosquitto.service"],
  },
};
