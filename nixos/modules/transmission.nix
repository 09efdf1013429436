# Transmission and its day/night bandwidth schedule (Core & Portal page):
# day 08:00-00:00 download 50 MB/s and upload 0, night 00:00-08:00 both
# 50 MB/s. The windows and their limits, already in Transmission's kB/s,
# come from homelab.transmission.schedule (generated from
# components/catalog/schedules.ts).
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
  options.homelab.transmission.rpcUsername = lib.mkOption {
    type = lib.types.str;
    default = "transmission";
    description = "User name of Transmission's RPC and web UI; the password is the catalog's rpc-password secret.";
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
