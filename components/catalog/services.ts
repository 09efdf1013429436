import { TRANSMISSION_SCHEDULE } from "./schedules";
import type { ServiceEntry } from "./types";

/**
 * The service catalog: the one place where a homelab service is declared.
 * Adding a service is one entry here; see docs/src/content/docs/operator/extending.md.
 *
 * Ports and routes follow the owner's Core & Portal page. Secrets are
 * 1Password references in the Homelab vault; a stack may point them at
 * another vault (see `opVault` in the stack config).
 */
export const CATALOG: readonly ServiceEntry[] = [
  {
    id: "portal",
    title: "Portal",
    group: "Infrastructure",
    description: "Homepage dashboard behind nginx, the single local entry point",
    status: "enabled",
    runsOn: "host",
    port: 80,
    bind: "0.0.0.0",
    lanOpen:
      "The dashboard shows links, and Home Assistant states read with a token kept on the server; the services it links to each have their own login or their own entry here",
    route: { name: "homepage" },
    // nginx itself: the LAN's single entry point, in front of the dashboard app.
    role: "portal",
    proxyTo: "dashboard",
    // The portal is the dashboard itself; a card linking to it would be a loop.
    card: false,
    // Also the favicon, the Safari pinned-tab mask and the PWA icon.
    icon: { simpleIcons: "nixos" },
    health: { kind: "http", path: "/" },
    units: ["nginx.service"],
  },
  {
    id: "dashboard",
    title: "Homepage",
    group: "Infrastructure",
    description: "The dashboard app; reached through the Portal only",
    status: "enabled",
    runsOn: "host",
    port: 8082,
    bind: "127.0.0.1",
    route: false,
    // nginx proxies the portal to Homepage on 127.0.0.1.
    colocateWith: "portal",
    icon: { simpleIcons: "homepage" },
    health: { kind: "http", path: "/" },
    units: ["homepage-dashboard.service"],
    // The Home Assistant widget's long-lived access token.
    secrets: [{ name: "hass-token", ref: "op://Homelab/Home Assistant/long-lived-token" }],
  },
  {
    id: "home-assistant",
    title: "Home Assistant",
    group: "Automation",
    description: "Smart home hub: Zigbee, MQTT, ESPHome, Nanoleaf and LLM voice",
    status: "enabled",
    runsOn: "host",
    port: 8123,
    bind: "0.0.0.0",
    login: "Home Assistant's own login: its users, and the app's tokens",
    nativeClients: {
      via: "tailscale",
      why: "The companion app cannot show the Access login page; it uses the host's Tailscale address as internal and external URL.",
    },
    // Its card shows the hub's states, read with the dashboard's hass-token.
    dashboardWidget: { type: "homeassistant", secret: "hass-token" },
    icon: { simpleIcons: "homeassistant" },
    health: { kind: "http", path: "/manifest.json" },
    units: ["home-assistant.service"],
    backup: { paths: ["/var/lib/hass"], exclude: ["/var/lib/hass/backups"] },
    secrets: [
      { name: "openai-api-key", ref: "op://Homelab/OpenAI/credential", group: "hass" },
      { name: "anthropic-api-key", ref: "op://Homelab/Anthropic/credential", group: "hass" },
    ],
  },
  {
    id: "mosquitto",
    title: "Mosquitto",
    group: "Automation",
    description: "MQTT broker for Home Assistant, on localhost only",
    status: "enabled",
    runsOn: "host",
    port: 1883,
    scheme: "mqtt",
    bind: "127.0.0.1",
    route: false,
    // Home Assistant reaches the broker on 127.0.0.1, so both sit on one host.
    colocateWith: "home-assistant",
    icon: { simpleIcons: "eclipsemosquitto" },
    health: { kind: "tcp" },
    units: ["mosquitto.service"],
    backup: { paths: ["/var/lib/mosquitto"] },
    secrets: [
      { name: "username", ref: "op://Homelab/Mosquito/username", group: "mosquitto" },
      { name: "password", ref: "op://Homelab/Mosquito/password", group: "mosquitto" },
    ],
  },
  {
    id: "jellyfin",
    title: "Jellyfin",
    group: "Media & Entertainment",
    description: "Media server",
    status: "enabled",
    runsOn: "host",
    port: 8096,
    bind: "0.0.0.0",
    login: "Jellyfin's own login: its users",
    nativeClients: {
      via: "tailscale",
      why: "The Jellyfin apps cannot send Access service-token headers or show the login page; they connect over the tailnet.",
    },
    icon: { simpleIcons: "jellyfin" },
    health: { kind: "http", path: "/health" },
    units: ["jellyfin.service"],
    backup: { paths: ["/var/lib/jellyfin"], exclude: ["/var/lib/jellyfin/transcodes"] },
  },
  {
    id: "transmission",
    title: "Transmission",
    group: "Media & Entertainment",
    description: "BitTorrent client on a day/night bandwidth schedule",
    status: "enabled",
    speedSchedule: TRANSMISSION_SCHEDULE,
    runsOn: "host",
    port: 9091,
    bind: "0.0.0.0",
    login: "RPC user and password (rpc-authentication-required), the password from the rpc-password secret",
    icon: { simpleIcons: "transmission" },
    health: { kind: "tcp" },
    units: ["transmission.service"],
    backup: { paths: ["/var/lib/transmission/.config/transmission-daemon"] },
    secrets: [{ name: "rpc-password", ref: "op://Homelab/Transmission/password", group: "transmission" }],
  },
  {
    id: "sonarr",
    title: "Sonarr",
    group: "Management",
    description: "TV series manager",
    status: "enabled",
    runsOn: "host",
    port: 8989,
    bind: "0.0.0.0",
    login: "Sonarr's own login (forms), which it requires since v4: the account made on first start",
    icon: { simpleIcons: "sonarr" },
    health: { kind: "http", path: "/ping" },
    units: ["sonarr.service"],
    backup: { paths: ["/var/lib/sonarr"] },
  },
  {
    id: "radarr",
    title: "Radarr",
    group: "Management",
    description: "Movie manager",
    status: "enabled",
    runsOn: "host",
    port: 7878,
    bind: "0.0.0.0",
    login: "Radarr's own login (forms), which it requires since v5: the account made on first start",
    icon: { simpleIcons: "radarr" },
    health: { kind: "http", path: "/ping" },
    units: ["radarr.service"],
    backup: { paths: ["/var/lib/radarr"] },
  },
  {
    id: "prowlarr",
    title: "Prowlarr",
    group: "Management",
    description: "Indexer manager for the Arr stack",
    status: "enabled",
    runsOn: "host",
    port: 9696,
    bind: "0.0.0.0",
    login: "Prowlarr's own login (forms), which it requires: the account made on first start",
    // No icon set carries the Prowlarr brand: a radar for the indexer search.
    icon: { mdi: "radar", color: "#fb923c" },
    health: { kind: "http", path: "/ping" },
    units: ["prowlarr.service"],
    backup: { paths: ["/var/lib/private/prowlarr"] },
  },
  {
    id: "jackett",
    title: "Jackett",
    // The page's groups do not name it: it feeds the Arr apps, as Prowlarr does.
    group: "Management",
    description: "Torznab proxy for trackers Prowlarr and the Arr apps lack",
    status: "enabled",
    runsOn: "host",
    port: 9117,
    bind: "0.0.0.0",
    lanOpen:
      "Its Torznab feeds check the API key the Arr apps send; its dashboard is open on the LAN until an admin password is set in it",
    // No icon set carries the Jackett brand: a search over remote trackers.
    icon: { mdi: "cloud-search", color: "#fbbf24" },
    health: { kind: "tcp" },
    units: ["jackett.service"],
    backup: { paths: ["/var/lib/jackett"] },
  },
  {
    id: "backrest",
    title: "Backrest",
    // Not placed by the owner's page: it backs up the host, so it sits with the host's plumbing.
    group: "Infrastructure",
    description: "Restic backups to Backblaze B2, and their web UI",
    status: "enabled",
    // Its secrets unlock the restic repository every host backs up to.
    role: "backup",
    runsOn: "host",
    port: 9898,
    bind: "0.0.0.0",
    login:
      "Backrest's own login: user homelab, whose bcrypt hash is made from the ui-password secret before each start",
    // No icon set carries the Backrest brand.
    icon: { mdi: "backup-restore", color: "#38bdf8" },
    health: { kind: "tcp" },
    // The restic job reads its secrets at each run; restarting it would start a backup.
    units: ["backrest.service"],
    backup: { paths: ["/var/lib/backrest"] },
    secrets: [
      { name: "restic-password", ref: "op://Homelab/Restic/password" },
      { name: "b2-account-id", ref: "op://Homelab/Backblaze B2/keyID" },
      { name: "b2-account-key", ref: "op://Homelab/Backblaze B2/applicationKey" },
      // The UI's login password; only its bcrypt hash reaches Backrest's config (nixos/modules/backups.nix).
      { name: "ui-password", ref: "op://Homelab/Backrest/password" },
    ],
  },
  {
    id: "docs",
    title: "Documentation",
    group: "Infrastructure",
    description: "The home lab's documentation site",
    status: "enabled",
    runsOn: "pages",
    icon: { mdi: "book-open-variant" },
    health: { kind: "none", reason: "Served by Cloudflare Pages, not by the host" },
    units: [],
  },
  {
    id: "litellm",
    title: "LiteLLM",
    // Not placed by the owner's page: a gateway other services call (Home Assistant, PicoClaw, scripts), not an app a person uses, so it sits with the plumbing.
    group: "Infrastructure",
    description: "One OpenAI-compatible API in front of every model",
    status: "enabled",
    runsOn: "host",
    port: 14000,
    bind: "0.0.0.0",
    login: "The master key (master-key secret): every API call sends it, or a key made with it, as a Bearer token",
    // It serves the local models through Ollama on 127.0.0.1 (nixos/modules/ai.nix).
    colocateWith: "ollama",
    nativeClients: {
      via: "service-token",
      why: "API clients and scripts cannot log in interactively; they send CF-Access-Client-Id and CF-Access-Client-Secret.",
    },
    // No icon set carries the LiteLLM brand: an API glyph for the gateway.
    icon: { mdi: "api", color: "#a78bfa" },
    health: { kind: "http", path: "/health/liveliness" },
    units: ["litellm.service"],
    // nixpkgs runs LiteLLM with DynamicUser: /var/lib/litellm is a symlink to this.
    backup: { paths: ["/var/lib/private/litellm"] },
    secrets: [
      { name: "master-key", ref: "op://Homelab/LiteLLM/master-key" },
      { name: "openai-api-key", ref: "op://Homelab/OpenAI/credential" },
      { name: "anthropic-api-key", ref: "op://Homelab/Anthropic/credential" },
    ],
  },
  {
    id: "ollama",
    title: "Ollama",
    // Not placed by the owner's page: the model runtime behind LiteLLM and Home Assistant's voice, so it sits with the plumbing.
    group: "Infrastructure",
    description: "Local LLM runtime",
    status: "enabled",
    runsOn: "host",
    port: 11434,
    bind: "0.0.0.0",
    // Not loopback behind LiteLLM: the owner's Local and public links open it
    // directly, Home Assistant's Ollama integration speaks Ollama's own API
    // (LiteLLM does not), and homelab:placement may move Ollama to a GPU box,
    // away from Home Assistant. What it exposes is models and compute, no
    // secret or personal data.
    lanOpen:
      "Ollama's API has no login. Home Assistant's Ollama integration calls it by address, from another host once Ollama is placed on one; clients that can send a key use LiteLLM",
    nativeClients: {
      via: "service-token",
      why: "API clients cannot log in interactively; they send an Access service token.",
    },
    icon: { simpleIcons: "ollama" },
    health: { kind: "http", path: "/api/version" },
    units: ["ollama.service"],
  },
  {
    id: "picoclaw",
    title: "PicoClaw",
    // Not placed by the owner's page: a personal assistant that acts for you, like Home Assistant's LLM voice, so it sits with the automation.
    group: "Automation",
    description: "Lightweight personal AI assistant",
    status: "enabled",
    runsOn: "host",
    // The gateway's port (`picoclaw gateway`, moved here from upstream's
    // 18790). 18800 is also the default of upstream's launcher web UI
    // (`picoclaw-launcher`), which the bundle does not run, so the owner's
    // 18800 route reaches the gateway. See nixos/modules/ai.nix.
    port: 18800,
    bind: "0.0.0.0",
    // Kept on the LAN for the owner's Local link. The assistant's tools act
    // only for messages from its chat channels (Telegram and the like,
    // reached outbound), not for requests to this port.
    lanOpen:
      "The gateway's port serves its health checks and the chat channels' webhooks; the assistant takes orders through its chat channels, limited to their allowed users",
    // No icon set carries the PicoClaw brand.
    icon: { mdi: "robot-happy", color: "#f472b6" },
    health: { kind: "tcp" },
    units: ["picoclaw.service"],
    backup: { paths: ["/var/lib/picoclaw"] },
  },
  {
    id: "cockpit",
    title: "Cockpit",
    // Not placed by the owner's page: it administers the host itself, which is Infrastructure; Management holds the media managers.
    group: "Infrastructure",
    description: "Host administration in the browser",
    status: "enabled",
    runsOn: "host",
    port: 9090,
    scheme: "https",
    bind: "0.0.0.0",
    // TLS rather than loopback behind nginx: nginx here speaks plain HTTP, so
    // the owner's Local link would still carry the root-capable password in
    // clear text. See nixos/modules/cockpit.nix.
    login:
      "The host's PAM accounts, over TLS: Cockpit redirects plain HTTP to HTTPS except from the host itself (nginx, the tunnel)",
    icon: { simpleIcons: "cockpit" },
    health: { kind: "tcp" },
    units: ["cockpit.socket"],
  },
  {
    id: "otbr",
    title: "OTBR",
    // Not placed by the owner's page: it carries Home Assistant's Thread and Matter devices, so it sits with Home Assistant.
    group: "Automation",
    description: "OpenThread Border Router for Thread and Matter devices",
    status: "enabled",
    runsOn: "host",
    port: 8091,
    bind: "0.0.0.0",
    lanOpen:
      "otbr-web has no login. The owner's Local link opens it on the LAN; Home Assistant uses the REST API on 127.0.0.1",
    // Home Assistant's otbr integration calls the REST API, which stays on 127.0.0.1.
    colocateWith: "home-assistant",
    // No icon set carries the OpenThread brand: a wireless router for the border router.
    icon: { mdi: "router-wireless", color: "#4ade80" },
    health: { kind: "tcp" },
    units: ["otbr-agent.service", "otbr-web.service"],
    backup: { paths: ["/var/lib/thread"] },
  },
  {
    id: "ssh-mcp",
    title: "Homelab SSH MCP",
    group: "Infrastructure",
    description: "MCP endpoint for SSH automation; loopback only, never routed",
    status: "enabled",
    runsOn: "host",
    port: 19000,
    bind: "127.0.0.1",
    route: false,
    icon: { mdi: "console" },
    health: { kind: "tcp" },
    units: ["homelab-ssh-mcp.service"],
  },
  {
    id: "tailscale",
    title: "Tailscale",
    group: "Infrastructure",
    description: "Tailnet access for the Home Assistant and Jellyfin apps",
    status: "enabled",
    runsOn: "host",
    route: false,
    // The apps connect to the tailnet address of the host that runs their
    // service, so every such host joins the tailnet.
    everyHostWith: "tailnet-clients",
    icon: { simpleIcons: "tailscale" },
    health: { kind: "none", reason: "No local listener; `tailscale status` shows the node" },
    units: ["tailscaled-autoconnect.service"],
    secrets: [{ name: "auth-key", ref: "op://Homelab/Tailscale/auth-key" }],
  },
  {
    id: "cloudflared",
    title: "Cloudflare Tunnel",
    group: "Infrastructure",
    description: "Outbound-only tunnel that carries every public route",
    status: "enabled",
    runsOn: "host",
    route: false,
    // A connector on every host with a route keeps the others' routes up while one reboots.
    everyHostWith: "routes",
    // The seeds' Infrastructure group shows Cloudflare: the card opens the Zero Trust dashboard.
    link: "https://one.dash.cloudflare.com/",
    icon: { simpleIcons: "cloudflare" },
    health: { kind: "none", reason: "No local listener; the tunnel's health shows in the Cloudflare dashboard" },
    units: ["cloudflared-tunnel.service"],
    // Created by the program with the tunnel, not read from 1Password.
    secrets: [{ name: "tunnel-token", ref: "generated" }],
  },
  {
    id: "appwrite",
    title: "Appwrite",
    group: "Infrastructure",
    description: "Backend platform; pending NixOS migration",
    status: "pending",
    runsOn: "host",
    icon: { simpleIcons: "appwrite" },
    health: { kind: "http", path: "/" },
    units: [],
  },
  {
    id: "immich",
    title: "Immich",
    group: "Media & Entertainment",
    description: "Photos; pending NixOS migration",
    status: "pending",
    runsOn: "host",
    icon: { simpleIcons: "immich" },
    health: { kind: "http", path: "/api/server/ping" },
    units: [],
  },
  {
    id: "penpot",
    title: "Penpot",
    group: "Management",
    description: "Design; pending NixOS migration",
    status: "pending",
    runsOn: "host",
    icon: { simpleIcons: "penpot" },
    health: { kind: "http", path: "/" },
    units: [],
  },
  {
    id: "postiz",
    title: "Postiz",
    group: "Management",
    description: "Social media scheduling; pending NixOS migration",
    status: "pending",
    runsOn: "host",
    icon: { simpleIcons: "postiz" },
    health: { kind: "http", path: "/" },
    units: [],
  },
];
