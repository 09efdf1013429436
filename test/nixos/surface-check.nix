# The option surface, evaluated: every value the modules set under
# `services` (with the stub lib, from the generated data) must sit at a path
# test/nixos/option-surface.json records, and must pass the nixpkgs type the
# record gives it. A path nobody recorded, or a generated value nixpkgs'
# type would reject, is reported here instead of on the host.
#
#   nix-instantiate --store dummy:// --eval --strict --json test/nixos/surface-check.nix \
#     --argstr bundle /abs/bundle --arg record ./test/nixos/option-surface.json [--arg overrides '{...}']
#
# Result: { unrecorded = [ "services.x.y" ]; errors = [ "services.x.y: ..." ]; checked = <n>; }
{
  bundle,
  record,
  # Values laid over the evaluated `services`, for tests of the checker.
  overrides ? { },
}:
let
  b = builtins;
  stub = import ./stub-lib.nix;
  inherit (stub.lib) types;
  evaluated = import ./eval-modules.nix {
    inherit bundle;
    withSshMcp = true;
  };
  surface = (b.fromJSON (b.readFile record)).options;

  # The record's type names, as nixpkgs' checks (a freeform YAML value or
  # an attribute set of submodules is "attrs": any value).
  any = {
    _type = "option-type";
    kind = "leaf";
    name = "value";
    pred = _: true;
  };
  path = {
    _type = "option-type";
    kind = "leaf";
    name = "absolute path";
    pred = v: b.isString v && b.substring 0 1 v == "/";
  };
  typeOf = {
    bool = types.bool;
    str = types.str;
    int = types.int;
    port = types.port;
    inherit path;
    package = types.package;
    attrs = any;
    "listOf str" = types.listOf types.str;
    "listOf package" = types.listOf types.package;
    "listOf attrs" = types.listOf any;
    "nullOr path" = types.nullOr path;
    "nullOr str" = types.nullOr types.str;
    "nullOr int" = types.nullOr types.int;
  };

  check =
    name: t: v:
    if t.kind == "leaf" then
      (if t.pred v then [ ] else [ "${name}: ${b.toJSON v} is not a ${t.name}" ])
    else if t.kind == "nullOr" then
      (if v == null then [ ] else check name t.elem v)
    else if t.kind == "list" then
      (
        if b.isList v then
          b.concatLists (map (x: check name t.elem x) v)
        else
          [ "${name}: ${b.toJSON v} is not a ${t.name}" ]
      )
    else
      throw "surface-check: unsupported type ${t.name}";

  isDerivation = v: b.isAttrs v && (v.type or null) == "derivation";

  # Descend until a recorded path; a leaf reached without one is unrecorded.
  walk =
    prefix: v:
    if surface ? ${prefix} then
      let
        entry = surface.${prefix};
      in
      if typeOf ? ${entry.type} then
        {
          checked = [ prefix ];
          errors = check prefix typeOf.${entry.type} v;
          unrecorded = [ ];
        }
      else
        throw "surface-check: ${prefix} has type ${entry.type}, which surface-check.nix does not know"
    else if b.isAttrs v && !isDerivation v then
      let
        parts = map (k: walk "${prefix}.${k}" v.${k}) (b.attrNames v);
      in
      {
        checked = b.concatLists (map (p: p.checked) parts);
        errors = b.concatLists (map (p: p.errors) parts);
        unrecorded = b.concatLists (map (p: p.unrecorded) parts);
      }
    else
      {
        checked = [ ];
        errors = [ ];
        unrecorded = [ prefix ];
      };

  services = b.foldl' (acc: name: acc // { ${name} = (acc.${name} or { }) // overrides.${name}; }) evaluated.config.services (
    b.attrNames overrides
  );
  result = walk "services" services;
in
{
  inherit (result) unrecorded errors;
  checked = b.length result.checked;
}
