# Check generated data against the `homelab` option declarations of the
# bundle's modules without nixpkgs: modules/options.nix (whose service
# options come from generated/service-options.json) and the options each
# module declares for itself (homelab.transmission.schedule). The stub lib
# records each mkOption and gives each type nixpkgs' check, and checkTree
# walks the data through the declarations, listing every problem: a value
# of the wrong type, a key no option declares (the module system's "option
# does not exist"), a required option left out.
#
#   nix-instantiate --store dummy:// --eval --strict --json test/nixos/typecheck.nix \
#     --arg bundle /abs/bundle --arg data /abs/bundle/generated/homelab.json
#
# Result: { errors = [ "homelab.services.x.port: ..." ]; checked = <n>; }
{ bundle, data }:
let
  b = builtins;
  stub = import ./stub-lib.nix;
  names = b.filter (n: b.match ".+\\.nix" n != null) (b.attrNames (b.readDir (bundle + "/modules")));
  # Only the declarations are read, so the modules get no config or packages:
  # an option default that reads them is never evaluated here.
  load =
    n:
    import (bundle + "/modules/${n}") {
      inherit (stub) lib;
      config = throw "typecheck.nix reads declarations only";
      pkgs = throw "typecheck.nix reads declarations only";
      options = { };
      utils = { };
    };
  declared = stub.mergeDecls (map (n: (load n).options or { }) names);
  json = b.removeAttrs (b.fromJSON (b.readFile data)) [ "_generated" ];
  countLeaves = v: if b.isAttrs v then b.foldl' (n: k: n + countLeaves v.${k}) 0 (b.attrNames v) else 1;
in
{
  errors = stub.checkTree "homelab" declared.homelab json;
  checked = countLeaves json;
}
