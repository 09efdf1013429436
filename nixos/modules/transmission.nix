# Transmission and its day/night bandwidth schedule (Core & Portal page):
# day 08:00-00:00 download 50 MB/s and upload 0, night 00:00-08:00 both
# 50 MB/s. The windows and their limits, already in Transmission's kB/s,
# come from homelab.transmission.schedule, generated from the catalog
# entry's speedSchedule (components/catalog/schedules.ts).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.homelab.services.transmission;
  opts = config.homelab.transmission;
  hardening = import ../lib/hardening.nix;

  clockTime = lib.types.strMatching "([01][0-9]|2[0-3]):[0-5][0-9]";

  scheduleFile = pkgs.writeText "transmission-schedule.json" (builtins.toJSON opts.schedule);

  scheduler = pkgs.writeShellApplication {
    name = "transmission-schedule";
    runtimeInputs = [
      pkgs.coreutils
      pkgs.jq
      config.services.transmission.package
    ];
    text = builtins.readFile ../scripts/transmission-schedule.sh;
  };
in
{
  # schedule and hostWhitelist are set from generated/homelab.json: the
  # bundle writes them under homelab.<id> for the catalog entry with a
  # speedSchedule (components/render/nixos.ts).
  options.homelab.transmission = {
    rpcUsername = lib.mkOption {
      type = lib.types.str;
      default = "transmission";
      description = "User name of Transmission's RPC and web UI; the password is the catalog's rpc-password secret.";
    };

    schedule = lib.mkOption {
      description = ''
        Day/night speed windows, in Transmission's units (kB/s, 1 kB = 1000
        bytes). They cover the day exactly once; 0 means limited to zero.
      '';
      default = [ ];
      type = lib.types.listOf (
        lib.types.submodule {
          options = {
            name = lib.mkOption {
              type = lib.types.str;
              description = "Mode name, for logs.";
            };
            start = lib.mkOption {
              type = clockTime;
              description = "HH:MM the window starts; a timer fires then.";
            };
            end = lib.mkOption {
              type = clockTime;
              description = "HH:MM the window ends; 00:00 is midnight.";
            };
            downloadKBps = lib.mkOption {
              type = lib.types.ints.unsigned;
              description = "speed-limit-down, kB/s.";
            };
            uploadKBps = lib.mkOption {
              type = lib.types.ints.unsigned;
              description = "speed-limit-up, kB/s; 0 disables upload.";
            };
          };
        }
      );
    };

    hostWhitelist = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Host names Transmission's RPC accepts in the Host header (the public route, the mDNS name).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = opts.schedule != [ ];
        message = "homelab.transmission.schedule is empty; it is generated from components/catalog/schedules.ts.";
      }
      {
        assertion = cfg.secrets ? rpc-password;
        message = "homelab: the transmission catalog entry has no rpc-password secret.";
      }
    ];

    # rpc-password reaches settings.json through the module's credentialsFile,
    # a JSON file rendered at start from the secret file.
    homelab.runtimeSecrets.transmission = {
      format = "json";
      values.rpc-password = cfg.secrets.rpc-password;
      requiredBy = [ "transmission.service" ];
    };

    services.transmission = {
      enable = true;
      package = lib.mkDefault pkgs.transmission_4;
      credentialsFile = config.homelab.runtimeSecrets.transmission.path;
      # The RPC port is opened by modules/base.nix with the other LAN ports.
      # The peer port stays closed: incoming peers need a port forward on
      # the router anyway; set openPeerPorts for better seeding.
      openRPCPort = false;
      settings = {
        rpc-bind-address = cfg.bind;
        rpc-port = cfg.port;
        rpc-authentication-required = true;
        rpc-username = opts.rpcUsername;
        # Reached from the LAN (Local mode) and from nginx (the public
        # route); the password guards it, not the client address.
        rpc-whitelist-enabled = false;
        rpc-host-whitelist-enabled = true;
        rpc-host-whitelist = lib.concatStringsSep "," opts.hostWhitelist;
      };
    };

    systemd.services.transmission-schedule = {
      description = "Apply the Transmission speed limits for the current time";
      after = [ "transmission.service" ];
      # Started with Transmission, so the right mode applies after boot.
      wantedBy = [ "transmission.service" ];
      serviceConfig = hardening // {
        Type = "oneshot";
        DynamicUser = true;
        LoadCredential = [ "rpc-password:${cfg.secrets.rpc-password}" ];
        ExecStart = lib.escapeShellArgs [
          (lib.getExe scheduler)
          scheduleFile
          "127.0.0.1:${toString cfg.port}"
          opts.rpcUsername
        ];
        # It only ever talks to the local daemon.
        IPAddressDeny = "any";
        IPAddressAllow = "localhost";
      };
    };

    # One timer fires at the start of each window; Persistent catches a
    # switch missed while the host was off. The script picks the window
    # from the clock, so the order timers fire in never matters.
    systemd.timers.transmission-schedule = {
      description = "Switch Transmission between its day and night speed limits";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = map (p: "*-*-* ${p.start}:00") opts.schedule;
        Persistent = true;
      };
    };
  };
}
