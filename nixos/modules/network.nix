# LAN and tailnet reachability: Avahi publishes the host as
# <hostName>.<domain> (nixos.local) over mDNS, so the local aliases work
# without DNS; Tailscale carries the apps that cannot pass the Cloudflare
# Access login (Home Assistant's companion app, Jellyfin's apps), which use
# the host's tailnet address and the service's port.
{ config, lib, ... }:
let
  lan = config.homelab.lan;
  tailscale = config.homelab.services.tailscale;
in
{
  config = lib.mkMerge [
    {
      services.avahi = {
        enable = true;
        hostName = lan.hostName;
        domainName = lan.domain;
        # Resolve other .local names from this host too.
        nssmdns4 = true;
        # mDNS is UDP 5353 on the LAN.
        openFirewall = true;
        publish = {
          enable = true;
          addresses = true;
        };
      };
    }

    (lib.mkIf tailscale.enable {
      assertions = [
        {
          assertion = tailscale.secrets ? auth-key;
          message = "homelab: the tailscale catalog entry has no auth-key secret.";
        }
      ];
      services.tailscale = {
        enable = true;
        # Read by root in tailscaled-autoconnect.service on first login only.
        authKeyFile = tailscale.secrets.auth-key;
        # The WireGuard port, for direct connections instead of relays.
        openFirewall = true;
      };
    })
  ];
}
