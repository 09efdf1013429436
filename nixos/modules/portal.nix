# The portal: nginx on the portal's port (80) in front of the Homepage
# dashboard and of every routed service, the Local/Remote link toggle, the
# local icons and the NixOS favicon.
#
# Everything specific to the home lab is generated from the catalog by
# components/render/portal.ts into the bundle:
#   generated/nginx-sites.conf  nginx server blocks, with @...@ placeholders
#   generated/homepage.json     Homepage's settings, services and widgets
#   generated/portal.json       what each favicon is drawn from, and its size
#   generated/custom.js         the link map followed by assets/toggle.js
#   assets/icons/               every card's icon, copied from the npm icon sets,
#                               the favicon sources and LICENSES.md
#   assets/site.webmanifest
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.homelab.portal;

  homepage = lib.importJSON (cfg.generatedDir + "/homepage.json");
  portal = lib.importJSON (cfg.generatedDir + "/portal.json");

  # Nothing here is secret, so copying into the store is fine.
  icons = builtins.path {
    path = cfg.assetsDir + "/icons";
    name = "homelab-icons";
  };
  webmanifest = builtins.path {
    path = cfg.assetsDir + "/site.webmanifest";
    name = "homelab-site.webmanifest";
  };
  customJs = builtins.path {
    path = cfg.generatedDir + "/custom.js";
    name = "homelab-custom.js";
  };

  # The favicons are the portal's icon (the NixOS snowflake) rendered at
  # each size Homepage's page and PWA installs ask for; the Apple touch icon
  # from the same icon on an opaque square (f.source says which SVG).
  favicons = pkgs.runCommand "homelab-favicons" { nativeBuildInputs = [ pkgs.librsvg ]; } ''
    mkdir -p $out
    ${lib.concatMapStringsSep "\n" (
      f: "rsvg-convert -w ${toString f.size} -h ${toString f.size} ${icons}/${f.source} -o $out/${f.file}"
    ) portal.favicons}
  '';

  sites =
    builtins.replaceStrings
      [ "@iconsDir@" "@faviconsDir@" "@customJs@" "@webmanifest@" ]
      [ "${icons}" "${favicons}" "${customJs}" "${webmanifest}" ]
      (builtins.readFile (cfg.generatedDir + "/nginx-sites.conf"));

  # Homepage substitutes {{HOMEPAGE_VAR_X}} in its config from its environment.
  # The secret files are root-only, and Homepage runs as a DynamicUser, so a
  # privileged ExecStartPre ("+") copies each value into a root-only
  # environment file that systemd reads for the main process. The values never
  # enter the store or the YAML.
  secretEnvDir = "/run/homelab-portal";
  secretEnvFile = "${secretEnvDir}/homepage.env";
  writeSecretEnv = pkgs.writeShellScript "homepage-dashboard-secret-env" ''
    set -euo pipefail
    umask 077
    mkdir -p ${secretEnvDir}
    tmp=$(mktemp ${secretEnvDir}/.homepage.env.XXXXXX)
    ${lib.concatStringsSep "\n" (
      lib.mapAttrsToList (name: path: ''
        if [ -r ${lib.escapeShellArg path} ]; then
          value=$(tr -d '\r\n' < ${lib.escapeShellArg path})
          case "$value" in
            "" | *[!A-Za-z0-9._~+/=-]*)
              echo "homepage: ${path} is empty or holds characters an environment file cannot carry; ${name} left unset" >&2 ;;
            *) printf '%s=%s\n' ${name} "$value" >> "$tmp" ;;
          esac
        else
          echo "homepage: ${path} is missing; ${name} left unset, so its widget shows an error" >&2
        fi
      '') homepage.secretEnv
    )}
    mv -f "$tmp" ${secretEnvFile}
  '';
  hasSecrets = homepage.secretEnv != { };

  # systemd counts ExecStartPost in the unit's start timeout: a step that
  # outlasts it fails the start, and with it the deploy's health check and
  # the switch. So the revalidation below has a hard budget well inside the
  # timeout: curl starts no new attempt after `revalidate.window` seconds,
  # gives each attempt `revalidate.attempt`, and `timeout` ends whatever is
  # left at `revalidate.budget`.
  startTimeoutSeconds = 120;
  revalidate = rec {
    attempt = 5;
    window = 45;
    budget = window + attempt + 5;
  };
