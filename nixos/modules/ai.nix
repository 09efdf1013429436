# Local AI: Ollama (models on the host), LiteLLM (one OpenAI-compatible API
# in front of OpenAI, Anthropic and Ollama) and PicoClaw (a personal
# assistant). nixpkgs has modules for the first two; PicoClaw gets a small
# hardened unit of its own.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  ollama = config.homelab.services.ollama;
  litellm = config.homelab.services.litellm;
  picoclaw = config.homelab.services.picoclaw;
  opts = config.homelab.picoclaw;
  hardening = import ../lib/hardening.nix;

  # PicoClaw's home (config.json, workspace, sessions); the catalog backs it up.
  picoclawHome = "/var/lib/picoclaw";

  # Secret name in the catalog -> the variable LiteLLM reads.
  litellmEnv = {
    master-key = "LITELLM_MASTER_KEY";
    openai-api-key = "OPENAI_API_KEY";
    anthropic-api-key = "ANTHROPIC_API_KEY";
  };
in
{
  options.homelab.picoclaw = {
    package = lib.mkOption {
      type = lib.types.nullOr lib.types.package;
      default = pkgs.picoclaw or null;
      defaultText = lib.literalExpression "pkgs.picoclaw or null";
      description = "PicoClaw build; required when the catalog enables picoclaw and nixpkgs has none.";
    };
  };

  config = lib.mkMerge [
    (lib.mkIf ollama.enable {
      services.ollama = {
        enable = true;
        host = ollama.bind;
        port = ollama.port;
      };
    })

    (lib.mkIf litellm.enable {
      assertions = [
        {
          assertion = lib.all (name: litellm.secrets ? ${name}) (lib.attrNames litellmEnv);
          message = "homelab: LiteLLM needs the catalog secrets ${lib.concatStringsSep ", " (lib.attrNames litellmEnv)}.";
        }
      ];

      homelab.runtimeSecrets.litellm = {
        format = "env";
        values = lib.mapAttrs' (name: var: lib.nameValuePair var litellm.secrets.${name}) litellmEnv;
        requiredBy = [ "litellm.service" ];
      };

      services.litellm = {
        enable = true;
        host = litellm.bind;
        port = litellm.port;
        environmentFile = config.homelab.runtimeSecrets.litellm.path;
        settings = {
          general_settings.master_key = "os.environ/LITELLM_MASTER_KEY";
          # Every model of each provider, by its provider prefix.
          model_list = [
            {
              model_name = "openai/*";
              litellm_params = {
                model = "openai/*";
                api_key = "os.environ/OPENAI_API_KEY";
              };
            }
            {
              model_name = "anthropic/*";
              litellm_params = {
                model = "anthropic/*";
                api_key = "os.environ/ANTHROPIC_API_KEY";
              };
            }
          ]
          ++ lib.optional ollama.enable {
            model_name = "ollama/*";
            litellm_params = {
              model = "ollama/*";
              api_base = "http://127.0.0.1:${toString ollama.port}";
            };
          };
        };
      };
    })

    (lib.mkIf picoclaw.enable {
      assertions = [
        {
          assertion = opts.package != null;
          message = "homelab.picoclaw.package is unset and this nixpkgs has no pkgs.picoclaw: set it to a PicoClaw build in configuration.nix, or leave picoclaw out of homelab:services.";
        }
      ];

      # A fixed user rather than DynamicUser: the state directory is then
      # /var/lib/picoclaw itself, the path restic backs up, not a symlink
      # into /var/lib/private.
      users.users.picoclaw = {
        isSystemUser = true;
        group = "picoclaw";
        home = picoclawHome;
      };
      users.groups.picoclaw = { };

      # Two PicoClaw programs listen: the gateway (`picoclaw gateway`,
      # upstream default port 18790, /health and /ready) and upstream's
      # launcher web UI (`picoclaw-launcher`, fixed on 18800). The bundle
      # runs the gateway only, on the catalog's port (18800, the owner's
      # table) through PICOCLAW_GATEWAY_PORT; the launcher is not run, so
      # nothing else claims 18800. The catalog entry says the same.
      systemd.services.picoclaw = {
        description = "PicoClaw personal AI assistant";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        environment = {
          HOME = picoclawHome;
          PICOCLAW_HOME = picoclawHome;
          PICOCLAW_GATEWAY_HOST = picoclaw.bind;
          PICOCLAW_GATEWAY_PORT = toString picoclaw.port;
        };
        serviceConfig = hardening // {
          ExecStart = lib.mkIf (opts.package != null) "${lib.getExe opts.package} gateway";
          User = "picoclaw";
          Group = "picoclaw";
          StateDirectory = "picoclaw";
          StateDirectoryMode = "0700";
          WorkingDirectory = picoclawHome;
          Restart = "on-failure";
          RestartSec = 5;
        };
      };
    })
  ];
}
