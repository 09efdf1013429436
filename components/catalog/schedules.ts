/**
 * Time-based policies from the owner's pages, typed once here and turned into
 * host units by components/render/nixos.ts: the Transmission day/night speed
 * schedule (Core & Portal page) and the restic retention (Home Assistant page).
 */

/** A wall-clock time on the host, `HH:MM`, 24-hour, in the stack's time zone. */
export type ClockTime = `${number}:${number}`;

/** A bandwidth cap. `0` means "limited to zero", never "unlimited". */
export interface Rate {
  megabytesPerSecond: number;
}

/** One window of the Transmission schedule. */
export interface SpeedPeriod {
  /** Mode name, used in logs. @example "day" */
  name: string;
  /** When the window starts; the timer fires at this time. */
  from: ClockTime;
  /** When the window ends; `00:00` means midnight at the end of the day. */
  to: ClockTime;
  download: Rate;
  upload: Rate;
}

/**
 * Day: download capped at 50 MB/s, upload disabled (0). Night: 50 MB/s both
 * ways, for seeding off-peak. The alternative ("turtle") limits are left
 * alone so the owner can still use them for manual pausing.
 */
export const TRANSMISSION_SCHEDULE: readonly SpeedPeriod[] = [
  { name: "day", from: "08:00", to: "00:00", download: { megabytesPerSecond: 50 }, upload: { megabytesPerSecond: 0 } },
  {
    name: "night",
    from: "00:00",
    to: "08:00",
    download: { megabytesPerSecond: 50 },
    upload: { megabytesPerSecond: 50 },
  },
];

/**
 * Transmission's speed settings (`speed-limit-down`/`speed-limit-up` and
 * transmission-remote's `--downlimit`/`--uplimit`) are in kB/s, and since
 * Transmission 2.30 its kB is SI: 1 kB = 1000 bytes (the daemon's `units`
 * report `speed-bytes: 1000`). So 1 MB/s = 1000 kB/s.
 */
export const TRANSMISSION_BYTES_PER_KB = 1000;

export function toTransmissionKBps(rate: Rate): number {
  return Math.round((rate.megabytesPerSecond * 1_000_000) / TRANSMISSION_BYTES_PER_KB);
}

/** Minutes after midnight; `to` of `00:00` counts as 1440. */
export function clockMinutes(time: string, end = false): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time);
  if (!m) throw new Error(`"${time}" is not a HH:MM time`);
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return end && minutes === 0 ? 24 * 60 : minutes;
}

/**
 * Problems with a schedule: bad times, negative rates, overlaps and gaps.
 * The windows must cover the whole day exactly once, so that whatever the
 * time at boot exactly one mode applies.
 */
export function scheduleProblems(schedule: readonly SpeedPeriod[]): string[] {
  const problems: string[] = [];
  const covered = new Array<string | undefined>(24 * 60).fill(undefined);
  for (const p of schedule) {
    let from: number;
    let to: number;
    try {
      from = clockMinutes(p.from);
      to = clockMinutes(p.to, true);
    } catch (err) {
      problems.push(`${p.name}: ${(err as Error).message}`);
      continue;
    }
    for (const [what, rate] of [
      ["download", p.download],
      ["upload", p.upload],
    ] as const) {
      if (!(rate.megabytesPerSecond >= 0))
        problems.push(`${p.name}: ${what} rate ${rate.megabytesPerSecond} MB/s is negative`);
    }
    // A window that ends before it starts wraps past midnight.
    const minutes = from < to ? range(from, to) : [...range(from, 24 * 60), ...range(0, to)];
    for (const minute of minutes) {
      const other = covered[minute];
      if (other !== undefined && other !== p.name) {
        problems.push(`${p.name} overlaps ${other} at ${formatMinute(minute)}`);
        break;
      }
      covered[minute] = p.name;
    }
  }
  const gap = covered.indexOf(undefined);
  if (gap >= 0 && problems.length === 0) problems.push(`no period covers ${formatMinute(gap)}`);
  return problems;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function formatMinute(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

/** restic retention: 7 daily, 4 weekly and 6 monthly snapshots (Home Assistant page). */
export const BACKUP_RETENTION = { daily: 7, weekly: 4, monthly: 6 } as const;

/** When the daily backup runs, as a systemd calendar expression. */
export const BACKUP_SCHEDULE = "daily";

/** `restic forget --prune` flags for a retention policy, in a fixed order. */
export function resticPruneOpts(retention: { daily: number; weekly: number; monthly: number }): string[] {
  return [
    `--keep-daily ${retention.daily}`,
    `--keep-weekly ${retention.weekly}`,
    `--keep-monthly ${retention.monthly}`,
  ];
}