in
{
  options.homelab.portal = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = config.homelab.services.portal.enable;
      defaultText = lib.literalExpression "config.homelab.services.portal.enable";
      description = "Whether to run the portal: nginx in front of Homepage and the routed services. On when the catalog runs the portal in this stack.";
    };
    generatedDir = lib.mkOption {
      type = lib.types.path;
      default = ../generated;
      description = "Folder of the bundle's generated files (nginx-sites.conf, homepage.json, portal.json, custom.js).";
    };
    assetsDir = lib.mkOption {
      type = lib.types.path;
      default = ../assets;
      description = "Folder of the bundle's static assets (icons/, site.webmanifest).";
    };
  };

  config = lib.mkIf cfg.enable {
    services.nginx = {
      enable = true;
      # Public names such as home-assistant-home.example.com outgrow the
      # default bucket on some CPUs, and nginx then refuses to start.
      serverNamesHashBucketSize = lib.mkDefault 64;
      appendHttpConfig = sites;
      # The generated server blocks are the whole site. Defining no virtual
      # host here drops the module's default "localhost" one, which would
      # otherwise answer the portal's localhost name.
      virtualHosts = { };
    };

    services.homepage-dashboard = {
      enable = true;
      inherit (homepage) listenPort settings services widgets;
    };

    systemd.services.homepage-dashboard = {
      environment = {
        # Names nginx passes as Host. mkForce: newer nixpkgs sets the same
        # variable from its own allowedHosts option, older ones not at all.
        HOMEPAGE_ALLOWED_HOSTS = lib.mkForce homepage.allowedHosts;
        # Next.js binds to HOSTNAME; the catalog keeps the dashboard on loopback.
        HOSTNAME = homepage.listenAddress;
      };
      serviceConfig = lib.mkMerge [
        {
          # nixpkgs' package only moves Next.js's prerender cache to a
          # writable directory (its preBuild patch of file-system-cache.js);
          # nothing regenerates the page, so the first visitor got the page
          # prerendered at build time, without this configuration, until
          # /api/revalidate was called. Calling it once the server answers
          # fixes the first render; Homepage always accepts 127.0.0.1:<port>
          # as a Host. "-": a failed revalidation leaves a stale first page,
          # not worth failing the unit (and rolling back a deploy) over.
          ExecStartPost = [
            "-${pkgs.coreutils}/bin/timeout ${toString revalidate.budget} ${pkgs.curl}/bin/curl --silent --show-error --fail --output /dev/null --retry ${toString revalidate.window} --retry-delay 1 --retry-connrefused --retry-max-time ${toString revalidate.window} --max-time ${toString revalidate.attempt} http://127.0.0.1:${toString homepage.listenPort}/api/revalidate"
          ];
          TimeoutStartSec = startTimeoutSeconds;
        }
        (lib.mkIf hasSecrets {
          # Set on the unit, not through the module's option: that is
          # environmentFile (a string) on NixOS 25.11 and environmentFiles (a
          # list of paths, which "-/run/..." is not) on nixos-unstable. A list
          # here merges with whatever the module sets, on either release;
          # mkAfter puts it after 25.11's default "", an empty
          # EnvironmentFile= that would otherwise reset it.
          # "-": the file does not exist yet when systemd prepares ExecStartPre.
          EnvironmentFile = lib.mkAfter [ "-${secretEnvFile}" ];
          ExecStartPre = [ "+${writeSecretEnv}" ];
          ExecStopPost = [ "+${pkgs.coreutils}/bin/rm -f ${secretEnvFile}" ];
        })
      ];
    };

    # Port 80 is opened by modules/base.nix, like every LAN-bound service's.
  };
}
