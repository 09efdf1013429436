import { describe, expect, it } from "vitest";
import { CATALOG } from "../../components/catalog/services";
import { resolveHomelab, routedServices } from "../../components/catalog/resolve";
import {
  SERVICE_TOKEN_WARN_DAYS,
  accessApplicationFor,
  checkZeroTrust,
  ingressWithAccess,
  serviceTokenExpiryWarning,
} from "../../components/render/edge";
import { config } from "./fixtures";

const lab = resolveHomelab(CATALOG, config());
const audiences = () =>
  new Map(
    routedServices(lab)
      .filter((s) => s.protection === "access")
      .map((s) => [s.publicHostname as string, `aud-${s.id}`]),
  );

describe("the ingress fails closed", () => {
  it("every rule of a protected hostname carries its audience and the team", () => {
    const rules = ingressWithAccess(lab, audiences(), "javiersc");
    for (const rule of rules.filter((r) => r.hostname))
      expect(rule.access, rule.hostname).toMatchObject({ required: true, teamName: "javiersc" });
    expect(rules.at(-1)).toEqual({ service: "http_status:404" });
  });

  it("a protected hostname without an audience is an error naming it, never a rule without the check", () => {
    const missing = audiences();
    missing.delete("jellyfin-home.javiersc.com");
    expect(() => ingressWithAccess(lab, missing, "javiersc")).toThrow(
      /ingress rule for jellyfin-home\.javiersc\.com: .* no Access application audience/,
    );
  });
});

describe("the Zero Trust organisation is checked before the ingress changes", () => {
  const cfg = config();

  it("gives the team of the account's auth domain when homelab:accessTeamName agrees", () => {
    expect(checkZeroTrust(cfg, { authDomain: "javiersc.cloudflareaccess.com", loginMethods: ["onetimepin"] })).toBe(
      "javiersc",
    );
  });

  it("a configured team that is not the account's is an error naming the key and the right value", () => {
    expect(() =>
      checkZeroTrust(cfg, { authDomain: "javier-sc.cloudflareaccess.com", loginMethods: ["onetimepin"] }),
    ).toThrow(
      /homelab:accessTeamName is "javiersc", but the account's Zero Trust team is "javier-sc".*pulumi config set homelab:accessTeamName javier-sc --stack prod/,
    );
  });

  it("an organisation without a login method is an error saying how to add One-time PIN", () => {
    expect(() => checkZeroTrust(cfg, { authDomain: "javiersc.cloudflareaccess.com", loginMethods: [] })).toThrow(
      /no login method.*One-time PIN/,
    );
  });

  it("an auth domain outside cloudflareaccess.com is refused", () => {
    expect(() => checkZeroTrust(cfg, { authDomain: "javiersc.example.com", loginMethods: ["onetimepin"] })).toThrow(
      /does not end in \.cloudflareaccess\.com/,
    );
  });
});

describe("Access applications", () => {
  it("the docs site's application also covers the project's Pages hostnames", () => {
    const docs = lab.services.find((s) => s.entry.runsOn === "pages")!;
    expect(accessApplicationFor(lab.config, docs)?.coversPagesHostnames).toBe(true);
    const jellyfin = lab.services.find((s) => s.id === "jellyfin")!;
    expect(accessApplicationFor(lab.config, jellyfin)?.coversPagesHostnames).toBe(false);
  });

  it("API clients' service tokens last a year and carry the stack's key version", () => {
    const litellm = lab.services.find((s) => s.id === "litellm")!;
    expect(accessApplicationFor(lab.config, litellm)?.serviceToken).toMatchObject({ duration: "8760h", version: 1 });
    const rotated = resolveHomelab(
      CATALOG,
      config({ apiClientKeyVersion: 2, apiClientKeyOverlapUntil: "2026-12-07T00:00:00Z" }),
    );
    expect(
      accessApplicationFor(rotated.config, rotated.services.find((s) => s.id === "litellm")!)?.serviceToken?.version,
    ).toBe(2);
  });
});

describe("service-token expiry", () => {
  const now = new Date("2026-11-30T00:00:00Z");

  it("is quiet while more than the warning window is left", () => {
    expect(serviceTokenExpiryWarning("litellm", "2027-01-15T00:00:00Z", now, "prod")).toBeNull();
  });

  it(`warns within ${SERVICE_TOKEN_WARN_DAYS} days, naming the service, the date and how to rotate`, () => {
    expect(serviceTokenExpiryWarning("litellm", "2026-12-20T00:00:00Z", now, "prod")).toMatch(
      /litellm expires on 2026-12-20T00:00:00Z, in 20 days.*homelab:apiClientKeyVersion/,
    );
  });

  it("says so when it has already expired", () => {
    expect(serviceTokenExpiryWarning("ollama", "2026-11-01T00:00:00Z", now, "prod")).toMatch(
      /ollama expired on 2026-11-01/,
    );
  });
});
