# Daily restic backups of every service's state to Backblaze B2, and the
# Backrest web UI. Paths, excludes (Home Assistant's own compressed
# snapshots), retention (7 daily, 4 weekly, 6 monthly) and the repository
# come from homelab.backups, generated from the catalog.
#
# nixpkgs packages Backrest but has no NixOS module for it, hence the unit
# below.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.homelab.backups;
  backrest = config.homelab.services.backrest;
  opts = config.homelab.backrest;
  hardening = import ../lib/hardening.nix;
  # restic's global flag: wait up to two hours for another host's lock on the shared repository.
  waitForLock = "--retry-lock=2h";

  # A real directory (not DynamicUser's symlink into /var/lib/private), so
  # restic's backup of /var/lib/backrest holds Backrest's config and oplog.
  stateDir = "/var/lib/backrest";

  # What a backup and a restore through Backrest need, and no more. The
  # state directories belong to other services' users, so reading them
  # (backup) needs CAP_DAC_READ_SEARCH; putting files back with their owner,
  # mode and times (restore) needs CAP_DAC_OVERRIDE, CAP_CHOWN and
  # CAP_FOWNER, and the chown calls that ~@privileged would refuse.
  # ProtectSystem=strict stays: only the backed-up paths become writable
  # ("-": a service that has not run yet has no directory), so a restore
  # can target its original location or /var/lib/backrest, nothing else.
  restoreAccess = {
    CapabilityBoundingSet = [
      "CAP_DAC_READ_SEARCH"
      "CAP_DAC_OVERRIDE"
      "CAP_CHOWN"
      "CAP_FOWNER"
    ];
    AmbientCapabilities = [
      "CAP_DAC_READ_SEARCH"
      "CAP_DAC_OVERRIDE"
      "CAP_CHOWN"
      "CAP_FOWNER"
    ];
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
      "@chown"
    ];
    ReadWritePaths = map (path: "-${path}") cfg.paths;
  };

  b2Keys = {
    B2_ACCOUNT_ID = cfg.b2AccountIdFile;
    B2_ACCOUNT_KEY = cfg.b2AccountKeyFile;
  };

  configFile = "${stateDir}/config.json";

  # Backrest's login. It keeps its users in config.json and has none until
  # someone sets one in its UI, so the first visitor on the LAN would own a
  # tool that can restore over every service's state. Before each start
  # this step writes the one user below, with the bcrypt hash of the
  # catalog's ui-password secret, into the file (scripts/backrest-login.sh
  # says how). The password reaches it only as a systemd credential and
  # htpasswd's stdin: never the store, argv or the journal.
  uiUser = "homelab";
  setLogin = pkgs.writeShellApplication {
    name = "backrest-login";
    runtimeInputs = [
      pkgs.jq
      # htpasswd: bcrypt from stdin (-i), and checking a hash the same way (-v).
      pkgs.apacheHttpd
      pkgs.coreutils
    ];
    text = builtins.readFile ../scripts/backrest-login.sh;
  };
  hasLogin = backrest.secrets ? ui-password;
in
{
  options.homelab.backrest = {
    package = lib.mkPackageOption pkgs "backrest" { };
    resticPackage = lib.mkPackageOption pkgs "restic" { };
  };

  config = lib.mkMerge [
    (lib.mkIf cfg.enable {
      # restic reads the B2 keys from its environment only. The renderer
      # runs before every backup, so rotated keys reach the next run.
      homelab.runtimeSecrets.restic-b2 = {
        format = "env";
        values = b2Keys;
        requiredBy = [ "restic-backups-homelab.service" ];
        # nixpkgs' restic-homelab wrapper (restores, `snapshots` by hand)
        # sources this file too; after a reboot it would be missing until
        # the daily timer ran.
        atBoot = true;
      };

      services.restic.backups.homelab = {
        inherit (cfg)
          repository
          paths
          exclude
          passwordFile
          ;
        # Every host with backup paths writes to the one repository. A run
        # that finds another host's lock waits for it (restic's global
        # --retry-lock) instead of failing and leaving that day unbacked.
        extraBackupArgs = [ waitForLock ];
        pruneOpts = cfg.pruneOpts ++ [ waitForLock ];
        # The check after the prune takes a lock as well. nixpkgs' default
        # for runCheck differs between releases; set, it runs on both.
        runCheck = true;
        checkOpts = [ waitForLock ];
        environmentFile = config.homelab.runtimeSecrets.restic-b2.path;
        initialize = true;
        timerConfig = {
          OnCalendar = cfg.onCalendar;
          Persistent = true;
          RandomizedDelaySec = "1h";
        };
      };
    })

    (lib.mkIf backrest.enable {
      assertions = [
        {
          assertion = hasLogin;
          message = "homelab: the backrest catalog entry has no ui-password secret, so Backrest would start without a login and the first visitor of port ${toString backrest.port} could set one. Add { name = \"ui-password\"; ref = \"op://<vault>/Backrest/password\" } to its secrets in components/catalog/services.ts.";
        }
      ];

      users.users.backrest = {
        isSystemUser = true;
        group = "backrest";
        home = stateDir;
      };
      users.groups.backrest = { };

      systemd.services.backrest = {
        description = "Backrest, the web UI for restic";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        # The names Backrest reads (internal/env/environment.go upstream).
        environment = {
          BACKREST_PORT = "${backrest.bind}:${toString backrest.port}";
          BACKREST_CONFIG = configFile;
          BACKREST_DATA = "${stateDir}/data";
          # Never the restic it would download: the one from nixpkgs.
          BACKREST_RESTIC_COMMAND = lib.getExe opts.resticPackage;
          XDG_CACHE_HOME = "/var/cache/backrest";
        };
        serviceConfig = hardening // {
          ExecStart = lib.getExe opts.package;
          # As the backrest user, like the service: the file is its own.
          ExecStartPre = lib.optional hasLogin "${lib.getExe setLogin} ${lib.escapeShellArgs [
            configFile
            uiUser
          ]}";
          LoadCredential = lib.optional hasLogin "ui-password:${backrest.secrets.ui-password}";
          User = "backrest";
          Group = "backrest";
          StateDirectory = "backrest";
          StateDirectoryMode = "0700";
          CacheDirectory = "backrest";
          CacheDirectoryMode = "0700";
          WorkingDirectory = stateDir;
          Restart = "on-failure";
          RestartSec = 5;
          # Go programs, Backrest and the restic it runs.
          MemoryDenyWriteExecute = true;
        }
        // lib.optionalAttrs cfg.enable restoreAccess;
      };
    })

    # Backrest browses the same B2 repository; its own config (repository
    # password included) lives in /var/lib/backrest, set up in its UI, all
    # but the login, which the step above declares. The
    # B2 keys come from the environment, like restic's. A renderer of its
    # own, so restarting one reader never restarts the other.
    (lib.mkIf (backrest.enable && cfg.enable) {
      homelab.runtimeSecrets.backrest-b2 = {
        format = "env";
        values = b2Keys;
        requiredBy = [ "backrest.service" ];
      };
      systemd.services.backrest.serviceConfig.EnvironmentFile = [
        config.homelab.runtimeSecrets.backrest-b2.path
      ];
    })
  ];
}
