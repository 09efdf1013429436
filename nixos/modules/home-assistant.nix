# Home Assistant, native (services.home-assistant), and the Mosquitto broker
# it uses on localhost. The owner's Home Assistant page: extra components
# for the LLMs, MQTT, Zigbee (ZHA), Nanoleaf and ESPHome; HACS built from
# source with Home Assistant's own Python set; the hybrid configuration
# where NixOS owns configuration.yaml and the UI owns automations, scripts
# and scenes.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.homelab.services.home-assistant;
  mqtt = config.homelab.services.mosquitto;
  hass = config.services.home-assistant;
  configDir = hass.configDir;

  # Written by the UI, included by absolute path from the read-only
  # configuration.yaml, created empty when missing and never truncated.
  uiFiles = {
    automations = "[]";
    scripts = "";
    scenes = "";
  };
  uiFile = name: "${configDir}/${name}.yaml";

  # HACS, built from source like nixpkgs builds custom components, against
  # the Home Assistant package's own Python set: building it with another
  # interpreter is the "Python version mismatch" the owner's page warns of.
  #
  # Pinned: bump version and hash together. Neither hash below could be
  # checked against the released artifacts from here (no network, and the
  # search tool holds no copy of them). Both are fixed-output fetches, so a
  # wrong hash stops `nixos-rebuild` with "hash mismatch in fixed-output
  # derivation" while building, before anything is switched.
  hacs =
    let
      buildComponent = pkgs.buildHomeAssistantComponent.override { home-assistant = hass.package; };
      # nixpkgs dropped the package's `python` passthru (NixOS/nixpkgs#526304,
      # backported to 26.05 as #526362); `python3Packages` is what is left,
      # and its interpreter carries sitePackages.
      python3Packages = hass.package.python3Packages;
      inherit (python3Packages) python;

      # HACS 2.x imports its UI as a subpackage (`from .hacs_frontend import
      # locate_dir` in frontend.py). The release zip bundles it; the git tag
      # does not, so it comes from its PyPI wheel, the bundle HACS 2.0.5
      # ships. Bump it with HACS. Hash: the one public configurations use
      # for this wheel, not re-checked here (see above); to refresh it, run
      #   nix store prefetch-file https://files.pythonhosted.org/packages/py3/h/hacs_frontend/hacs_frontend-<version>-py3-none-any.whl
      # (or nix-prefetch-url and `nix hash convert --hash-algo sha256`).
      frontend = python3Packages.buildPythonPackage rec {
        pname = "hacs-frontend";
        version = "20250128065759";
        format = "wheel";
        src = python3Packages.fetchPypi {
          pname = "hacs_frontend";
          inherit version format;
          dist = "py3";
          python = "py3";
          hash = "sha256-5rGWFx+8s8s+ztLEjnifPclGtZ90kEh98W2NTkeoX8Q=";
        };
        pythonImportsCheck = [ "hacs_frontend" ];
        meta = {
          description = "Frontend of the Home Assistant Community Store";
          homepage = "https://github.com/hacs/frontend";
          license = lib.licenses.mit;
        };
      };
    in
    buildComponent rec {
      owner = "hacs";
      domain = "hacs";
      version = "2.0.5";
      src = pkgs.fetchFromGitHub {
        owner = "hacs";
        repo = "integration";
        tag = version;
        hash = "sha256-xj+H75A6iwyGzMvYUjx61aGiH5DK/qYLC6clZ4cGDac=";
      };
      dependencies = [ python3Packages.aiogithubapi ];
      nativeBuildInputs = [ pkgs.jq ];
      # The tag's manifest says 0.0.0 (the release workflow stamps the
      # version); HACS would otherwise offer to "update" itself into the
      # read-only store.
      postPatch = ''
        jq --arg version ${version} '.version = $version' custom_components/hacs/manifest.json > "$TMPDIR/manifest.json"
        mv "$TMPDIR/manifest.json" custom_components/hacs/manifest.json
      '';
      postInstall = ''
        ln -s ${frontend}/${python.sitePackages}/hacs_frontend $out/custom_components/hacs/hacs_frontend
      '';
      passthru = { inherit frontend; };
      meta = {
        description = "Home Assistant Community Store";
        homepage = "https://hacs.xyz/";
        license = lib.licenses.mit;
      };
    };

  # openai-api-key -> OPENAI_API_KEY, usable in YAML as !env_var OPENAI_API_KEY.
  envName = name: lib.toUpper (lib.replaceStrings [ "-" ] [ "_" ] name);

  # Mosquitto's password file for our listener (the module's first).
  mqttPasswd = "${config.services.mosquitto.dataDir}/passwd-0";
