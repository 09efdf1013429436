# The OpenThread Border Router for Thread and Matter devices, with its web
# UI on the catalog's port. The radio is hardware, so the host's
# configuration.nix sets it, for example:
#
#   services.openthread-border-router.radio.device = "/dev/serial/by-id/usb-...";
#
# nixpkgs defaults the radio to /dev/ttyUSB0, so a host that never set it
# evaluates, switches, and then otbr-agent fails and the deploy's health
# check rolls the switch back. The assertion below stops that at
# evaluation, before any switch: the radio must be set by the host (or a
# full radio.url given), not left at nixpkgs' default.
#
# services.openthread-border-router is in nixos-26.05 and nixos-unstable;
# NixOS 25.11 and older lack it. NixOS rejects a definition of an option that does not
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
  radioOptions = options.services.openthread-border-router.radio;
  # Option defaults carry priority 1500 (mkOptionDefault) and the module's
  # own radio.url is an mkDefault (1000): anything lower is the host's.
  radioSet = available && (radioOptions.device.highestPrio < 1500 || radioOptions.url.highestPrio < 1000);
in
{
  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        assertions = [
          {
            assertion = available;
            message = "homelab: the catalog enables otbr, but this nixpkgs has no services.openthread-border-router. Use nixos-26.05 or nixos-unstable, leave otbr out of homelab:services for this stack, or set homelab.services.otbr.enable = lib.mkForce false in configuration.nix.";
          }
          {
            assertion = !available || radioSet;
            message = ''homelab: the catalog enables otbr, but configuration.nix does not name its radio, and nixpkgs' default /dev/ttyUSB0 would fail after the switch. Add services.openthread-border-router.radio.device = "/dev/serial/by-id/<your radio>"; to /etc/nixos/configuration.nix.'';
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
