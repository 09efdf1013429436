# The Homelab SSH MCP endpoint: loopback only (127.0.0.1:19000), never
# routed, never opened in the firewall (the Core & Portal page). nixpkgs
# packages no SSH MCP server, so the host names one:
#
#   homelab.sshMcp.package = pkgs.callPackage ./ssh-mcp.nix { };
#
# The unit passes the address as --host/--port and as HOST/PORT; adjust
# `args` to the server's own flags if they differ.
{
  config,
  lib,
  utils,
  ...
}:
let
  cfg = config.homelab.services.ssh-mcp;
  opts = config.homelab.sshMcp;
  hardening = import ../lib/hardening.nix;
in
{
  options.homelab.sshMcp = {
    package = lib.mkOption {
      type = lib.types.nullOr lib.types.package;
      default = null;
      description = "The SSH MCP server; its main program is started. Required when the catalog enables ssh-mcp.";
    };
    args = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [
        "--host"
        cfg.bind
        "--port"
        (toString cfg.port)
      ];
      defaultText = lib.literalExpression ''[ "--host" "127.0.0.1" "--port" "19000" ]'';
      description = "Arguments of the server, which must listen on the catalog's loopback address and port.";
    };
    environment = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      description = "Extra environment of the server (not for secrets: use `credentials`).";
    };
    credentials = lib.mkOption {
      type = lib.types.attrsOf (lib.types.strMatching "/.+");
      default = { };
      example = {
        ssh-key = "/var/lib/homelab/secrets/ssh-mcp/ssh-key";
      };
      description = "Files handed to the server as systemd credentials, readable under $CREDENTIALS_DIRECTORY/<name>.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = opts.package != null;
        message = "homelab.sshMcp.package is unset: nixpkgs has no SSH MCP server, so set it in configuration.nix, or leave ssh-mcp out of homelab:services.";
      }
      {
        assertion = cfg.bind == "127.0.0.1" && cfg.port != null;
        message = "homelab: the SSH MCP endpoint must listen on 127.0.0.1 with a port (the catalog has ${toString cfg.bind}:${toString cfg.port}).";
      }
    ];

    systemd.services.homelab-ssh-mcp = {
      description = "Homelab SSH MCP endpoint (loopback only)";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      environment = {
        HOST = cfg.bind;
        PORT = toString cfg.port;
      }
      // opts.environment;
      serviceConfig = hardening // {
        ExecStart = lib.mkIf (opts.package != null) (
          utils.escapeSystemdExecArgs ([ (lib.getExe opts.package) ] ++ opts.args)
        );
        DynamicUser = true;
        StateDirectory = "homelab-ssh-mcp";
        LoadCredential = lib.mapAttrsToList (name: path: "${name}:${path}") opts.credentials;
        Restart = "on-failure";
        RestartSec = 5;
        # It may only listen on its own port.
        SocketBindAllow = [ "tcp:${toString cfg.port}" ];
        SocketBindDeny = "any";
      };
    };
  };
}
