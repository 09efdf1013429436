import { it, vi } from "vitest";
import { deployConfigFor, runProgram } from "./run";
vi.mock("@1password/sdk", async (importOriginal) =>
  (await import("./fake-onepassword")).fakeOnePasswordSdk(await importOriginal<object>(), "value-of-"),
);
it("dbg", async () => {
  vi.stubEnv("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake");
  const [c, k] = deployConfigFor("prod");
  const r = await runProgram("prod", c, k);
  for (const n of r.tree.filter((n) => n.aliases.length > 0)) console.log(n.name, n.parent, JSON.stringify(n.aliases));
}, 60000);
