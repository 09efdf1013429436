# The media stack: Jellyfin, and the Arr apps (Sonarr, Radarr, Prowlarr)
# with Jackett for the trackers Prowlarr lacks. Transmission has its own
# module (transmission.nix) for its schedule. Ports come from the catalog;
# modules/base.nix opens the LAN-bound ones.
{ config, lib, ... }:
let
  jellyfin = config.homelab.services.jellyfin;
  sonarr = config.homelab.services.sonarr;
  radarr = config.homelab.services.radarr;
  prowlarr = config.homelab.services.prowlarr;
  jackett = config.homelab.services.jackett;

  # The Servarr apps take "*" for every address.
  servarrBind = s: if s.bind == "127.0.0.1" then "127.0.0.1" else "*";

  servarr = s: {
    enable = true;
    settings.server = {
      port = s.port;
      bindaddress = servarrBind s;
    };
  };
in
{
  config = lib.mkMerge [
    (lib.mkIf jellyfin.enable {
      services.jellyfin.enable = true;
      assertions = [
        {
          # Jellyfin keeps its HTTP port in its own network.xml, not in a
          # NixOS option; 8096 is its default.
          assertion = jellyfin.port == 8096;
          message = "homelab: the catalog gives Jellyfin port ${toString jellyfin.port}, but NixOS cannot set it: change it in Jellyfin (Dashboard > Networking) and then here, or keep 8096.";
        }
      ];
      # Client discovery: the apps find the server on the LAN (SSDP, and
      # Jellyfin's own broadcast).
      networking.firewall.allowedUDPPorts = lib.mkIf jellyfin.openFirewall [
        1900
        7359
      ];
    })

    (lib.mkIf sonarr.enable { services.sonarr = servarr sonarr; })
    (lib.mkIf radarr.enable { services.radarr = servarr radarr; })
    (lib.mkIf prowlarr.enable { services.prowlarr = servarr prowlarr; })

    (lib.mkIf jackett.enable {
      services.jackett = {
        enable = true;
        port = jackett.port;
      };
    })
  ];
}
