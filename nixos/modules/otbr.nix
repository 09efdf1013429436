# The OpenThread Border Router for Thread and Matter devices, with its web
# UI on the catalog's port. The radio is hardware, so the host's
# configuration.nix sets it, for example:
#
#   services.openthread-border-router.radio.device = "/dev/serial/by-id/usb-...";
#   services.openthread-border-router.backboneInterfaces = [ "enp1s0" ];
#
# (nixpkgs asserts that a radio is set.)
{ config, lib, ... }:
let
  cfg = config.homelab.services.otbr;
in
{
  config = lib.mkIf cfg.enable {
    services.openthread-border-router = {
      enable = true;
      web = {
        enable = true;
        listenAddress = cfg.bind;
        listenPort = cfg.port;
      };
      # The REST API (8081, which the web UI expects) stays on loopback:
      # Home Assistant's otbr integration runs on the same host.
      rest.listenAddress = lib.mkDefault "127.0.0.1";
    };
  };
}
