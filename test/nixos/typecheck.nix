# Check generated data against the option declarations of
# nixos/modules/options.nix without nixpkgs: the stub lib records each
# mkOption and gives each type nixpkgs' check, and checkTree walks the data
# through the declarations, listing every problem: a value of the wrong
# type, a key no option declares (the module system's "option does not
# exist"), a required option left out.
#
#   nix-instantiate --store dummy:// --eval --strict --json test/nixos/typecheck.nix \
#     --arg options ./nixos/modules/options.nix --arg data ./generated/homelab.json
#
# Result: { errors = [ "homelab.services.x.port: ..." ]; checked = <n>; }
{ options, data }:
let
  b = builtins;
  stub = import ./stub-lib.nix;
  declared = (import options { inherit (stub) lib; }).options;
  json = b.removeAttrs (b.fromJSON (b.readFile data)) [ "_generated" ];
  countLeaves = v: if b.isAttrs v then b.foldl' (n: k: n + countLeaves v.${k}) 0 (b.attrNames v) else 1;
in
{
  errors = stub.checkTree "homelab" declared.homelab json;
  checked = countLeaves json;
}
