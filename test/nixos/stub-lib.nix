# A stand-in for the parts of nixpkgs' `lib` the homelab modules use, for
# tests that run without nixpkgs (it cannot be fetched here). Options are
# recorded, types carry nixpkgs' checks, and mkIf / mkMerge / mkDefault
# keep their meaning: a definition under a false mkIf disappears, lists
# from several modules concatenate, a higher priority wins.
#
# This is a test double, not a module system: no option merging by type,
# no submodule fixpoints beyond what `fill` does.
let
  b = builtins;

  leaf = name: pred: {
    _type = "option-type";
    kind = "leaf";
    inherit name pred;
  };
  wrap = kind: name: t: {
    _type = "option-type";
    inherit kind name;
    elem = t;
  };

  types = {
    bool = leaf "boolean" b.isBool;
    str = leaf "string" b.isString;
    int = leaf "signed integer" b.isInt;
    port = leaf "16 bit unsigned integer" (v: b.isInt v && v >= 0 && v <= 65535);
    package = leaf "package" (v: b.isAttrs v && (v.type or null) == "derivation");
    ints = {
      unsigned = leaf "unsigned integer" (v: b.isInt v && v >= 0);
      between = lo: hi: leaf "integer between ${toString lo} and ${toString hi}" (v: b.isInt v && v >= lo && v <= hi);
    };
    # nixpkgs' strMatching is builtins.match on the whole string, as here.
    strMatching = re: leaf "string matching the pattern ${re}" (v: b.isString v && b.match re v != null);
    enum = values: leaf "one of ${b.toJSON values}" (v: b.elem v values);
    nullOr = t: wrap "nullOr" "null or ${t.name}" t;
    listOf = t: wrap "list" "list of ${t.name}" t;
    attrsOf = t: wrap "attrs" "attribute set of ${t.name}" t;
    # `m` is a module: an attribute set with `options`, or a function of
    # { name, config, ... } returning one.
    submodule = m: {
      _type = "option-type";
      kind = "submodule";
      name = "submodule";
      module = m;
    };
  };

  submoduleOptions = t: name: config: (if b.isFunction t.module then t.module { inherit name config lib; } else t.module).options;

  isOption = d: b.isAttrs d && (d._type or null) == "option";

  # Module properties, as lib/modules.nix represents them.
  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };

  lowerChars = b.genList (i: b.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26;
  upperChars = b.genList (i: b.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26;

  escapeShellArg = arg: "'${b.replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";

  lib = {
    inherit
      types
      mkIf
      mkMerge
      mkOverride
      escapeShellArg
      ;
    mkDefault = mkOverride 1000;
    mkForce = mkOverride 50;
    mkAfter = content: {
      _type = "order";
      priority = 1500;
      inherit content;
    };
    mkOption = args: args // { _type = "option"; };
    mkEnableOption = what: {
      _type = "option";
      type = types.bool;
      default = false;
      description = "Whether to enable ${what}.";
    };
    mkPackageOption = pkgs: name: _: {
      _type = "option";
      type = types.package;
      default = pkgs.${name};
    };
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    licenses.mit = "mit";

    importJSON = path: b.fromJSON (b.readFile path);
    getExe = p: "${p}/bin/${p.meta.mainProgram or p.pname or p.name}";
    getVersion = p: p.version;
    versionAtLeast = v1: v2: b.compareVersions v1 v2 >= 0;
    escapeShellArgs = args: b.concatStringsSep " " (map escapeShellArg args);
    toUpper = b.replaceStrings lowerChars upperChars;
    nameValuePair = name: value: { inherit name value; };
    "mapAttrs'" = f: set: b.listToAttrs (map (n: f n set.${n}) (b.attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (b.attrNames set);
    filterAttrs = pred: set: b.removeAttrs set (b.filter (n: !(pred n set.${n})) (b.attrNames set));
    optional = cond: x: if cond then [ x ] else [ ];
    optionalAttrs = cond: set: if cond then set else { };
    head = b.head;
    inherit (b)
      all
      attrNames
      concatLists
      concatStringsSep
      elem
      filter
      mapAttrs
      replaceStrings
      ;
  };

  # --- evaluating definitions ---------------------------------------------

  isPlainAttrs = v: b.isAttrs v && !(v ? _type) && (v.type or null) != "derivation";

  # One definition into a list of { prio, value }, properties resolved at
  # this level: mkIf conditions are evaluated, mkMerge flattened.
  expand =
    prio: d:
    if !b.isAttrs d then
      [ { inherit prio; value = d; } ]
    else if (d._type or null) == "if" then
      (if d.condition then expand prio d.content else [ ])
    else if (d._type or null) == "merge" then
      b.concatLists (map (expand prio) d.contents)
    else if (d._type or null) == "override" then
      expand d.priority d.content
    else if (d._type or null) == "order" then
      expand prio d.content
    else
      [ { inherit prio; value = d; } ];

  absent = {
    _type = "absent";
  };

  # The value at one location from all its definitions; `absent` when every
  # definition sits under a false mkIf. Attribute sets merge per attribute;
  # otherwise the best priority wins and lists concatenate.
  mergeDefs =
    defs:
    let
      expanded = b.concatLists (map (expand 100) defs);
      best = b.foldl' (m: x: if x.prio < m then x.prio else m) 10000 expanded;
      chosen = map (x: x.value) (b.filter (x: x.prio == best) expanded);
    in
    if expanded == [ ] then
      absent
    else if b.all (x: isPlainAttrs x.value) expanded then
      let
        names = b.attrNames (b.foldl' (acc: x: acc // x.value) { } expanded);
        merged = b.listToAttrs (
          map (n: {
            name = n;
            value = mergeDefs (b.concatLists (map (x: if x.value ? ${n} then [ x.value.${n} ] else [ ]) expanded));
          }) names
        );
      in
      b.removeAttrs merged (b.filter (n: (merged.${n}._type or null) == "absent") names)
    else if b.all b.isList chosen then
      b.concatLists chosen
    else
      b.head chosen;

  # Every raw definition found at `path`, looking through properties
  # without evaluating mkIf conditions (what the module system's
  # pushDownProperties allows): for names that must be known before
  # conditions can be.
  peek =
    path: d:
    if path == [ ] then
      [ d ]
    else if !b.isAttrs d then
      [ ]
    else if b.elem (d._type or null) [ "if" "override" "order" ] then
      peek path d.content
    else if (d._type or null) == "merge" then
      b.concatLists (map (peek path) d.contents)
    else if d ? ${b.head path} then
      peek (b.tail path) d.${b.head path}
    else
      [ ];

  # --- option declarations -------------------------------------------------

  # Values for a namespace of declarations: the given value where there is
  # one, the option's default otherwise; submodules recursively.
  fill =
    decls: value:
    b.mapAttrs (
      k: d:
      if isOption d then
        fillValue d.type k (if value ? ${k} then value.${k} else d.default or (throw "option ${k} is used but not defined"))
      else
        fill d (value.${k} or { })
    ) decls;

  fillValue =
    t: name: v:
    if (t.kind or null) == "submodule" then
      let
        config = fill (submoduleOptions t name config) v;
      in
      config
    else if (t.kind or null) == "attrs" && (t.elem.kind or null) == "submodule" then
      b.mapAttrs (n: x: fillValue t.elem n x) v
    else if (t.kind or null) == "nullOr" && v != null then
      fillValue t.elem name v
    else
      v;

  concatMapAttrs = f: set: b.concatLists (map (k: f k set.${k}) (b.attrNames set));

  # Problems of `v` against a namespace of declarations: wrong types, keys
  # no option declares, required options missing.
  checkTree =
    path: decls: v:
    let
      unknown = b.filter (k: !(decls ? ${k})) (b.attrNames v);
      missing = b.filter (k: isOption decls.${k} && !(decls.${k} ? default) && !(v ? ${k})) (b.attrNames decls);
    in
    map (k: "${path}.${k}: the option does not exist") unknown
    ++ map (k: "${path}.${k}: used but not defined (no default, not in the data)") missing
    ++ concatMapAttrs (
      k: x:
      if !(decls ? ${k}) then
        [ ]
      else if isOption decls.${k} then
        checkValue "${path}.${k}" decls.${k}.type x
      else if b.isAttrs x then
        checkTree "${path}.${k}" decls.${k} x
      else
        [ "${path}.${k}: is a namespace of options, not a value" ]
    ) v;

  checkValue =
    path: t: v:
    if t.kind == "leaf" then
      (if t.pred v then [ ] else [ "${path}: ${b.toJSON v} is not a ${t.name}" ])
    else if t.kind == "nullOr" then
      (if v == null then [ ] else checkValue path t.elem v)
    else if t.kind == "list" then
      (
        if b.isList v then
          b.concatLists (b.genList (i: checkValue "${path}.${toString i}" t.elem (b.elemAt v i)) (b.length v))
        else
          [ "${path}: ${b.toJSON v} is not a ${t.name}" ]
      )
    else if t.kind == "attrs" then
      (if b.isAttrs v then concatMapAttrs (k: x: checkValue "${path}.${k}" t.elem x) v else [ "${path}: not a ${t.name}" ])
    else if t.kind == "submodule" then
      (
        if b.isAttrs v then
          checkTree path (submoduleOptions t (b.baseNameOf path) { }) v
        else
          [ "${path}: ${b.toJSON v} is not a submodule value" ]
      )
    else
      throw "stub-lib: unknown type kind ${t.kind} at ${path}";

  # Declarations of several modules, merged namespace by namespace.
  mergeDecls = b.foldl' (
    acc: d:
    acc
    // b.mapAttrs (k: v: if acc ? ${k} && !(isOption v) && !(isOption acc.${k}) then mergeDecls [ acc.${k} v ] else v) d
  ) { };
in
{
  inherit
    lib
    isOption
    mergeDefs
    peek
    fill
    checkTree
    mergeDecls
    ;
}
