# Evaluate the bundle's modules against its generated data with the stub
# lib and fake packages, so tests can look at the NixOS config they produce
# (units, timers, restic job, firewall, assertions) without nixpkgs.
# modules/portal.nix belongs to the portal and is left out.
#
#   nix-instantiate --store dummy:// --eval --strict --json test/nixos/eval-modules.nix \
#     --argstr bundle /abs/path/to/bundle [--arg withSshMcp true] [--arg withOtbrOption false]
#
# Result: { config = <resolved definitions>; failedAssertions = [ <message> ];
#           hacs = <the HACS component's build arguments> or null; }
{
  bundle,
  # Whether the host sets homelab.sshMcp.package (nixpkgs has no SSH MCP server).
  withSshMcp ? false,
  # Whether nixpkgs declares services.openthread-border-router (nixos-26.05
  # and nixos-unstable do, NixOS 25.11 does not).
  withOtbrOption ? true,
  # Whether the host's configuration.nix names the OTBR radio (a definition
  # at normal priority, 100) or leaves nixpkgs' default (priority 1500).
  withOtbrRadio ? true,
}:
let
  b = builtins;
  stub = import ./stub-lib.nix;
  inherit (stub) lib;

  pkg = name: {
    type = "derivation";
    inherit name;
    pname = name;
    version = "2025.9.1";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = name;
  };
  pkgs =
    b.listToAttrs (
      map (name: {
        inherit name;
        value = pkg name;
      }) [ "apacheHttpd" "backrest" "cloudflared" "coreutils" "jq" "mosquitto" "picoclaw" "restic" "ssh-mcp" "transmission_4" ]
    )
    // {
      # Only python3Packages: nixpkgs removed the `python` passthru
      # (NixOS/nixpkgs#526304), so a module still reading it fails here.
      home-assistant = pkg "home-assistant" // {
        python3Packages = {
          python.sitePackages = "lib/python3.13/site-packages";
          aiogithubapi = pkg "aiogithubapi";
          buildPythonPackage = args: pkg "${args.pname}-${args.version}" // { inherit args; };
          fetchPypi = args: pkg "${args.pname}-${args.version}-${args.python}-none-any.whl" // { inherit args; };
        };
      };
      writeText = name: _: pkg name;
      writeShellApplication = { name, text, ... }: pkg name // { inherit text; };
      fetchFromGitHub = args: pkg "source-${args.repo}" // { inherit args; };
      buildHomeAssistantComponent.override =
        overrides: args:
        pkg "${args.owner}-${args.domain}-${args.version}"
        // {
          inherit args;
          builtWith = overrides.home-assistant.name;
          isHomeAssistantComponent = true;
        };
    };
  utils.escapeSystemdExecArgs = args: b.concatStringsSep " " (map lib.escapeShellArg args);

  data = b.removeAttrs (b.fromJSON (b.readFile (bundle + "/generated/homelab.json"))) [ "_generated" ];

  names = b.filter (n: n != "portal.nix" && b.match ".+\\.nix" n != null) (
    b.attrNames (b.readDir (bundle + "/modules"))
  );
  # The option tree as far as the modules look at it (otbr.nix checks
  # whether nixpkgs has the OTBR module).
  # highestPrio is what lib/modules.nix reports for an option's winning
  # definition; otbr.nix reads it to tell the host's radio from the default.
  options.services =
    if withOtbrOption then
      {
        openthread-border-router.radio = {
          device.highestPrio = if withOtbrRadio then 100 else 1500;
          url.highestPrio = 1000;
        };
      }
    else
      { };
  load = n: config: import (bundle + "/modules/${n}") { inherit config lib options pkgs utils; };

  # Two steps, because the stub resolves mkIf eagerly: every module but
  # runtime-secrets.nix first, where a secret file's path is all that is
  # read (names and formats found without evaluating conditions, the path
  # from the module's own option default); then runtime-secrets.nix from
  # the entries those modules defined.
  others = map (n: load n config) (b.filter (n: n != "runtime-secrets.nix") names);
  definitions = map (m: m.config or { }) others;
  declared = stub.mergeDecls (map (m: m.options or { }) (others ++ [ (load "runtime-secrets.nix" config) ]));

  peekAll = path: b.concatLists (map (stub.peek path) definitions);
  secretEntries = b.mapAttrs (
    name: _:
    let
      formats = peekAll [ "homelab" "runtimeSecrets" name "format" ];
    in
    if formats == [ ] then { } else { format = b.head formats; }
  ) (b.foldl' (acc: x: acc // x) { } (peekAll [ "homelab" "runtimeSecrets" ]));
  secretPaths = (stub.fill { inherit (declared.homelab) runtimeSecrets; } { runtimeSecrets = secretEntries; }).runtimeSecrets;

  resultOthers = stub.mergeDefs definitions;
  secretsModule = load "runtime-secrets.nix" (
    config
    // {
      homelab = config.homelab // {
        runtimeSecrets =
          (stub.fill { inherit (declared.homelab) runtimeSecrets; } {
            runtimeSecrets = resultOthers.homelab.runtimeSecrets or { };
          }).runtimeSecrets;
      };
    }
  );
  result = stub.mergeDefs (definitions ++ [ secretsModule.config ]);

  knobs = if withSshMcp then { sshMcp.package = pkgs.ssh-mcp; } else { };

  enabled = name: result.services.${name}.enable or false;
  unitsIf = cond: units: if cond then units else [ ];
  toSet = units: b.listToAttrs (map (name: { inherit name; value = { }; }) units);

  # The units nixpkgs (and modules/portal.nix) define for what the modules
  # enable, so modules/base.nix can check the catalog's unit names.
  upstreamServices = toSet (
    b.filter enabled [ "home-assistant" "mosquitto" "jellyfin" "transmission" "sonarr" "radarr" "prowlarr" "jackett" "litellm" "ollama" ]
    ++ unitsIf ((result.services.tailscale.authKeyFile or null) != null) [ "tailscaled-autoconnect" ]
    ++ unitsIf (enabled "openthread-border-router") [ "otbr-agent" "otbr-web" ]
    ++ map (n: "restic-backups-${n}") (b.attrNames (result.services.restic.backups or { }))
    ++ unitsIf (data.services ? portal) [ "nginx" ]
    ++ unitsIf (data.services ? dashboard) [ "homepage-dashboard" ]
  );

  config = {
    homelab = stub.fill (b.removeAttrs declared.homelab [ "runtimeSecrets" ]) (data // knobs) // {
      runtimeSecrets = secretPaths;
    };
    services = {
      home-assistant = {
        configDir = "/var/lib/hass";
        package = pkgs.home-assistant;
      };
      mosquitto = {
        dataDir = "/var/lib/mosquitto";
        package = pkgs.mosquitto;
        listeners = b.concatLists (peekAll [ "services" "mosquitto" "listeners" ]);
      };
      transmission.package = pkgs.transmission_4;
    };
    networking.firewall.allowedTCPPorts = result.networking.firewall.allowedTCPPorts or [ ];
    systemd = {
      services = upstreamServices // (result.systemd.services or { });
      sockets = unitsIf (enabled "cockpit") { cockpit = { }; } // (result.systemd.sockets or { });
      timers = result.systemd.timers or { };
      targets = { };
    };
  };
in
{
  config = result;
  failedAssertions = map (a: a.message) (b.filter (a: !a.assertion) (result.assertions or [ ]));
  # JSON shows a package as its store path only; the HACS component's build
  # recipe, and its frontend's, for the tests to look at.
  hacs =
    let
      component = b.head (result.services.home-assistant.customComponents or [ null ]);
    in
    if component == null then
      null
    else
      {
        inherit (component.args) version postPatch postInstall;
        frontend = component.args.passthru.frontend.args // {
          src = component.args.passthru.frontend.args.src.args;
        };
      };
}
