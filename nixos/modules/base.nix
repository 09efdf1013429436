# What every homelab host gets: the firewall openings of the catalog's
# LAN-bound services, the stack's time zone, and the checks that tie the
# catalog to the modules (every unit the catalog names exists, nothing
# loopback-only is opened).
{ config, lib, ... }:
let
  cfg = config.homelab;

  enabled = lib.filterAttrs (_: s: s.enable) cfg.services;

  # The dashboard's Local mode links straight to <lanAddress>:<port>, so a
  # LAN-bound (0.0.0.0) listener is opened; loopback ones never are. The
  # tunnel itself needs no inbound port: cloudflared dials out.
  openPorts = lib.mapAttrsToList (_: s: s.port) (
    lib.filterAttrs (_: s: s.openFirewall && s.port != null) enabled
  );

  unitExists =
    unit:
    let
      match = builtins.match "(.+)\\.(service|socket|timer|target)" unit;
      name = builtins.elemAt match 0;
      kind = builtins.elemAt match 1;
      defined = {
        service = config.systemd.services;
        socket = config.systemd.sockets;
        timer = config.systemd.timers;
        target = config.systemd.targets;
      };
    in
    match != null && defined.${kind} ? ${name};
in
{
  config = {
    time.timeZone = lib.mkDefault cfg.timeZone;

    networking.firewall.allowedTCPPorts = openPorts;

    assertions =
      lib.concatLists (
        lib.mapAttrsToList (
          id: s:
          map (unit: {
            assertion = unitExists unit;
            message = "homelab: the catalog says ${id} runs as ${unit}, but no NixOS module defines that unit. Add it to the module for ${id}, or fix `units` in components/catalog/services.ts.";
          }) s.units
        ) enabled
      )
      ++ lib.mapAttrsToList (id: s: {
        assertion = !(lib.elem s.port config.networking.firewall.allowedTCPPorts);
        message = "homelab: ${id} binds 127.0.0.1 and must never be reachable from outside, but port ${toString s.port} is open in networking.firewall.allowedTCPPorts.";
      }) (lib.filterAttrs (_: s: s.bind == "127.0.0.1" && s.port != null) enabled);
  };
}
