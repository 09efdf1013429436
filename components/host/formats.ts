/**
 * The text formats the program and the deploy script
 * (nixos/deploy/homelab-deploy.sh) hand each other, each written down once.
 * The TypeScript side writes and reads them through these definitions, the
 * script's comments point here, the docs site publishes them
 * (/reference/host-formats/), and test/host/formats.test.ts runs the samples
 * below through both sides. Change a format here first; a version header that
 * changes makes the other side refuse the stream instead of misreading it.
 */

/** One kind of line: its first tab-separated field, then named fields. */
export interface LineFormat {
  kind: string;
  fields: readonly string[];
  doc: string;
}

/** A line-oriented stream: a version header, lines of known kinds, an end line. */
export interface StreamFormat {
  /** Anchor and title on the reference page. */
  id: string;
  title: string;
  /** Who writes it, who reads it, over what. */
  flow: string;
  header: string;
  lines: readonly LineFormat[];
  end: LineFormat;
  rules: readonly string[];
}

/** A rule with no stream: a value both sides compute. */
export interface ValueFormat {
  id: string;
  title: string;
  flow: string;
  rules: readonly string[];
}

const TAB_RULES = [
  "Fields are separated by one tab; a field holds no tab or newline.",
  "Every line ends with a newline, the last one included.",
] as const;

/** One service's secret values, program → script (`secrets --service <id>`, on stdin). */
export const SECRETS_STREAM: StreamFormat = {
  id: "secrets-stream",
  title: "Secrets stream",
  flow: "the program writes it on the stdin of `homelab-deploy.sh secrets --service <id>`; the script writes the files",
  header: "homelab-secrets v1",
  lines: [
    {
      kind: "secret",
      fields: ["key", "path", "group", "mode", "units", "value"],
      doc: "`key` is `<service>.<name>`; `path` an absolute file under the service's secrets directory; `group` reads the file (`root` when only root may); `mode` `0400` or `0440`; `units` the systemd units a new value restarts, sorted and comma-separated, or `-`; `value` the base64 of the value's UTF-8 bytes",
    },
  ],
  end: {
    kind: "end",
    fields: ["count"],
    doc: "the number of `secret` lines: a stream cut before it is refused and nothing is written",
  },
  rules: [...TAB_RULES, "`secret` lines are sorted by key, and no key or path appears twice."],
};

/** What the host looks like, script → program (`observe`, on stdout). Read-only on the host. */
export const OBSERVE_REPORT: StreamFormat = {
  id: "observe-report",
  title: "Observe report",
  flow: "`homelab-deploy.sh observe` prints it; the program reads it for drift during `pulumi preview` and `pulumi up`",
  header: "homelab-observe v1",
  lines: [
    {
      kind: "bundle-link",
      fields: ["target"],
      doc: "where the bundle directory's link points; `?directory` for a plain directory, `-` when there is none",
    },
    { kind: "bundle-release", fields: ["hash"], doc: "the release the link names, or `-`" },
    {
      kind: "bundle-hash",
      fields: ["hash"],
      doc: "the bundle hash of what the bundle directory holds now, `invalid` when it holds links or devices, `-` when it is absent",
    },
    { kind: "script-hash", fields: ["sha256"], doc: "sha256 of the push's copy of the deploy script, or `-`" },
    { kind: "applied-release", fields: ["hash"], doc: "the release the last healthy apply made live, or `-`" },
    {
      kind: "journal",
      fields: ["target", "phase", "previousRelease", "confirmDeadline"],
      doc: "an apply that has not finished: the release it applies, how far it got (`started`, `switching`, `awaiting` confirmation, `committed`), the release before it, and the Unix time an unconfirmed switch rolls back at (empty when it does not wait)",
    },
    {
      kind: "journal-damaged",
      fields: ["problem", "repairCommand"],
      doc: "an apply journal the script cannot read: what is wrong, and the `journal-repair` command that puts the host back",
    },
    {
      kind: "unconfirmed-rollback",
      fields: ["target", "at"],
      doc: "the last release the host rolled back by itself because the deployer never confirmed it, and when (UTC)",
    },
    {
      kind: "deployed-generation",
      fields: ["generation"],
      doc: "the system generation the last healthy apply left, or `-`",
    },
    { kind: "generation", fields: ["generation"], doc: "the system generation the profile points at now, or `-`" },
    {
      kind: "manifest",
      fields: ["key", "sha256", "group", "mode", "path"],
      doc: "one secret file as the last secrets run wrote it (sha256 of its content, never the content)",
    },
    {
      kind: "pending",
      fields: ["path"],
      doc: "a secret file the live release still declares, removed once a release without it is live",
    },
    { kind: "applied-secret", fields: ["path"], doc: "a secret file the live release declares" },
    {
      kind: "file",
      fields: ["sha256", "owner", "group", "mode", "path"],
      doc: "one file found in the secrets directory now; `mode` as `stat -c %a` prints it; `sha256` is `unreadable` when it cannot be read",
    },
    {
      kind: "record",
      fields: ["stage", "record"],
      doc: "the stage record a stage (`push`, `rebuild`, `secrets.<id>`) last succeeded with",
    },
    { kind: "failed-unit", fields: ["unit"], doc: "a systemd unit in the failed state" },
  ],
  end: { kind: "end", fields: [], doc: "the report is complete; one without it was cut and is not read" },
  rules: [
    ...TAB_RULES,
    "A line of a kind the reader does not know is ignored, so the script can report more before the program reads it.",
  ],
};

