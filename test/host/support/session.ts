import { execFileSync } from "node:child_process";
import { SECRET_GROUPS, startListeners, type Listeners } from "./fixture";
import { installMocks, type NixosHostClass } from "./program";
import { groupExists, startTestHost, type TestHost } from "./testhost";

/** A throwaway sshd test host, its health-check listeners and the component under strict mocks. */
export interface HostSession {
  host: TestHost;
  listeners: Listeners;
  NixosHost: NixosHostClass;
  /** Stop everything the session started and delete this run's service groups, which the fake switch created. */
  stop(): Promise<void>;
}

export async function startHostSession(): Promise<HostSession> {
  // The names are random per run; one that exists already belongs to someone else, and deleting it at the end would be wrong.
  const taken = SECRET_GROUPS.filter(groupExists);
  if (taken.length > 0)
    throw new Error(
      `this run's service groups already exist on the machine: ${taken.join(", ")}; run the tests again for new names`,
    );
  // Strict mocks first, then the component (and @pulumi/command) is imported.
  installMocks(false);
  const { NixosHost } = await import("../../../components/host/nixos-host");
  const host = await startTestHost();
  const listeners = await startListeners();
  return {
    host,
    listeners,
    NixosHost,
    async stop() {
      await listeners.close();
      await host.stop();
      for (const g of SECRET_GROUPS) if (groupExists(g)) execFileSync("groupdel", [g]);
    },
  };
}
