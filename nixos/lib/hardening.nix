# systemd sandboxing shared by the units this bundle defines itself
# (cloudflared, the secret renderers, the Transmission schedule, PicoClaw,
# the SSH MCP endpoint). A unit that needs more states it next to its
# definition, with the reason.
#
# Not a module: import it with `import ../lib/hardening.nix` and merge it
# into `serviceConfig`.
{
  NoNewPrivileges = true;
  ProtectSystem = "strict";
  ProtectHome = true;
  PrivateTmp = true;
  PrivateDevices = true;
  PrivateMounts = true;
  ProtectClock = true;
  ProtectControlGroups = true;
  ProtectHostname = true;
  ProtectKernelLogs = true;
  ProtectKernelModules = true;
  ProtectKernelTunables = true;
  ProtectProc = "invisible";
  ProcSubset = "pid";
  LockPersonality = true;
  RestrictNamespaces = true;
  RestrictRealtime = true;
  RestrictSUIDSGID = true;
  RemoveIPC = true;
  SystemCallArchitectures = "native";
  # @resources stays allowed: Go programs (cloudflared, PicoClaw) raise
  # their open-files limit at startup. A call outside the filter fails
  # with EPERM instead of killing the process.
  SystemCallFilter = [
    "@system-service"
    "~@privileged"
  ];
  SystemCallErrorNumber = "EPERM";
  RestrictAddressFamilies = [
    "AF_INET"
    "AF_INET6"
    "AF_UNIX"
  ];
  CapabilityBoundingSet = "";
  AmbientCapabilities = "";
  UMask = "0077";
}