/** A release's name: the same rule in the program and on the host. */
export const BUNDLE_HASH: ValueFormat = {
  id: "bundle-hash",
  title: "Bundle hash",
  flow: "the program names the release it declares; the push checks what arrived; `observe` hashes what the bundle directory holds",
  rules: [
    "The bundle's files, by path relative to the bundle directory, sorted by the bytes of the path (`LC_ALL=C sort`).",
    "One manifest line per file, as `sha256sum` prints it: the sha256 of its bytes in hex, two spaces, the path, a newline.",
    "The bundle hash is the sha256 of that manifest, in hex.",
    "Paths use letters, digits and `. _ - + @ /` only, so `sha256sum` never escapes one; a tree with anything but regular files and directories has no hash.",
  ],
};

/** What a stage last ran with, program → script (`--record`) → program (`observe`). */
export const STAGE_RECORD: ValueFormat = {
  id: "stage-record",
  title: "Stage record",
  flow: "the program passes it as `--record <base64>` to `push`, `secrets` and `apply`; the script keeps it once the stage succeeds and `observe` reports it back unchanged",
  rules: [
    'The base64 of the UTF-8 JSON `{"base":"<16 hex>","drift":[<entries>]}`, with the keys in that order and no spaces.',
    "`base` is the first 16 hex digits of the sha256 of the stage's drift-free triggers, as JSON; `drift` the drift entries the stage ran with.",
    "The script never reads inside it: it checks the base64 alphabet and stores it. A record the program cannot read counts as none.",
  ],
};

export const STREAM_FORMATS: readonly StreamFormat[] = [SECRETS_STREAM, OBSERVE_REPORT];
export const VALUE_FORMATS: readonly ValueFormat[] = [BUNDLE_HASH, STAGE_RECORD];

/** One line of `format`, from its kind and named fields. */
export function formatLine(format: StreamFormat, kind: string, values: Readonly<Record<string, string>>): string {
  const line = [...format.lines, format.end].find((l) => l.kind === kind);
  if (!line) throw new Error(`${format.title} has no "${kind}" line`);
  const fields = line.fields.map((f) => {
    const v = values[f];
    if (v === undefined) throw new Error(`${format.title}: a "${kind}" line needs ${f}`);
    if (/[\t\n]/.test(v)) throw new Error(`${format.title}: ${kind}.${f} holds a tab or a newline`);
    return v;
  });
  return [kind, ...fields].join("\t");
}

/** A parsed line: its kind and named fields; a field the line lacks is "". */
export interface ParsedLine {
  kind: string;
  fields: Record<string, string>;
}

/**
 * The lines of a stream between its header and its end line, each parsed by
 * its kind. Throws when the header is not this format's or the end is
 * missing. Lines of unknown kinds come back with no named fields.
 */
export function parseStream(format: StreamFormat, text: string, what: string): ParsedLine[] {
  const lines = text.split("\n");
  if (lines[0] !== format.header) throw new Error(`${what} does not start with ${format.header}`);
  const endAt = lines.findIndex((l, i) => i > 0 && (l === format.end.kind || l.startsWith(`${format.end.kind}\t`)));
  if (endAt < 0) throw new Error(`${what} was cut before its end`);
  const byKind = new Map(format.lines.map((l) => [l.kind, l]));
  return lines.slice(1, endAt).flatMap((line) => {
    if (line === "") return [];
    const [kind, ...values] = line.split("\t");
    const known = byKind.get(kind);
    return [{ kind, fields: Object.fromEntries((known?.fields ?? []).map((f, i) => [f, values[i] ?? ""])) }];
  });
}

/** The body of the docs site's reference page on the host formats (Markdown lines). */
export function hostFormatsPage(): string[] {
  const out = [
    "The program and the deploy script on the host (`homelab-deploy.sh`) hand each other these texts. This page is generated from `components/host/formats.ts`, which both sides' code follows; `test/host/formats.test.ts` runs the same samples through the program and through the script.",
    "",
  ];
  for (const f of STREAM_FORMATS) {
    out.push(
      `## ${f.title}`,
      "",
      `${capital(f.flow)}.`,
      "",
      `The first line is \`${f.header}\`. Then, one per line:`,
      "",
    );
    out.push("| Line | Fields | Meaning |", "| --- | --- | --- |");
    for (const l of [...f.lines, f.end])
      out.push(`| \`${l.kind}\` | ${l.fields.map((x) => `\`${x}\``).join(", ") || "none"} | ${l.doc} |`);
    out.push("", ...f.rules.map((r) => `- ${r}`), "");
  }
  for (const f of VALUE_FORMATS)
    out.push(`## ${f.title}`, "", `${capital(f.flow)}.`, "", ...f.rules.map((r) => `- ${r}`), "");
  return out;
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
