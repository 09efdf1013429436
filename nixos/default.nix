# The homelab NixOS bundle.
#
# `pulumi up` copies this directory to the host at the stack's
# `paths.bundleDir` (default /etc/nixos/homelab), with the data generated
# from the service catalog under generated/. The host's own
# /etc/nixos/configuration.nix imports it once and keeps only what is
# specific to the machine (hardware, boot, users, the OTBR radio):
#
#   { imports = [ ./hardware-configuration.nix ./homelab ]; }
#
# Every module under modules/ is imported; each configures only the
# services the catalog enables for this stack. Secrets are never in this
# bundle: the deploy writes them as root-owned files under
# /var/lib/homelab/secrets/<service>/<name> (the stack's `paths.secretsDir`)
# and the units read them at runtime.
{ lib, ... }:
let
  # Every *.nix file in modules/, in name order: adding a module is adding a file.
  moduleNames = builtins.filter (name: builtins.match ".+\\.nix" name != null) (
    builtins.attrNames (builtins.readDir ./modules)
  );

  # Written by components/render/nixos.ts. JSON has no comments, so the
  # "generated, do not edit" header is its `_generated` key, dropped here.
  data = lib.importJSON ./generated/homelab.json;
in
{
  imports = map (name: ./modules + "/${name}") moduleNames;

  # Setting the options (rather than reading the JSON in each module) makes
  # the option types in modules/options.nix check every generated value.
  config.homelab = builtins.removeAttrs data [ "_generated" ];
}
