// Playwright drives Debian's chromium (no browser download): CHROMIUM names
// the binary, else `chromium` on PATH. `make test-browser` runs this.
import { execSync } from "node:child_process";
import { defineConfig } from "@playwright/test";

function chromium(): string {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  try {
    return execSync("command -v chromium", { shell: "/bin/sh", encoding: "utf8" }).trim();
  } catch {
    throw new Error("no chromium on PATH: apt-get install -y chromium (or set CHROMIUM to a Chromium binary)");
  }
}

export default defineConfig({
  testDir: "test",
  testMatch: /.*\.spec\.ts/,
  timeout: 240_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "../../.local/playwright",
  use: {
    headless: true,
    viewport: { width: 1400, height: 900 },
    launchOptions: { executablePath: chromium() },
  },
});
