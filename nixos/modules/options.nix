# The `homelab` option tree: the typed interface between the data generated
# from the catalog (generated/homelab.json, written by
# components/render/nixos.ts) and the modules that configure services.
# default.nix sets these options from the JSON, so a value of the wrong type,
# or a service no module knows, fails the evaluation on the host with the
# option's name in the message.
#
# Knobs that are not catalog data (packages, the OTBR radio) are declared by
# the module that uses them, under homelab.<module>.
{ lib, ... }:
let
  inherit (lib) types;

  # Secret files are absolute paths kept as strings: a Nix path literal would
  # copy the file into the world-readable store. Only the path is ever here.
  absolutePath = types.strMatching "/.+";

  clockTime = types.strMatching "([01][0-9]|2[0-3]):[0-5][0-9]";

  anyBind = types.enum [
    "0.0.0.0"
    "127.0.0.1"
  ];

  # One catalog entry as the modules see it. `bind` narrows for services
  # that must never leave the host.
  serviceOption =
    {
      title,
      bind ? anyBind,
    }:
    lib.mkOption {
      description = "${title}, as the catalog declares it for this stack.";
      default = { };
      type = types.submodule {
        options = {
          enable = lib.mkEnableOption "${title} (set from the catalog)";
          title = lib.mkOption {
            type = types.str;
            default = title;
            description = "Name shown on the dashboard.";
          };
          port = lib.mkOption {
            type = types.nullOr types.port;
            default = null;
            description = "TCP port the service listens on; null when it has no listener.";
          };
          bind = lib.mkOption {
            type = types.nullOr bind;
            default = null;
            description = "Address the listener binds; 127.0.0.1 never leaves the host.";
          };
          openFirewall = lib.mkOption {
            type = types.bool;
            default = false;
            description = "Open the port in the host firewall: every LAN-bound listener is, so the dashboard's Local mode reaches it.";
          };
          localUrl = lib.mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "URL on the LAN, http://<lanAddress>:<port>.";
          };
          publicUrl = lib.mkOption {
            type = types.nullOr types.str;
            default = null;
            description = "Public route through the Cloudflare tunnel, when the stack has one.";
          };
          units = lib.mkOption {
            type = types.listOf types.str;
            default = [ ];
            description = "systemd units the service runs as; modules/base.nix checks they exist.";
          };
          secrets = lib.mkOption {
            type = types.attrsOf absolutePath;
            default = { };
            description = "Secret name to the absolute path of its root-owned file. Read at runtime only.";
          };
        };
      };
    };

  # Every host service of the catalog. A service the catalog gains without a
  # line here fails evaluation ("option does not exist") instead of being
  # silently left unconfigured.
  services = {
    portal = serviceOption { title = "Portal (nginx, configured by modules/portal.nix)"; };
    dashboard = serviceOption { title = "Homepage (configured by modules/portal.nix)"; };
    home-assistant = serviceOption { title = "Home Assistant"; };
    mosquitto = serviceOption { title = "Mosquitto"; };
    jellyfin = serviceOption { title = "Jellyfin"; };
    transmission = serviceOption { title = "Transmission"; };
    sonarr = serviceOption { title = "Sonarr"; };
    radarr = serviceOption { title = "Radarr"; };
    prowlarr = serviceOption { title = "Prowlarr"; };
    jackett = serviceOption { title = "Jackett"; };
    backrest = serviceOption { title = "Backrest"; };
    litellm = serviceOption { title = "LiteLLM"; };
    ollama = serviceOption { title = "Ollama"; };
    picoclaw = serviceOption { title = "PicoClaw"; };
    cockpit = serviceOption { title = "Cockpit"; };
    otbr = serviceOption { title = "OpenThread Border Router"; };
    ssh-mcp = serviceOption {
      title = "Homelab SSH MCP";
      # Loopback only, whatever the catalog says: the pages forbid routing it.
      bind = types.enum [ "127.0.0.1" ];
    };
    tailscale = serviceOption { title = "Tailscale"; };
    cloudflared = serviceOption { title = "Cloudflare Tunnel"; };
  };
in
{
  options.homelab = {
    stack = lib.mkOption {
      type = types.str;
      description = "The Pulumi stack this host runs.";
      example = "prod";
    };

    timeZone = lib.mkOption {
      type = types.str;
      default = "UTC";
      description = "IANA time zone of the host; the Transmission schedule follows it.";
    };

    lan = {
      address = lib.mkOption {
        type = types.str;
        description = "The host's LAN address, where the dashboard's Local mode links point.";
      };
      hostName = lib.mkOption {
        type = types.strMatching "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?";
        description = "First label of the host's mDNS name (nixos in nixos.local).";
      };
      domain = lib.mkOption {
        type = types.str;
        default = "local";
        description = "mDNS domain, normally local.";
      };
      connectors = lib.mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "LAN addresses of the hosts whose tunnel connector reaches this host's services straight over the LAN, in a stack of several hosts; empty with one host, where the route comes through nginx on localhost.";
      };
    };

    secretsDir = lib.mkOption {
      type = absolutePath;
      default = "/var/lib/homelab/secrets";
      description = "Where the deploy writes secret files, one folder per service.";
    };

    services = lib.mkOption {
      type = types.submodule { options = services; };
      default = { };
      description = "The catalog's enabled host services for this stack.";
    };

    transmission = {
      schedule = lib.mkOption {
        description = ''
          Day/night speed windows, in Transmission's units (kB/s, 1 kB = 1000
          bytes). They cover the day exactly once; 0 means limited to zero.
        '';
        default = [ ];
        type = types.listOf (
          types.submodule {
            options = {
              name = lib.mkOption {
                type = types.str;
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
                type = types.ints.unsigned;
                description = "speed-limit-down, kB/s.";
              };
              uploadKBps = lib.mkOption {
                type = types.ints.unsigned;
                description = "speed-limit-up, kB/s; 0 disables upload.";
              };
            };
          }
        );
      };
      hostWhitelist = lib.mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Host names Transmission's RPC accepts in the Host header (the public route, the mDNS name).";
      };
    };

    backups = {
      enable = lib.mkEnableOption "daily restic backups of every service's state to Backblaze B2";
      repository = lib.mkOption {
        type = types.strMatching "b2:[^:]+:.+";
        description = "restic repository, b2:<bucket>:<path>.";
      };
      paths = lib.mkOption {
        type = types.listOf absolutePath;
        default = [ ];
        description = "State directories backed up.";
      };
      exclude = lib.mkOption {
        type = types.listOf absolutePath;
        default = [ ];
        description = "Paths left out (Home Assistant's own compressed snapshots).";
      };
      pruneOpts = lib.mkOption {
        type = types.listOf (types.strMatching "--keep-[a-z]+ [0-9]+");
        default = [ ];
        description = "restic forget --prune retention flags.";
      };
      onCalendar = lib.mkOption {
        type = types.str;
        default = "daily";
        description = "systemd calendar expression of the backup timer.";
      };
      passwordFile = lib.mkOption {
        type = absolutePath;
        description = "File holding the repository password.";
      };
      b2AccountIdFile = lib.mkOption {
        type = absolutePath;
        description = "File holding the B2 application key id.";
      };
      b2AccountKeyFile = lib.mkOption {
        type = absolutePath;
        description = "File holding the B2 application key.";
      };
    };
  };
}
