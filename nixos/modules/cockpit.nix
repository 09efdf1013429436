# Cockpit, host administration in the browser, on the catalog's port.
#
# Its login is the host's own accounts, root-capable, so the password must
# never cross the LAN in clear text. Cockpit answers HTTP and HTTPS on the
# same port with a self-signed certificate it makes on first start, and
# redirects plain HTTP to HTTPS except from the host itself
# (https://cockpit-project.org/guide/latest/https.html). So:
#   - the owner's Local link, http://<lanAddress>:9090, lands on
#     https://<lanAddress>:9090 (the browser asks once to trust the
#     certificate);
#   - the public route comes through nginx on 127.0.0.1, which Cockpit
#     lets through on plain HTTP; TLS for it ends at Cloudflare, and
#     X-Forwarded-Proto tells Cockpit the browser's side was HTTPS.
# Cockpit's switch to serve the login over plain HTTP on the LAN is never
# set.
{ config, lib, ... }:
let
  cfg = config.homelab.services.cockpit;
  lan = config.homelab.lan;
  lanOrigin = address: "https://${address}:${toString cfg.port}";
in
{
  config = lib.mkIf cfg.enable {
    services.cockpit = {
      enable = true;
      port = cfg.port;
      # Cockpit refuses WebSocket connections from origins it does not
      # know: the LAN address and the mDNS name, both over HTTPS after the
      # redirect, and the public route.
      allowed-origins = lib.filter (origin: origin != null) [
        (lanOrigin lan.address)
        (lanOrigin "${lan.hostName}.${lan.domain}")
        cfg.publicUrl
      ];
      settings.WebService = {
        ProtocolHeader = "X-Forwarded-Proto";
      };
    };
  };
}
