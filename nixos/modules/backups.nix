# Daily restic backups of every service's state to Backblaze B2, and the
# Backrest web UI. Paths, excludes (Home Assistant's own compressed
# snapshots), retention (7 daily, 4 weekly, 6 monthly) and the repository
# come from homelab.backups, generated from the catalog.
{ config, lib, ... }:
let
  cfg = config.homelab.backups;
  backrest = config.homelab.services.backrest;

  b2Keys = {
    B2_ACCOUNT_ID = cfg.b2AccountIdFile;
    B2_ACCOUNT_KEY = cfg.b2AccountKeyFile;
  };
in
{
  config = lib.mkMerge [
    (lib.mkIf cfg.enable {
      # restic reads the B2 keys from its environment only.
      homelab.runtimeSecrets.restic-b2 = {
        format = "env";
        values = b2Keys;
        requiredBy = [ "restic-backups-homelab.service" ];
      };

      services.restic.backups.homelab = {
        inherit (cfg)
          repository
          paths
          exclude
          pruneOpts
          passwordFile
          ;
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
      services.backrest = {
        enable = true;
        listen = {
          host = backrest.bind;
          port = backrest.port;
        };
      };
    })

    # Backrest browses the same B2 repository; its own config (repository
    # password included) lives in /var/lib/backrest, set up in its UI. The
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
