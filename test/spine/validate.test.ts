import { describe, expect, it } from "vitest";
import { CATALOG } from "../../components/catalog/services";
import { validateCatalog, type Problem } from "../../components/catalog/validate";
import { loadStack } from "../../components/config/load";
import { parseStackConfig } from "../../components/config/schema";
import { catalogWith, config } from "./fixtures";

function only(problems: Problem[]): Problem {
  expect(problems, JSON.stringify(problems, null, 2)).toHaveLength(1);
  return problems[0];
}

describe("catalog validation", () => {
  it("reports a duplicate port on one host, naming both services", () => {
    const p = only(validateCatalog(catalogWith("radarr", { port: 8989 }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "port" });
    expect(p.message).toContain('port 8989 is already used by "sonarr"');
    expect(p.fix).toMatch(/free port/);
  });

  it("reports a duplicate public hostname", () => {
    const p = only(validateCatalog(catalogWith("radarr", { route: { name: "sonarr" } }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "route" });
    expect(p.message).toContain("sonarr-home.javiersc.com is already used by");
  });

  it("reports an invalid DNS label in a route name", () => {
    const p = only(validateCatalog(catalogWith("radarr", { route: { name: "Radarr_UI" } }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "route.name" });
    expect(p.message).toContain("not a valid DNS label");
  });

  it("reports an invalid service id", () => {
    const problems = validateCatalog(catalogWith("new service", { port: 1234 }), config());
    expect(problems.find((p) => p.field === "id")?.message).toContain("not a valid DNS label");
  });

  it("reports a route label that grows past 63 characters", () => {
    const p = only(validateCatalog(catalogWith("radarr", { route: { name: "r".repeat(60) } }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "route" });
    expect(p.fix).toContain("routePattern");
  });

  it.each([0, 65536, 80.5, -1])("reports port %s as out of range", (port) => {
    const p = only(validateCatalog(catalogWith("radarr", { port }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "port", fix: "use a whole number from 1 to 65535" });
  });

  it("refuses a public route on a loopback-only service", () => {
    const p = only(validateCatalog(catalogWith("ssh-mcp", { route: {} }), config()));
    expect(p).toMatchObject({ service: "ssh-mcp", field: "route" });
    expect(p.message).toContain("loopback-only");
  });

  it("refuses a proxy on a loopback-only service", () => {
    const p = only(validateCatalog(catalogWith("ssh-mcp", { proxyTo: "dashboard" }), config()));
    expect(p).toMatchObject({ service: "ssh-mcp", field: "proxyTo" });
  });

  it("reports an unknown dashboard group and lists the known ones", () => {
    const p = only(validateCatalog(catalogWith("radarr", { group: "Movies" }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "group" });
    expect(p.fix).toContain("Media & Entertainment");
  });

  it("reports a malformed 1Password reference with the SDK's reason", () => {
    const p = only(
      validateCatalog(catalogWith("radarr", { secrets: [{ name: "api-key", ref: "op://Homelab/Radarr" }] }), config()),
    );
    expect(p).toMatchObject({ service: "radarr", field: "secrets.ref" });
    expect(p.message).toContain("invalid format");
    expect(p.fix).toContain("op://<vault>/<item>");
  });

  it("reports a reference without the op:// prefix", () => {
    const p = only(
      validateCatalog(catalogWith("radarr", { secrets: [{ name: "api-key", ref: "Homelab/Radarr/key" }] }), config()),
    );
    expect(p.message).toContain('not prefixed with "op://"');
  });

  it("reports a routed host service without a port", () => {
    const p = only(validateCatalog(catalogWith("radarr", { port: undefined }), config()));
    expect(p).toMatchObject({ service: "radarr", field: "port" });
  });

  it("reports a stack that selects an unknown or pending service", () => {
    const problems = validateCatalog(CATALOG, config({ services: ["portal", "dashboard", "plex", "immich"] }));
    expect(problems.map((p) => p.message)).toEqual([
      '"plex" is not a catalog id',
      '"immich" is pending and cannot run yet',
    ]);
  });

  it("reports every problem at once", () => {
    const bad = catalogWith("radarr", { port: 8989, group: "Movies", secrets: [{ name: "k", ref: "nope" }] });
    expect(
      validateCatalog(bad, config())
        .map((p) => p.field)
        .sort(),
    ).toEqual(["group", "port", "secrets.ref"]);
  });
});

describe("stack config validation", () => {
  it("reports an unknown key and suggests the one meant", () => {
    const { problems } = parseStackConfig("prod", {
      domain: "javiersc.com",
      lanAddress: "192.0.2.10",
      edge: "none",
      lanAdress: "x",
    });
    expect(problems).toEqual([
      {
        key: "homelab:lanAdress",
        message: "unknown stack config key",
        fix: "rename it to homelab:lanAddress in Pulumi.prod.yaml",
      },
    ]);
  });

  it("reports a missing required key with the command that sets it", () => {
    const { problems } = parseStackConfig("prod", { lanAddress: "192.0.2.10", edge: "none" });
    expect(problems).toHaveLength(1);
    expect(problems[0].key).toBe("homelab:domain");
    expect(problems[0].fix).toContain("pulumi config set homelab:domain");
  });

  it("requires the Cloudflare ids and Access emails when the edge is Cloudflare", () => {
    const { problems } = parseStackConfig("prod", { domain: "javiersc.com", lanAddress: "192.0.2.10" });
    expect(problems.map((p) => p.key)).toEqual([
      "homelab:cloudflareAccountId",
      "homelab:cloudflareZoneId",
      "homelab:accessEmails",
      "homelab:accessTeamName",
    ]);
    expect(problems[0].fix).toContain("homelab:edge to none");
  });

  it("reports a value of the wrong type", () => {
    const { problems } = parseStackConfig("prod", {
      domain: "javiersc.com",
      lanAddress: "192.0.2.10",
      edge: "none",
      sshPort: "twenty-two",
    });
    expect(problems[0]).toMatchObject({ key: "homelab:sshPort" });
    expect(problems[0].message).toContain("is not a whole number");
    expect(problems[0].fix).toContain("a whole number from 1 to 65535");
  });

  const lan = { domain: "javiersc.com", lanAddress: "192.0.2.10", edge: "none" };
  it.each([
    ["domain", "javiersc", '"javiersc" is not a domain'],
    ["lanHostname", "nix_os.local", '"nix_os.local" is not a hostname'],
    ["lanAddress", "192.0.2.300", '"192.0.2.300" is not an IPv4 address'],
  ])("reports an invalid %s before the catalog is looked at", (key, value, message) => {
    const { problems, config } = parseStackConfig("prod", { ...lan, [key]: value });
    expect(config).toBeUndefined();
    expect(problems).toEqual([expect.objectContaining({ key: `homelab:${key}`, message })]);
  });

  it("reports a route pattern without {name}", () => {
    const { problems } = parseStackConfig("prod", {
      domain: "javiersc.com",
      lanAddress: "192.0.2.10",
      edge: "none",
      routePattern: "home",
    });
    expect(problems[0].key).toBe("homelab:routePattern");
  });

  it("accepts secret keys as the stack file stores them, encrypted or set with --path", () => {
    const { problems } = parseStackConfig("ci", {
      domain: "home.arpa",
      lanAddress: "192.0.2.10",
      edge: "none",
      sshPrivateKey: { secure: "v1:abc" },
      secretValues: { "mosquitto.password": { secure: "v1:def" } },
    });
    expect(problems).toEqual([]);
  });

  it("ignores other namespaces, which belong to providers", () => {
    const raw = {
      "homelab:domain": "javiersc.com",
      "homelab:lanAddress": "192.0.2.10",
      "homelab:edge": "none",
      "homelab:services": ["portal", "dashboard"],
      "cloudflare:apiToken": "x",
    };
    expect(loadStack("lan", raw).lab.config.domain).toBe("javiersc.com");
  });

  it("fails loading with one error that lists config and catalog problems by name", () => {
    expect(() => loadStack("prod", { "homelab:domain": "javiersc.com" })).toThrowError(
      /homelab:lanAddress: missing required stack config key/,
    );
  });
});
