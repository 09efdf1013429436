# Cockpit, host administration in the browser, on the catalog's port.
{ config, lib, ... }:
let
  cfg = config.homelab.services.cockpit;
  lan = config.homelab.lan;
in
{
  config = lib.mkIf cfg.enable {
    services.cockpit = {
      enable = true;
      port = cfg.port;
      # Cockpit refuses WebSocket connections from origins it does not
      # know: the LAN address, the mDNS name and the public route.
      allowed-origins = lib.filter (origin: origin != null) [
        cfg.localUrl
        "http://${lan.hostName}.${lan.domain}:${toString cfg.port}"
        cfg.publicUrl
      ];
      settings.WebService = {
        # Plain HTTP on the LAN like every other service; TLS for the
        # public route ends at Cloudflare, and nginx says so in the header.
        AllowUnencrypted = true;
        ProtocolHeader = "X-Forwarded-Proto";
      };
    };
  };
}
