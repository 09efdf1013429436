import { execFileSync } from "node:child_process";
import { SECRET_GROUPS, startListeners, type Listeners } from "./fixture";
import { installMocks, type NixosHostClass } from "./program";
import { groupExists, startTestHost, type TestHost } from "./testhost";

/** A throwaway sshd test host, its health-check listeners and the component under strict mocks. */
export interface HostSession {
  host: TestHost;
  listeners: Listeners;
  NixosHost: NixosHostClass;
  /** Service groups this machine had before the test; the fake switch creates the others. */
  preexistingGroups: ReadonlySet<string>;
  /** Stop everything the session started and delete the groups the test created. */
  stop(): Promise<void>;
}

export async function startHostSession(): Promise<HostSession> {
  // Strict mocks first, then the component (and @pulumi/command) is imported.
  installMocks(false);
  const { NixosHost } = await import("../../../components/host/nixos-host");
  const preexistingGroups = new Set(SECRET_GROUPS.filter(groupExists));
  const host = await startTestHost();
  const listeners = await startListeners();
  return {
    host,
    listeners,
    NixosHost,
    preexistingGroups,
    async stop() {
      await listeners.close();
      await host.stop();
      // The fake switch creates the service groups, as NixOS would; remove the ones this test made.
      for (const g of SECRET_GROUPS) if (!preexistingGroups.has(g) && groupExists(g)) execFileSync("groupdel", [g]);
    },
  };
}
