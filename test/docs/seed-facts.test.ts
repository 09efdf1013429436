/**
 * The owner's two pages (../shared/seeds: 000 Core & Portal, 004 Home
 * Assistant) carried onto the docs site: each concrete fact of theirs must be
 * somewhere in the Markdown the prod site is built from, the pages generated
 * from the catalog or the hand-written notes and operator pages.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderDocsPages } from "../../components/render/docs";
import { ROOT, secretLooking, stackLab } from "./support";

const CORE = "000_8e7b35e176ccb05c.txt (Core & Portal)";
const HASS = "004_7dbae774480b30f9.txt (Home Assistant)";

interface Fact {
  seed: string;
  fact: string;
  expect: string | RegExp;
}

const HAND_WRITTEN = join(ROOT, "docs", "src", "content", "docs");

function markdownFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return markdownFiles(path);
      return path.endsWith(".md") ? [path] : [];
    });
}

/** Markdown as read: backslash escapes, code-span backticks and bold markers dropped, whitespace collapsed. */
function normalise(markdown: string): string {
  return markdown
    .replace(/\\([\\`*_{}[\]()<>#+\-.!|])/g, "$1")
    .replace(/`/g, "")
    .replace(/\*\*/g, "")
    .replace(/\s+/g, " ");
}

/** The site's text for the prod stack: every generated page and every hand-written one. */
function siteText(): string {
  const generated = [...renderDocsPages(stackLab("prod"))]
    .filter(([path]) => path.endsWith(".md"))
    .map(([, content]) => content);
  const written = markdownFiles(HAND_WRITTEN).map((path) => readFileSync(path, "utf8"));
  return normalise([...generated, ...written].join("\n\n"));
}

const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One row of the generated service table: title, local URL, mDNS alias and public route in adjacent cells. */
function serviceRow(title: string, local: string, alias: string, route: string): RegExp {
  return new RegExp(
    `\\[${escapeRe(title)}\\]\\([^)]*\\) \\| ${escapeRe(local)} \\| ${escapeRe(alias)} \\| \\[${escapeRe(route)}\\]`,
  );
}

/** `https` where the project serves the owner's port over TLS (Cockpit), which its notes page says under Here. */
const row = (title: string, port: number, name: string, scheme: "http" | "https" = "http"): Fact => ({
  seed: CORE,
  fact: `${title}: <homelab.ip>:${port}, nixos.local:${port}, ${name}-home.javiersc.com`,
  expect: serviceRow(
    title,
    `${scheme}://<homelab.ip>:${port}`,
    `${scheme}://nixos.local:${port}`,
    `${name}-home.javiersc.com`,
  ),
});

const FACTS: Fact[] = [
  // Core & Portal: remote access and the service table.
  { seed: CORE, fact: "remote access with no open ports and no exposed IP", expect: /no open ports, no exposed IP/i },
  {
    seed: CORE,
    fact: "remote access through Cloudflare Zero Trust (Tunnel)",
    expect: /Cloudflare Zero Trust: a Cloudflare Tunnel/,
  },
  {
    seed: CORE,
    fact: "cloudflared runs as a native systemd service in NixOS",
    expect: /cloudflared, runs as a native systemd service in NixOS/,
  },
  {
    seed: CORE,
    fact: "Portal: <homelab.ip>:80, nixos.local:80, homepage-home.javiersc.com",
    expect: serviceRow("Portal", "http://<homelab.ip>", "http://nixos.local", "homepage-home.javiersc.com"),
  },
  {
    seed: CORE,
    fact: "the Portal listens on port 80",
    expect: /nginx on port 80 serves the dashboard app \(port 8082\) under this route/,
  },
  row("Home Assistant", 8123, "home-assistant"),
  row("Jellyfin", 8096, "jellyfin"),
  row("Transmission", 9091, "transmission"),
  row("Sonarr", 8989, "sonarr"),
  row("Radarr", 7878, "radarr"),
  row("Prowlarr", 9696, "prowlarr"),
  row("Jackett", 9117, "jackett"),
  row("Backrest", 9898, "backrest"),
  {
    seed: CORE,
    fact: "Documentation: Cloudflare Pages, no local alias, docs-home.javiersc.com",
    expect: serviceRow("Documentation", "Cloudflare Pages", "—", "docs-home.javiersc.com"),
  },
  row("LiteLLM", 14000, "litellm"),
  row("Ollama", 11434, "ollama"),
  row("PicoClaw", 18800, "picoclaw"),
  row("Cockpit", 9090, "cockpit", "https"),
  row("OTBR", 8091, "otbr"),
  {
    seed: CORE,
    fact: "the SSH MCP endpoint binds to 127.0.0.1:19000 and is not routed",
    expect: /\[Homelab SSH MCP\]\([^)]*\) \| http:\/\/127\.0\.0\.1:19000 \| — \| never routed/,
  },
  {
    seed: CORE,
    fact: "the SSH MCP endpoint must never be routed (kept out of homelab.proxies)",
    expect: /must never be routed\. The owner keeps it out of homelab\.proxies/,
  },

  // Core & Portal: key integration logic.
  {
    seed: CORE,
    fact: "Jackett proxies between the indexers (Torznab/RSS) and Sonarr/Radarr, for trackers Prowlarr lacks",
    expect:
      /proxy between the indexers \(Torznab\/RSS\) and the Arr stack \(Sonarr and Radarr\)\. It is essential for searching private and public trackers that Prowlarr and the Arr apps do not support natively/,
  },
  {
    seed: CORE,
    fact: "mDNS via Avahi makes the .local names work without extra DNS configuration",
    expect: /Multicast DNS is enabled with Avahi[^#]*The \.local names work on the LAN without extra DNS configuration/,
  },

  // Core & Portal: the Homepage dashboard.
  {
    seed: CORE,
    fact: "Homepage is declared natively in NixOS",
    expect: /Homepage, declared natively with NixOS's services\.homepage-dashboard/,
  },
  {
    seed: CORE,
    fact: "four groups: Automation, Media & Entertainment, Management, Infrastructure",
    expect:
      "Automation (Home Assistant), Media & Entertainment (Jellyfin, Transmission), Management (Sonarr, Radarr, Prowlarr) and Infrastructure (Documentation, Cloudflare)",
  },
  {
    seed: CORE,
    fact: 'dark theme and blurred cards (cardBlur: "sm")',
    expect: /Dark theme \(theme: dark[^)]*\), blurred cards \(cardBlur: "sm"\)/,
  },
  { seed: CORE, fact: "an Unsplash background image", expect: /Unsplash photo as the background image/ },
  {
    seed: CORE,
    fact: "widgets: system monitoring (CPU/memory) and date/time",
    expect: /System monitoring \(resources: CPU and memory\) and date and time \(datetime/,
  },
  {
    seed: CORE,
    fact: "the Home Assistant widget's Long-Lived Access Token is in the Homelab vault",
    expect: /Long-Lived Access Token, kept in the Homelab vault in 1Password/,
  },
  {
    seed: CORE,
    fact: "owner's injection: ExecStartPre with homelab.fetchSecretFile, sandbox relaxed for the 1Password CLI",
    expect:
      /ExecStartPre, with the homelab\.fetchSecretFile helper\. Because Homepage's unit is strictly sandboxed, its sandbox is slightly relaxed there so the 1Password CLI can run/,
  },

  // Core & Portal: nginx and the Local/Remote toggle.
  {
    seed: CORE,
    fact: "nginx serves the dashboard and proxies local services through port 80",
    expect: /nginx serves the dashboard and proxies the local services through port 80/,
  },
  {
    seed: CORE,
    fact: "nginx is the single local entry point for the Cloudflare Tunnel",
    expect: /one local entry point, which is also the Cloudflare Tunnel's only origin/,
  },
  {
    seed: CORE,
    fact: "the toggle script is injected at location = /api/config/custom.js",
    expect: "location = /api/config/custom.js",
  },
  {
    seed: CORE,
    fact: "the toggle button sits next to the system clock",
    expect: /toggle button next to the system clock/,
  },
  {
    seed: CORE,
    fact: "Remote mode is the default and links to the public routes",
    expect:
      /Remote mode \(the default\): links point to the public Cloudflare routes, e\.g\. https:\/\/jellyfin-home\.javiersc\.com/,
  },
  {
    seed: CORE,
    fact: "Local mode saves the state in localStorage and rewrites links to the local IP and port",
    expect:
      /saves the state in localStorage and rewrites every service link on the page to its local IP and port, e\.g\. http:\/\/<homelab\.ip>:8096/,
  },

  // Core & Portal: local icons and favicon.
  {
    seed: CORE,
    fact: "icons and favicon have no external CDN dependency",
    expect: /served locally, with no external CDN dependencies/,
  },
  {
    seed: CORE,
    fact: "nginx serves the icons through a location alias at /icons/",
    expect: "location alias at /icons/",
  },
  { seed: CORE, fact: "icons are referenced as /icons/<name>-logo.svg", expect: "/icons/<name>-logo.svg" },
  {
    seed: CORE,
    fact: "the -logo suffix keeps Homepage off its CDN",
    expect: /The -logo suffix keeps Homepage from resolving them through its built-in CDN/,
  },
  { seed: CORE, fact: "the favicon is the NixOS snowflake logo", expect: /favicon is the NixOS snowflake logo/ },
  {
    seed: CORE,
    fact: "nginx intercepts the favicon paths before Homepage",
    expect: /\/homepage\.ico, \/favicon-32x32\.png, \/favicon-16x16\.png and \/android-chrome-\*\.png/,
  },
  {
    seed: CORE,
    fact: "PNG variants are rendered with librsvg in a pkgs.runCommand derivation",
    expect: /librsvg \(rsvg-convert\), in a pkgs\.runCommand derivation/,
  },
  {
    seed: CORE,
    fact: "a custom /site.webmanifest for PWA installs",
    expect: /\/site\.webmanifest is served too, so PWA installs use the NixOS icon/,
  },

  // Core & Portal: Transmission and the pending services.
  {
    seed: CORE,
    fact: "day mode 08:00-00:00: download 50 MB/s, upload disabled",
    expect: /\| day \| 08:00 \| 00:00 \| 50 MB\/s \(50000 kB\/s\) \| 0 \(disabled\) \|/,
  },
  {
    seed: CORE,
    fact: "night mode 00:00-08:00: download and upload 50 MB/s",
    expect: /\| night \| 00:00 \| 08:00 \| 50 MB\/s \(50000 kB\/s\) \| 50 MB\/s \(50000 kB\/s\) \|/,
  },
  {
    seed: CORE,
    fact: "the Turtle button stays free for manual pausing",
    expect: /alternative speed \(turtle\) limits are left alone, for pausing by hand/,
  },
  {
    seed: CORE,
    fact: "Appwrite (Backend), Immich (Photos), Penpot (Design) and Postiz (Social) are pending migration",
    expect:
      /## Pending .*- Appwrite: Backend platform; pending NixOS migration - Immich: Photos; pending NixOS migration - Penpot: Design; pending NixOS migration - Postiz: Social media scheduling; pending NixOS migration/,
  },

  // Home Assistant: overview and access.
  {
    seed: HASS,
    fact: "installed natively as services.home-assistant",
    expect: /runs natively as a NixOS service \(services\.home-assistant/,
  },
  { seed: HASS, fact: "hub for Zigbee, MQTT and ESP32 integrations", expect: "Zigbee, MQTT and ESP32 integrations" },
  { seed: HASS, fact: "port 8123, TCP, web UI and API", expect: /\| 8123 \| TCP \| Web UI and API/ },
  {
    seed: HASS,
    fact: "the mobile app cannot show the Cloudflare Access login",
    expect: /app cannot show the Cloudflare Access login screen/,
  },
  {
    seed: HASS,
    fact: "the mobile app uses the Tailscale address as internal and external URL",
    expect: /Tailscale address as both the internal and the external URL/,
  },

  // Home Assistant: components.
  { seed: HASS, fact: "OpenAI Conversation in extraComponents", expect: "OpenAI Conversation (openai_conversation)" },
  {
    seed: HASS,
    fact: "Google Generative AI (Gemini) in extraComponents",
    expect: "Google Generative AI, Gemini (google_generative_ai_conversation)",
  },
  { seed: HASS, fact: "Anthropic in extraComponents", expect: "Anthropic (anthropic)" },
  { seed: HASS, fact: "Ollama (local LLM) in extraComponents", expect: "Ollama, the local LLM (ollama" },
  { seed: HASS, fact: "OpenRouter in extraComponents", expect: "OpenRouter (open_router)" },
  {
    seed: HASS,
    fact: "Nanoleaf via extraComponents, found by discovery",
    expect: /Nanoleaf, enabled via extraComponents; discovery should find the Nanoleaf devices/,
  },
  {
    seed: HASS,
    fact: "ESPHome: managing and controlling ESPHome-flashed devices",
    expect: "managing and controlling ESPHome-flashed devices",
  },

  // Home Assistant: secrets and backups.
  {
    seed: HASS,
    fact: "OpenAI key: op://Homelab/OpenAI/credential, for GPT-4 conversation",
    expect: /op:\/\/Homelab\/OpenAI\/credential \| API key for GPT-4 conversation/,
  },
  {
    seed: HASS,
    fact: "Anthropic key: op://Homelab/Anthropic/credential, for Claude conversation",
    expect: /op:\/\/Homelab\/Anthropic\/credential \| API key for Claude conversation/,
  },
  {
    seed: HASS,
    fact: "restic backs up /var/lib/hass, excluding /var/lib/hass/backups",
    expect: /\[Home Assistant\]\([^)]*\) \| \/var\/lib\/hass \| \/var\/lib\/hass\/backups \|/,
  },
  { seed: HASS, fact: "backed up daily to Backblaze B2", expect: /restic backs up daily to b2:[^ ]+ on Backblaze B2/ },
  { seed: HASS, fact: "retention: 7 daily, 4 weekly, 6 monthly", expect: "7 daily, 4 weekly and 6 monthly snapshots" },
  {
    seed: HASS,
    fact: "Home Assistant's own daily snapshots, kept 1 to 7 days, not in the cloud",
    expect:
      /daily snapshots of its own, kept for 1 to 7 days in \/var\/lib\/hass\/backups\. They are there for a fast local "undo" and are not stored in the cloud/,
  },

  // Home Assistant: the hybrid configuration and HACS.
  {
    seed: HASS,
    fact: "the UI manages automations, scripts and scenes",
    expect: /UI manages the dynamic resources: automations, scripts and scenes/,
  },
  {
    seed: HASS,
    fact: "automation: !include /var/lib/hass/automations.yaml",
    expect: "automation: !include /var/lib/hass/automations.yaml",
  },
  {
    seed: HASS,
    fact: "script: !include /var/lib/hass/scripts.yaml",
    expect: "script: !include /var/lib/hass/scripts.yaml",
  },
  {
    seed: HASS,
    fact: "scene: !include /var/lib/hass/scenes.yaml",
    expect: "scene: !include /var/lib/hass/scenes.yaml",
  },
  {
    seed: HASS,
    fact: "systemd.tmpfiles.rules create the included files",
    expect: /created with the right owner and mode by systemd\.tmpfiles\.rules when they do not exist/,
  },
  {
    seed: HASS,
    fact: "UI-made scripts and automations persist across NixOS rebuilds",
    expect: "persists across NixOS rebuilds",
  },
  {
    seed: HASS,
    fact: "HACS built from source with buildHomeAssistantComponent",
    expect: /builds the component from source with buildHomeAssistantComponent/,
  },
  {
    seed: HASS,
    fact: "HACS's derivation avoids the manifest.json KeyError",
    expect: /nixpkgs validation bugs, like the manifest\.json KeyError/,
  },

  // Home Assistant: MQTT and troubleshooting.
  {
    seed: HASS,
    fact: "mqtt must be in extraComponents, or paho-mqtt is missing and the UI says Unknown error",
    expect:
      /the mqtt component must be in extraComponents\. Without it, the Python libraries \(like paho-mqtt\) are missing, and adding the integration in the UI fails with "Unknown error"/,
  },
  {
    seed: HASS,
    fact: "MQTT broker: 127.0.0.1 forces IPv4",
    expect: /If localhost does not connect, use 127\.0\.0\.1 to force IPv4/,
  },
  { seed: HASS, fact: "MQTT credentials in 1Password Homelab/Mosquito", expect: /1Password, Homelab\/Mosquito/ },
  {
    seed: HASS,
    fact: "HACS missing: hard refresh (Ctrl+F5) and restart",
    expect: /hard refresh \(Ctrl\+F5\)[^.]*systemctl restart home-assistant/,
  },
  {
    seed: HASS,
    fact: "Python version mismatch: use Home Assistant's own package set",
    expect:
      /"Python version mismatch"\. HACS or one of its dependencies was built with another Python than Home Assistant's/,
  },
  {
    seed: HASS,
    fact: "home-assistant.python is gone; home-assistant.python3Packages replaces it",
    expect: /removed the package's python attribute \([^)]*\)\. What replaces it is home-assistant\.python3Packages/,
  },
];

describe("the owner's pages, carried onto the prod site", () => {
  const text = siteText();

  it("names 40 to 80 facts, each once", () => {
    expect(FACTS.length).toBeGreaterThanOrEqual(40);
    expect(FACTS.length).toBeLessThanOrEqual(80);
    expect(new Set(FACTS.map((f) => f.fact)).size).toBe(FACTS.length);
  });

  // Titles built here, not with $seed: vitest shortens interpolated strings, and the title must name the seed file whole.
  it.each(FACTS.map((f) => [`${f.seed}: ${f.fact}`, f.expect] as const))("%s", (_title, wanted) => {
    // A boolean, so a failure names the missing fact instead of printing the whole site.
    const found = typeof wanted === "string" ? text.includes(wanted) : wanted.test(text);
    expect(found, `not on the prod site: ${String(wanted)}`).toBe(true);
  });

  it("keeps the hand-written notes free of LAN addresses and secret-looking strings", () => {
    const lab = stackLab("prod");
    for (const path of markdownFiles(join(HAND_WRITTEN, "notes"))) {
      const content = readFileSync(path, "utf8");
      expect(content.includes(lab.config.lanAddress), path).toBe(false);
      expect(secretLooking(content), path).toEqual([]);
    }
  });
});
