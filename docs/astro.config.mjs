// The docs site's Astro project. `npm run docs` copies this folder, adds the
// pages generated from the catalog (components/render/docs.ts) and the stack's
// homelab-site.json, and builds it; edit the hand-written pages in
// src/content/docs/notes/ and src/content/docs/operator/, never the
// generated ones.
import { readFileSync } from "node:fs";
import { defineConfig } from "astro/config";
import starlight from "@astrojs/starlight";

const site = JSON.parse(readFileSync(new URL("./homelab-site.json", import.meta.url), "utf8"));

export default defineConfig({
  site: site.site ?? undefined,
  // No network at build time: no telemetry, no remote fonts or images.
  telemetry: false,
  integrations: [
    starlight({
      title: site.title,
      customCss: ["./src/styles/tables.css"],
      // Search is Starlight's pagefind: the index is built locally after the
      // pages and served with the site, so it works offline and behind Access.
      sidebar: [
        { label: "Home", link: "/" },
        { label: "Services", autogenerate: { directory: "services" } },
        { label: "Reference", autogenerate: { directory: "reference" } },
        { label: "Runbooks", autogenerate: { directory: "runbooks" } },
        { label: "Operator", autogenerate: { directory: "operator" } },
        { label: "Notes", autogenerate: { directory: "notes" } },
      ],
    }),
  ],
});
