/**
 * The machines of a stack: `homelab:hosts`, `homelab:placement` and
 * `homelab:rollout`. A stack without `homelab:hosts` is one host built from
 * the single-host keys (lanAddress, sshHost, ...), so every stack written
 * before hosts existed keeps its meaning and its resource names.
 */

import { isDnsLabel } from "../catalog/rules";

/** Connection and LAN facts of one machine. */
export interface HostConfig {
  /** The key under `homelab:hosts`; a DNS label. @example "gpu" */
  name: string;
  /** The host's LAN address; Local mode links to its services point here. */
  lanAddress: string;
  /** The host's mDNS name: `homelab:lanHostname` for the one host of the single-host keys, `<name>.local` unless a declared host sets its own. */
  lanHostname: string;
  /** Connection facts; unset ones take the defaults of the single-host keys' records (sshHost, sshPort, sshUser in CONFIG_KEYS). */
  ssh: {
    host: string;
    port: number;
    user: string;
    /** The host's public key line; a deploy refuses to run without it. */
    hostKey?: string;
  };
  /**
   * The secret `homelab:` config key that holds the key this host is logged
   * in with. Named, not inlined, so it stays a Pulumi secret.
   * @default "sshPrivateKey"
   */
  sshKeyConfig: string;
  /**
   * A host configured by a flake: the flake and its nixosConfigurations
   * attribute, and the input through which that flake imports the bundle.
   * Undefined for a channel host, whose /etc/nixos/configuration.nix
   * imports the bundle directory.
   * @example { ref: "/etc/nixos#nixos", input: "homelab" }
   */
  flake?: NixosFlake;
}

/** How a flake host's own flake is built with each release (homelab:nixosFlake, homelab:nixosFlakeInput). */
export interface NixosFlake {
  /** `<absolute path>#<nixosConfigurations attribute>`. @example "/etc/nixos#nixos" */
  ref: string;
  /** The flake's input that the deploy overrides with the release (`nixosFlakeInput`, whose record holds the default). */
  input: string;
}

/** The default login key every host uses unless it names its own. */
export const DEFAULT_SSH_KEY_CONFIG = "sshPrivateKey";

/**
 * A host's own login key: `sshPrivateKey` followed by a capitalised suffix,
 * so the name still says what the secret is and matches the Pulumi CLI's
 * secret-name heuristic (see test/spine/config-keys.test.ts) only through
 * "sshPrivateKey" being set with --secret anyway.
 * @example "sshPrivateKeyGpu"
 */
export const HOST_SSH_KEY_NAME = /^sshPrivateKey(?:[A-Z][A-Za-z0-9]{0,31})?$/;

/** The fields a `homelab:hosts.<name>` map may hold, with the single-host key each mirrors. */
export const HOST_FIELDS = [
  "lanAddress",
  "lanHostname",
  "sshHost",
  "sshPort",
  "sshUser",
  "sshHostKey",
  "sshKeyConfig",
  "nixosFlake",
  "nixosFlakeInput",
] as const;

/** The single-host keys that `homelab:hosts` replaces; setting both would leave one silently unused. */
export const SINGLE_HOST_KEYS = [
  "lanAddress",
  "lanHostname",
  "sshHost",
  "sshPort",
  "sshUser",
  "sshHostKey",
  "nixosFlake",
  "nixosFlakeInput",
] as const;

/** Enough for a rack; the plan benchmark runs ten. */
export const MAX_HOSTS = 64;

/** The one host of a stack without `homelab:hosts`, named after its mDNS name's first label. */
export function singleHostName(lanHostname: string): string {
  const label = lanHostname.split(".")[0];
  return isDnsLabel(label) ? label : "host";
}

/** The stack's hosts, first = default. Configs built by hand (tests) without `hosts` get the single host. */
export function stackHosts(config: {
  hosts?: HostConfig[];
  lanAddress: string;
  lanHostname: string;
  ssh: HostConfig["ssh"];
}): HostConfig[] {
  if (config.hosts && config.hosts.length > 0) return config.hosts;
  return [
    {
      name: singleHostName(config.lanHostname),
      lanAddress: config.lanAddress,
      lanHostname: config.lanHostname,
      ssh: { ...config.ssh },
      sshKeyConfig: DEFAULT_SSH_KEY_CONFIG,
    },
  ];
}
