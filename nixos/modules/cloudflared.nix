# The Cloudflare Tunnel connector, as a native systemd service for a
# remotely managed tunnel: the program creates the tunnel and its ingress
# rules through the Cloudflare API, and the host only runs the connector
# with the tunnel token. It dials out, so no inbound port is opened.
#
# nixpkgs' services.cloudflared is built for locally managed tunnels
# (credentials JSON + local ingress), hence this small unit instead.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.homelab.services.cloudflared;
  opts = config.homelab.cloudflared;
  hardening = import ../lib/hardening.nix;
in
{
  options.homelab.cloudflared = {
    package = lib.mkPackageOption pkgs "cloudflared" { };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        # `tunnel run --token-file` appeared in cloudflared 2025.4.0
        # (https://github.com/cloudflare/cloudflare-docs/pull/21697).
        assertion = lib.versionAtLeast (lib.getVersion opts.package) "2025.4.0";
        message = "homelab.cloudflared.package is ${lib.getVersion opts.package}; the tunnel needs cloudflared 2025.4.0 or later for --token-file.";
      }
      {
        assertion = cfg.secrets ? tunnel-token;
        message = "homelab: the cloudflared catalog entry has no tunnel-token secret.";
      }
    ];

    systemd.services.cloudflared-tunnel = {
      description = "Cloudflare Tunnel connector (remotely managed)";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      serviceConfig = hardening // {
        # The token file is root-only; systemd hands a copy to the unit's
        # private credentials directory (%d), never on the command line.
        LoadCredential = [ "tunnel-token:${cfg.secrets.tunnel-token}" ];
        ExecStart = "${lib.getExe opts.package} tunnel --no-autoupdate run --token-file %d/tunnel-token";
        DynamicUser = true;
        Restart = "on-failure";
        RestartSec = 5;
        # QUIC to the edge, plus netlink for interface discovery.
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
          "AF_NETLINK"
        ];
        MemoryDenyWriteExecute = true;
      };
    };
  };
}
