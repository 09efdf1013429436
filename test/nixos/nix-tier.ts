import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findProgram, tier } from "../support/tiers";

/** Debian's nix-instantiate, which the Nix tier evaluates the bundle with. */
export const NIX = findProgram("nix-instantiate", [
  "/usr/bin/nix-instantiate",
  "/nix/var/nix/profiles/default/bin/nix-instantiate",
]);

/** Skipped, with its reason, where nix-instantiate is missing (a failure under CI). */
export const nixTier = tier("nix", NIX ? [] : ["nix-instantiate (Debian: apt-get install nix-bin)"]);

const scratch = mkdtempSync(join(tmpdir(), "homelab-nix-home-"));
mkdirSync(join(scratch, "conf"), { recursive: true });

/**
 * The environment nix-instantiate runs in: HOME, NIX_CONF_DIR, NIX_STATE_DIR,
 * NIX_LOG_DIR and the XDG folders point into a temporary directory, so no
 * user or system Nix configuration, channel or NIX_PATH leaks in.
 */
export const NIX_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: scratch,
  NIX_CONF_DIR: join(scratch, "conf"),
  NIX_STATE_DIR: join(scratch, "state"),
  NIX_LOG_DIR: join(scratch, "log"),
  XDG_CACHE_HOME: join(scratch, "cache"),
  XDG_CONFIG_HOME: join(scratch, "config"),
};
