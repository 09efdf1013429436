# The OpenThread Border Router for Thread and Matter devices, with its web
# UI on the catalog's port. The radio is hardware, so the host's
# configuration.nix sets it, for example:
#
#   services.openthread-border-router.radio.device = "/dev/serial/by-id/usb-...";
#   services.openthread-border-router.backboneInterfaces = [ "enp1s0" ];
#
# (nixpkgs asserts that a radio is set.)
#
# services.openthread-border-router is on nixos-unstable only; NixOS 25.11
# does not have it. NixOS rejects a definition of an option that does not
# exist even under a false mkIf, so the definition is left out entirely
# (optionalAttrs on the raw attribute set) when the option is missing, and
# an assertion explains why instead.
{
  config,
  lib,
  options,
  ...
}:
let
  cfg = config.homelab.services.otbr;
  available = options.services ? openthread-border-router;
in
{
  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        assertions = [
          {
            assertion = available;
            message = "homelab: the catalog enables otbr, but this nixpkgs has no services.openthread-border-router (it needs nixos-unstable; NixOS 25.11 lacks it). Switch the host to nixos-unstable, leave otbr out of homelab:services for this stack, or set homelab.services.otbr.enable = lib.mkForce false in configuration.nix.";
          }
        ];
      }

      (lib.optionalAttrs available {
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
      })
    ]
  );
}
