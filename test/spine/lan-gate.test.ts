/**
 * Every service the LAN can reach either authenticates (`login`) or carries
 * the reason it may be open (`lanOpen`): the catalog rule, its refusals and
 * the services the real catalog leaves open.
 */
import { describe, expect, it } from "vitest";
import { backupCredentialsFor, hostSecrets } from "../../components/catalog/resolve";
import { CATALOG } from "../../components/catalog/services";
import { validateCatalog, type Problem } from "../../components/catalog/validate";
import { stackFromFile } from "../nixos/helpers";
import { catalogWith, config } from "./fixtures";

function only(problems: Problem[]): Problem {
  expect(problems, JSON.stringify(problems, null, 2)).toHaveLength(1);
  return problems[0];
}

const lanBound = CATALOG.filter(
  (e) => e.status === "enabled" && e.runsOn === "host" && e.port !== undefined && e.bind !== "127.0.0.1",
);

describe("a LAN-bound service authenticates or says why it need not", () => {
  it("accepts the real catalog, where every LAN-bound service has exactly one of login and lanOpen", () => {
    expect(validateCatalog(CATALOG, config())).toEqual([]);
    expect(lanBound.length).toBeGreaterThan(10);
    for (const e of lanBound)
      expect(
        [e.login, e.lanOpen].filter((x) => x !== undefined),
        `${e.id}: login or lanOpen`,
      ).toHaveLength(1);
  });

  it.each(lanBound.map((e) => e.id))("refuses %s with neither, naming the service, its port and the fix", (id) => {
    const p = only(validateCatalog(catalogWith(id, { login: undefined, lanOpen: undefined }), config()));
    expect(p).toMatchObject({ service: id, field: "login" });
    expect(p.message).toContain(`port ${CATALOG.find((e) => e.id === id)!.port} binds 0.0.0.0`);
    expect(p.fix).toMatch(/add login: .* or lanOpen: .* or bind it to 127\.0\.0\.1/);
  });

  it("refuses a new service bound to the LAN by default (no bind) that says nothing", () => {
    const p = only(
      validateCatalog(
        catalogWith("newapp", {
          port: 4321,
          route: false,
          bind: undefined,
          login: undefined,
          lanOpen: undefined,
          backup: undefined,
        }),
        config(),
      ),
    );
    expect(p).toMatchObject({ service: "newapp", field: "login" });
    expect(p.message).toContain("binds 0.0.0.0");
  });

  it("accepts a LAN-bound service with only a login, or only a reason to be open", () => {
    expect(
      validateCatalog(
        catalogWith("ollama", { lanOpen: undefined, login: "a key in the Authorization header" }),
        config(),
      ),
    ).toEqual([]);
    expect(validateCatalog(catalogWith("backrest", { login: undefined, lanOpen: "a test reason" }), config())).toEqual(
      [],
    );
  });

  it("accepts a loopback-only service with neither: the LAN cannot reach it", () => {
    expect(
      validateCatalog(
        catalogWith("ollama", { bind: "127.0.0.1", route: false, lanOpen: undefined, nativeClients: undefined }),
        config(),
      ),
    ).toEqual([]);
  });

  it("refuses both at once, since a service either checks callers or is open", () => {
    const p = only(validateCatalog(catalogWith("backrest", { lanOpen: "both" }), config()));
    expect(p).toMatchObject({ service: "backrest", field: "lanOpen" });
    expect(p.fix).toMatch(/keep login .* otherwise remove login and keep lanOpen/);
  });

  it("refuses lanOpen on a loopback-only service", () => {
    const p = only(validateCatalog(catalogWith("ssh-mcp", { lanOpen: "nothing to open" }), config()));
    expect(p).toMatchObject({ service: "ssh-mcp", field: "lanOpen", fix: "remove lanOpen" });
    expect(p.message).toContain("127.0.0.1");
  });

  it("refuses lanOpen on a service with no listener", () => {
    const p = only(validateCatalog(catalogWith("tailscale", { lanOpen: "nothing to open" }), config()));
    expect(p).toMatchObject({ service: "tailscale", field: "lanOpen", fix: "remove lanOpen" });
  });

  it.each([
    ["login", ""],
    ["lanOpen", "   "],
    ["login", "two\nlines"],
    ["lanOpen", "x".repeat(201)],
    ["login", 42],
  ])("refuses %s %j as text a page could not carry", (field, value) => {
    const problems = validateCatalog(catalogWith("backrest", { login: undefined, [field]: value }), config());
    expect(
      problems.some((p) => p.service === "backrest" && p.field === field),
      JSON.stringify(problems),
    ).toBe(true);
  });

  it("leaves a service out of the stack alone", () => {
    const stack = config({ services: ["portal", "dashboard", "cloudflared"] });
    expect(validateCatalog(catalogWith("ollama", { lanOpen: undefined }), stack)).toEqual([]);
  });
});

describe("the catalog's decisions for the services the review found open", () => {
  const entry = (id: string) => CATALOG.find((e) => e.id === id)!;

  it("Backrest logs in with a password from 1Password", () => {
    expect(entry("backrest").login).toMatch(/ui-password/);
    expect(entry("backrest").secrets?.find((s) => s.name === "ui-password")?.ref).toMatch(/^op:\/\//);
  });

  it("Cockpit logs in over TLS", () => {
    expect(entry("cockpit").login).toMatch(/TLS/);
  });

  it("LiteLLM checks its master key", () => {
    expect(entry("litellm").login).toMatch(/master key/);
    expect(entry("litellm").secrets?.some((s) => s.name === "master-key")).toBe(true);
  });

  it("Ollama and PicoClaw stay on the LAN for the owner's Local links, each with its reason", () => {
    for (const id of ["ollama", "picoclaw"]) {
      expect(entry(id).bind, id).toBe("0.0.0.0");
      expect(entry(id).lanOpen, id).toBeTruthy();
    }
  });
});

describe("Backrest's login password", () => {
  it("reaches only Backrest's host: a host that only runs restic gets the repository's credentials and not the UI's password", () => {
    const lab = stackFromFile("multihost");
    expect(
      backupCredentialsFor(lab, "gpu")
        .map((s) => s.name)
        .sort(),
    ).toEqual(["b2-account-id", "b2-account-key", "restic-password"]);
    expect(hostSecrets(lab, "gpu").map((s) => s.key)).not.toContain("backrest.ui-password");
    expect(hostSecrets(lab, "main").map((s) => s.key)).toContain("backrest.ui-password");
  });
});
