import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { enabledSecrets } from "../../components/catalog/resolve";
import { CATALOG } from "../../components/catalog/services";
import { GROUP_PREFIX, SECRET_GROUPS, TEST_CATALOG, hostArgs, testLab } from "./support/fixture";
import { startHostSession } from "./support/session";
import { FakeEngine, runProgram } from "./support/program";
import { groupExists, sshdTier } from "./support/testhost";

const sshd = sshdTier();

describe("the host tests touch only what they created", () => {
  it("the test catalog differs from the real one only in its secrets' groups, all of them this run's", () => {
    expect(GROUP_PREFIX).toMatch(/^hl[0-9a-f]{6}-$/);
    const strip = (c: typeof CATALOG) =>
      c.map((e) => ({ ...e, secrets: e.secrets?.map((s) => ({ ...s, group: s.group?.replace(GROUP_PREFIX, "") })) }));
    expect(strip(TEST_CATALOG)).toEqual(strip(CATALOG));
    expect(SECRET_GROUPS.length, "the test services have group-readable secrets").toBeGreaterThan(0);
    for (const g of SECRET_GROUPS) expect(g.startsWith(GROUP_PREFIX), g).toBe(true);
    for (const e of CATALOG)
      for (const s of e.secrets ?? [])
        if (s.group) expect(SECRET_GROUPS.includes(s.group), `${e.id} keeps the real group ${s.group}`).toBe(false);
  });

  it.skipIf(!sshd.available)(
    "a session's switch creates this run's groups; stopping it deletes exactly those and leaves /run/sshd",
    async () => {
      const session = await startHostSession();
      try {
        const lab = testLab(session.host.paths);
        const groups = [...new Set(enabledSecrets(lab).map((s) => s.group))].filter((g) => g !== "root").sort();
        expect(groups).toEqual(SECRET_GROUPS);
        const result = await new FakeEngine().up(
          await runProgram(
            session.NixosHost,
            hostArgs(session.host.target(), session.host.paths, lab, session.listeners),
          ),
        );
        expect(result.failed?.result.stderr ?? "", "the deploy succeeds").toBe("");
        for (const g of SECRET_GROUPS) expect(groupExists(g), `${g} created by the fake switch`).toBe(true);
      } finally {
        await session.stop();
      }
      for (const g of SECRET_GROUPS) expect(groupExists(g), `${g} deleted`).toBe(false);
      expect(existsSync("/run/sshd"), "another sshd may need it").toBe(true);
    },
  );
});
