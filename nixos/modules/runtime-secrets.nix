# Secret files in the shape a packaged unit wants. The deploy writes each
# secret as a plain root-owned file; some nixpkgs modules instead take an
# EnvironmentFile (restic's B2 keys, LiteLLM's API keys) or a JSON file
# (Transmission's rpc-password). Each entry here gets a small root oneshot,
# homelab-secrets-<name>.service, that renders the file into a private
# runtime directory (/run/homelab-secrets/<name>, mode 0700) right before
# the units that read it.
#
# The renderer does not stay active (no RemainAfterExit): it exits once the
# file is written, so every start or restart of a reader, which pulls it in
# through Requires=, runs it again and re-reads the secret files. A rotated
# secret therefore reaches a long-running reader on the restart the deploy
# does, and a timer-started oneshot reader (restic's backup) on its next
# run. RuntimeDirectoryPreserve keeps the file once the renderer has exited
# (until the next render or a reboot).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) types;
  cfg = config.homelab.runtimeSecrets;
  hardening = import ../lib/hardening.nix;
  root = "/run/homelab-secrets";

  renderer = pkgs.writeShellApplication {
    name = "render-secret-file";
    runtimeInputs = [
      pkgs.jq
      pkgs.coreutils
    ];
    text = builtins.readFile ../scripts/render-secret-file.sh;
  };

  entryModule =
    { name, config, ... }:
    {
      options = {
        format = lib.mkOption {
          type = types.enum [
            "env"
            "json"
          ];
          default = "env";
          description = "env: NAME=\"value\" lines for EnvironmentFile=; json: an object of name to value.";
        };
        values = lib.mkOption {
          type = types.attrsOf (types.strMatching "/.+");
          description = "Variable (env) or key (json) name to the absolute path of the secret file holding its value.";
          example = {
            B2_ACCOUNT_ID = "/var/lib/homelab/secrets/backrest/b2-account-id";
          };
        };
        requiredBy = lib.mkOption {
          type = types.listOf types.str;
          description = "Units, with their suffix, that read the rendered file.";
        };
        atBoot = lib.mkOption {
          type = types.bool;
          default = false;
          description = ''
            Also render the file at boot, for readers outside systemd: a
            wrapper a person runs (restic's restic-<name>) sources the file
            from /run, which a reboot empties, and no unit start recreates
            it until the next timer run.
          '';
        };
        path = lib.mkOption {
          type = types.str;
          readOnly = true;
          default = "${root}/${name}/${name}.${config.format}";
          description = "Where the rendered file appears, rewritten before each start of a reader.";
        };
      };
    };
in
{
  options.homelab.runtimeSecrets = lib.mkOption {
    type = types.attrsOf (types.submodule entryModule);
    default = { };
    description = "Secret files rendered at runtime into the format a unit expects.";
  };

  config.systemd.services = lib.mapAttrs' (
    name: entry:
    lib.nameValuePair "homelab-secrets-${name}" {
      description = "Render the ${name} secret file for ${lib.concatStringsSep ", " entry.requiredBy}";
      before = entry.requiredBy;
      requiredBy = entry.requiredBy;
      wantedBy = lib.optional entry.atBoot "multi-user.target";
      partOf = entry.requiredBy;
      serviceConfig = hardening // {
        # Not RemainAfterExit: an active renderer would satisfy the next
        # start of its reader without running, and the reader would get
        # the file rendered at boot.
        Type = "oneshot";
        # Root without capabilities: systemd reads the root-only files into
        # the credentials directory, the script only reads that and writes
        # its own runtime directory.
        LoadCredential = lib.mapAttrsToList (key: path: "${key}:${path}") entry.values;
        RuntimeDirectory = "homelab-secrets/${name}";
        RuntimeDirectoryMode = "0700";
        # The readers start after the renderer has exited; without this
        # systemd would remove the directory, and the file, right then.
        RuntimeDirectoryPreserve = "yes";
        PrivateNetwork = true;
        RestrictAddressFamilies = "none";
        ExecStart = lib.escapeShellArgs (
          [
            (lib.getExe renderer)
            entry.format
            entry.path
          ]
          ++ lib.attrNames entry.values
        );
      };
    }
  ) cfg;
}
