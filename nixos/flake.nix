# The bundle as a flake, for a host whose own configuration is a flake
# (homelab:nixosFlake). It has no inputs: the host's flake supplies nixpkgs
# and everything else, and pins them in its own flake.lock. The host's flake
# takes this bundle as one input and imports its module:
#
#   inputs.homelab.url = "path:/etc/nixos/homelab";
#   modules = [ ./configuration.nix inputs.homelab.nixosModules.default ];
#
# Each deploy builds and switches with --override-input homelab
# path:<release>, so a new release reaches the host's flake without an edit
# to its lock file.
{
  description = "homelab: the NixOS modules generated from the service catalog";

  outputs =
    { self }:
    {
      nixosModules.default = ./default.nix;
    };
}
