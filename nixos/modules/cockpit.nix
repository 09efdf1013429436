# Cockpit, host administration in the browser, on the catalog's port.
#
# Its login is the host's own accounts, root-capable, so the password must
# never cross the LAN in clear text. Cockpit answers HTTP and HTTPS on the
# same port with a self-signed certificate it makes on first start, and
# redirects plain HTTP to HTTPS except from the host itself
# (https://cockpit-project.org/guide/latest/https.html). So:
#   - the catalog says scheme "https", so the Local link is
#     https://<lanAddress>:<port> (the browser asks once to trust the
#     certificate), and the owner's old http:// link is redirected there;
#   - the public route comes through nginx on 127.0.0.1, which Cockpit
#     lets through on plain HTTP; TLS for it ends at Cloudflare, and
#     X-Forwarded-Proto tells Cockpit the browser's side was HTTPS.
# Cockpit's switch to serve the login over plain HTTP on the LAN is never
# set.
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
      # know: the Local link, the same on the mDNS name, and the public route.
      allowed-origins = lib.filter (origin: origin != null) [
        cfg.localUrl
        (lib.replaceStrings [ lan.address ] [ "${lan.hostName}.${lan.domain}" ] cfg.localUrl)
        cfg.publicUrl
      ];
      settings.WebService = {
        ProtocolHeader = "X-Forwarded-Proto";
      };
    };
  };
}
