import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real nginx, sshd, Chromium and the Pulumi engine take seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: the tiers that start servers run one file at a time.
    fileParallelism: false,
    reporters: ["default"],
  },
});
