# The `homelab` option tree: the typed interface between the data generated
# from the catalog (generated/homelab.json, written by
# components/render/nixos.ts) and the modules that configure services.
# default.nix sets these options from the JSON, so a value of the wrong type,
# or a service the catalog does not have, fails the evaluation on the host
# with the option's name in the message.
#
# `homelab.services` has one option per host service of the catalog, read
# from generated/service-options.json: adding a service to the catalog
# declares its option, with no line here.
#
# What only one module reads is declared by that module, under
# homelab.<module>: knobs that are not catalog data (packages, the OTBR
# radio) and a service's own generated data (Transmission's schedule).
{ lib, ... }:
let
  inherit (lib) types;

  # Every enabled host service of the whole catalog, this stack's or not: a
  # module reads `enable` of its service either way.
  catalog = (lib.importJSON ../generated/service-options.json).services;

  # Secret files are absolute paths kept as strings: a Nix path literal would
  # copy the file into the world-readable store. Only the path is ever here.
  absolutePath = types.strMatching "/.+";

  # One catalog entry as the modules see it. `binds` is 127.0.0.1 alone for
  # a service the catalog keeps on loopback: no override opens it to the LAN.
  serviceOption =
    { title, binds }:
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
            type = types.nullOr (types.enum binds);
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

  services = lib.mapAttrs (_: serviceOption) catalog;
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
