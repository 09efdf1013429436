/**
 * The owner's Cloudflare account as their Core & Portal page describes it,
 * made by hand: a tunnel created with `cloudflared tunnel create` whose
 * ingress lives in the host's config file (locally managed), fifteen
 * proxied `<name>-home.javiersc.com` routes (fourteen to the tunnel, the
 * docs to Pages), the docs site's Pages project with its custom domain, and
 * what else a real zone holds that the lab does not own.
 */
import { dnsRecord, emptyState, pagesDomain, tunnel, type CloudflareState } from "./cloudflare-api";

export const OWNER_ACCOUNT = "0123456789abcdef0123456789abcdef";
export const OWNER_ZONE = "fedcba9876543210fedcba9876543210";
export const OWNER_TUNNEL_ID = "6f1c2b9e-3d4a-4c8e-9b7f-2a5d8e1c4b60";
export const OWNER_PAGES_PROJECT = "javiersc-homelab-docs";

/** The routes of the owner's service table that go through the tunnel. */
export const OWNER_TUNNEL_ROUTES = [
  "homepage",
  "home-assistant",
  "jellyfin",
  "transmission",
  "sonarr",
  "radarr",
  "prowlarr",
  "jackett",
  "backrest",
  "litellm",
  "ollama",
  "picoclaw",
  "cockpit",
  "otbr",
].map((name) => `${name}-home.javiersc.com`);

export const OWNER_DOCS_HOSTNAME = "docs-home.javiersc.com";

/** A direct-upload production deployment as the API returns it (Deployment of the SDK). */
function ownerDeployment(): Record<string, unknown> {
  const stage = {
    name: "deploy",
    status: "success",
    started_on: "2026-11-20T09:00:05Z",
    ended_on: "2026-11-20T09:00:20Z",
  };
  return {
    id: "9f3c1a2b-4d5e-4f60-8a7b-1c2d3e4f5a6b",
    short_id: "9f3c1a2b",
    project_id: "4b1f8c2e-7a3d-4e5f-9c1b-2d6e8f0a1b3c",
    project_name: OWNER_PAGES_PROJECT,
    environment: "production",
    url: `https://9f3c1a2b.${OWNER_PAGES_PROJECT}.pages.dev`,
    created_on: "2026-11-20T09:00:00Z",
    modified_on: "2026-11-20T09:00:20Z",
    aliases: null,
    is_skipped: false,
    build_config: {
      build_caching: false,
      build_command: "",
      destination_dir: "",
      root_dir: "",
      web_analytics_tag: null,
      web_analytics_token: null,
    },
    deployment_trigger: {
      type: "ad_hoc",
      metadata: { branch: "main", commit_hash: "", commit_message: "", commit_dirty: true },
    },
    env_vars: {},
    latest_stage: stage,
    stages: [stage],
    source: { type: "github", config: {} },
    uses_functions: false,
  };
}

export function ownerLab(): CloudflareState {
  const state = emptyState(OWNER_ACCOUNT, OWNER_ZONE, "javiersc.com");
  tunnel(state, { name: "homelab", config_src: "local", id: OWNER_TUNNEL_ID });
  for (const hostname of OWNER_TUNNEL_ROUTES) {
    state.dnsRecords.push(
      dnsRecord({ name: hostname, type: "CNAME", content: `${OWNER_TUNNEL_ID}.cfargotunnel.com`, proxied: true }),
    );
  }
  state.pagesProjects.push({
    id: "4b1f8c2e-7a3d-4e5f-9c1b-2d6e8f0a1b3c",
    name: OWNER_PAGES_PROJECT,
    subdomain: `${OWNER_PAGES_PROJECT}.pages.dev`,
    production_branch: "main",
    created_on: "2025-03-01T10:00:00Z",
    build_config: {},
    deployment_configs: { preview: {}, production: {} },
    source: null,
    // The live site: one upload from the owner's machine (wrangler pages deploy), the production deployment.
    canonical_deployment: ownerDeployment(),
    latest_deployment: ownerDeployment(),
  });
  state.pagesDomains[OWNER_PAGES_PROJECT] = [pagesDomain(state, OWNER_DOCS_HOSTNAME)];
  state.dnsRecords.push(
    dnsRecord({ name: OWNER_DOCS_HOSTNAME, type: "CNAME", content: `${OWNER_PAGES_PROJECT}.pages.dev`, proxied: true }),
  );
  // The rest of the zone: the owner's site and mail, which the home lab never touches.
  state.dnsRecords.push(dnsRecord({ name: "javiersc.com", type: "A", content: "203.0.113.7", proxied: true }));
  state.dnsRecords.push(dnsRecord({ name: "www.javiersc.com", type: "CNAME", content: "javiersc.com", proxied: true }));
  state.dnsRecords.push(
    dnsRecord({ name: "javiersc.com", type: "MX", content: "mail.example.net", proxied: false, ttl: 3600 }),
  );
  state.dnsRecords.push(
    dnsRecord({ name: "javiersc.com", type: "TXT", content: '"v=spf1 include:example.net ~all"', ttl: 3600 }),
  );
  return state;
}
