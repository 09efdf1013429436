import { describe, expect, it } from "vitest";
import { CATALOG } from "../../components/catalog/services";
import { resolveHomelab, routedServices } from "../../components/catalog/resolve";
import { validateCatalog } from "../../components/catalog/validate";
import { config } from "./fixtures";

const lab = resolveHomelab(CATALOG, config());
const byId = (id: string) => {
  const s = lab.services.find((x) => x.id === id);
  if (!s) throw new Error(`no service ${id} in the prod stack`);
  return s;
};

describe("the service catalog", () => {
  it("passes every validation rule for the prod stack", () => {
    expect(validateCatalog(CATALOG, config())).toEqual([]);
  });

  it.each([
    ["portal", 80, "homepage-home.javiersc.com"],
    ["home-assistant", 8123, "home-assistant-home.javiersc.com"],
    ["jellyfin", 8096, "jellyfin-home.javiersc.com"],
    ["transmission", 9091, "transmission-home.javiersc.com"],
    ["sonarr", 8989, "sonarr-home.javiersc.com"],
    ["radarr", 7878, "radarr-home.javiersc.com"],
    ["prowlarr", 9696, "prowlarr-home.javiersc.com"],
    ["jackett", 9117, "jackett-home.javiersc.com"],
    ["backrest", 9898, "backrest-home.javiersc.com"],
    ["litellm", 14000, "litellm-home.javiersc.com"],
    ["ollama", 11434, "ollama-home.javiersc.com"],
    ["picoclaw", 18800, "picoclaw-home.javiersc.com"],
    ["cockpit", 9090, "cockpit-home.javiersc.com"],
    ["otbr", 8091, "otbr-home.javiersc.com"],
  ])("%s listens on %i and is published as %s, as the seeds' table says", (id, port, hostname) => {
    expect(byId(id).port).toBe(port);
    expect(byId(id).publicHostname).toBe(hostname);
  });

  it("runs the Documentation site on Cloudflare Pages at docs-home, with no local port", () => {
    const docs = byId("docs");
    expect(docs.entry.runsOn).toBe("pages");
    expect(docs.port).toBeNull();
    expect(docs.localUrl).toBeNull();
    expect(docs.publicHostname).toBe("docs-home.javiersc.com");
  });

  it("binds the SSH MCP endpoint to 127.0.0.1:19000 and never routes it", () => {
    const mcp = byId("ssh-mcp");
    expect([mcp.bind, mcp.port]).toEqual(["127.0.0.1", 19000]);
    expect(mcp.publicHostname).toBeNull();
    expect(mcp.card).toBe(false);
    expect(mcp.protection).toBe("none");
  });

  it("declares Appwrite, Immich, Penpot and Postiz as pending, with no route", () => {
    const pending = lab.services.filter((s) => s.status === "pending");
    expect(pending.map((s) => s.id).sort()).toEqual(["appwrite", "immich", "penpot", "postiz"]);
    for (const s of pending) expect(s.publicHostname, s.id).toBeNull();
  });

  it("protects every route with Cloudflare Access unless an entry opts out", () => {
    for (const s of routedServices(lab)) {
      expect(s.protection, s.id).toBe(s.entry.protection === "public" ? "public" : "access");
    }
    expect(routedServices(lab).every((s) => s.protection === "access")).toBe(true);
  });

  it("gives every entry a title, a description, an icon and a health check", () => {
    for (const e of CATALOG) {
      expect(e.title.length, e.id).toBeGreaterThan(0);
      expect(e.description.length, e.id).toBeGreaterThan(0);
      expect("simpleIcons" in e.icon || "mdi" in e.icon || "file" in e.icon, e.id).toBe(true);
      expect(["http", "tcp", "none"], e.id).toContain(e.health.kind);
    }
  });

  it("backs up /var/lib/hass without the internal snapshots in /var/lib/hass/backups", () => {
    expect(byId("home-assistant").backup).toEqual({ paths: ["/var/lib/hass"], exclude: ["/var/lib/hass/backups"] });
  });

  it("takes the Home Assistant LLM keys from the seeds' 1Password references", () => {
    const refs = byId("home-assistant").secrets.map((s) => s.ref);
    expect(refs).toContain("op://Homelab/OpenAI/credential");
    expect(refs).toContain("op://Homelab/Anthropic/credential");
  });

  it("takes the Mosquitto credentials from the Homelab/Mosquito item", () => {
    expect(byId("mosquitto").secrets.map((s) => s.ref)).toEqual([
      "op://Homelab/Mosquito/username",
      "op://Homelab/Mosquito/password",
    ]);
  });

  it("says how native apps reach Home Assistant and Jellyfin past Access", () => {
    expect(byId("home-assistant").nativeClients?.via).toBe("tailscale");
    expect(byId("jellyfin").nativeClients?.via).toBe("tailscale");
  });

  it("rewrites secret references to the stack's vault", () => {
    const staging = resolveHomelab(CATALOG, config({ opVault: "Homelab-Staging" }, "staging"));
    const ha = staging.services.find((s) => s.id === "home-assistant")!;
    expect(ha.secrets[0].ref).toBe("op://Homelab-Staging/OpenAI/credential");
  });

  it("keeps secret files root-owned: 0400, or 0440 with the consumer's group", () => {
    const [openai] = byId("home-assistant").secrets;
    expect(openai).toMatchObject({
      path: "/var/lib/homelab/secrets/home-assistant/openai-api-key",
      owner: "root",
      group: "hass",
      mode: "0440",
    });
    const [restic] = byId("backrest").secrets;
    expect(restic).toMatchObject({ owner: "root", group: "root", mode: "0400" });
  });
});