in
{
  config = lib.mkMerge [
    (lib.mkIf cfg.enable {
      services.home-assistant = {
        enable = true;
        extraComponents = [
          # Onboarding and the usual base.
          "default_config"
          "met"
          "radio_browser"
          # Conversation agents (OpenAI, Gemini, Anthropic, Ollama, OpenRouter).
          "openai_conversation"
          "google_generative_ai_conversation"
          "anthropic"
          "ollama"
          "open_router"
          # Without mqtt here paho-mqtt is missing and the UI shows "Unknown error".
          "mqtt"
          "nanoleaf"
          "esphome"
          # Zigbee Home Automation: the hub's Zigbee coordinator.
          "zha"
          # Thread and Matter devices through the border router.
          "otbr"
          "thread"
        ];
        customComponents = [ hacs ];
        config = {
          default_config = { };
          homeassistant = {
            internal_url = cfg.localUrl;
            # null without a tunnel; the module drops null values.
            external_url = cfg.publicUrl;
          };
          http = {
            server_port = cfg.port;
            server_host = if cfg.bind == "127.0.0.1" then [ "127.0.0.1" ] else [ "0.0.0.0" "::" ];
            # The public route arrives through nginx on the same host or,
            # with several hosts, from a tunnel connector on the LAN; Home
            # Assistant answers 400 to forwarded headers from anyone else.
            use_x_forwarded_for = true;
            trusted_proxies = [
              "127.0.0.1"
              "::1"
            ]
            ++ config.homelab.lan.connectors;
          };
          # The hybrid configuration: the UI edits these files in the state
          # directory; "automation ui" leaves room for Nix-declared
          # automations under another "automation <label>" key.
          "automation ui" = "!include ${uiFile "automations"}";
          script = "!include ${uiFile "scripts"}";
          scene = "!include ${uiFile "scenes"}";
        };
      };

      # f, not F: create when missing, never truncate what the UI wrote.
      systemd.tmpfiles.rules = lib.mapAttrsToList (
        name: initial: "f ${uiFile name} 0600 hass hass - ${initial}"
      ) uiFiles;

      # The LLM API keys reach Home Assistant as environment variables
      # (OPENAI_API_KEY, ANTHROPIC_API_KEY), rendered from the secret files
      # at start into a private runtime file; YAML can use !env_var.
      homelab.runtimeSecrets.home-assistant = lib.mkIf (cfg.secrets != { }) {
        format = "env";
        values = lib.mapAttrs' (name: path: lib.nameValuePair (envName name) path) cfg.secrets;
        requiredBy = [ "home-assistant.service" ];
      };

      systemd.services.home-assistant = {
        serviceConfig.EnvironmentFile = lib.mkIf (cfg.secrets != { }) [
          config.homelab.runtimeSecrets.home-assistant.path
        ];
        after = lib.optional mqtt.enable "mosquitto.service";
        wants = lib.optional mqtt.enable "mosquitto.service";
      };
    })

    (lib.mkIf mqtt.enable {
      assertions = [
        {
          assertion = mqtt.secrets ? username && mqtt.secrets ? password;
          message = "homelab: the mosquitto catalog entry needs username and password secrets.";
        }
        {
          assertion = (lib.head config.services.mosquitto.listeners).port == mqtt.port;
          message = "homelab: the homelab MQTT listener must be services.mosquitto.listeners's first; its password file is ${mqttPasswd}.";
        }
      ];

      services.mosquitto = {
        enable = true;
        listeners = [
          {
            address = mqtt.bind;
            port = mqtt.port;
            # Every authenticated client may use every topic; there is one user.
            acl = [ "pattern readwrite #" ];
            settings.allow_anonymous = false;
          }
        ];
      };

      # The broker's single user has its name and password in two secret
      # files, so it cannot be a `users.<name>` attribute. The module's own
      # preStart creates the (empty) password file of our listener; this
      # appends the user, hashed with `mosquitto_passwd -U` from a private
      # temporary file so the password is never on a command line.
      systemd.services.mosquitto = {
        serviceConfig.LoadCredential = [
          "homelab-mqtt-username:${mqtt.secrets.username}"
          "homelab-mqtt-password:${mqtt.secrets.password}"
        ];
        preStart = lib.mkAfter ''
          plain="$(mktemp)"
          printf '%s:%s\n' \
            "$(< "$CREDENTIALS_DIRECTORY/homelab-mqtt-username")" \
            "$(< "$CREDENTIALS_DIRECTORY/homelab-mqtt-password")" > "$plain"
          ${config.services.mosquitto.package}/bin/mosquitto_passwd -U "$plain"
          cat "$plain" >> ${lib.escapeShellArg mqttPasswd}
          rm -f "$plain"
        '';
      };
    })
  ];
}
