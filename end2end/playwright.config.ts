import { defineConfig, devices } from "@playwright/test";
import { launchOptions } from "./chromium.mjs";

// The server under test: the debug build (the one `cargo test` builds), on its own port, with a
// fresh data directory (scripts/test sets HOLDFAST_E2E_DATA to a new temp dir each run), serving
// the bundle in target/site (scripts/test builds the release one there, and puts its hash.txt
// beside this server so pages name its files).
const port = Number(process.env.HOLDFAST_E2E_PORT ?? 3210);
const dataDir = process.env.HOLDFAST_E2E_DATA ?? "../target/e2e-data";
const server = process.env.HOLDFAST_E2E_SERVER ?? "../target/debug/server";

// A small phone: 360 px wide, touch.
const phone = {
  viewport: { width: 360, height: 740 },
  isMobile: true,
  hasTouch: true,
  userAgent: devices["Pixel 5"].userAgent,
};

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: "chromium",
    launchOptions,
    trace: "retain-on-failure",
    ...phone,
  },
  projects: [
    { name: "hydrated", use: { javaScriptEnabled: true }, testIgnore: /waiting-room|owner|restart|rehearsal/ },
    { name: "no-js", use: { javaScriptEnabled: false }, testIgnore: /waiting-room|owner|restart|rehearsal/ },
    // a shop of its own, stopped and started again mid-wait
    { name: "restart", use: { javaScriptEnabled: true }, testMatch: /restart/ },
    // the owner rehearses a sale: on a shop of its own too (it ends the demo's sales first)
    { name: "rehearsal", use: { javaScriptEnabled: false }, testMatch: /rehearsal/ },
    // the waiting-room runs share the demo's one queued product: one after the other
    { name: "queue-hydrated", use: { javaScriptEnabled: true }, testMatch: /waiting-room/ },
    {
      name: "queue-no-js",
      use: { javaScriptEnabled: false },
      testMatch: /waiting-room/,
      dependencies: ["queue-hydrated"],
    },
    // the owner pauses a product: alone, after every shopper test
    {
      name: "owner",
      use: { javaScriptEnabled: true },
      testMatch: /owner\.spec\.ts/,
      dependencies: ["hydrated", "no-js", "queue-no-js"],
    },
    // then the owner's products (logs in as the owner that test created)
    {
      name: "owner-products",
      use: { javaScriptEnabled: true },
      testMatch: /owner-products\.spec\.ts/,
      dependencies: ["owner"],
    },
    // last: the shop's settings change every page (its name, currency, time zone)
    {
      name: "owner-settings",
      use: { javaScriptEnabled: true },
      testMatch: /owner-settings\.spec\.ts/,
      dependencies: ["owner-products"],
    },
  ],
  webServer: {
    command: server,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    env: {
      HOLDFAST_ADDR: `127.0.0.1:${port}`,
      HOLDFAST_DATA_DIR: dataDir,
      LEPTOS_SITE_ROOT: "../target/site",
      LEPTOS_OUTPUT_NAME: "holdfast",
      RUST_LOG: "warn",
      // every browser here shares 127.0.0.1, like phones behind one carrier NAT
      HOLDFAST_RATE_LIMIT_PER_SEC: "20",
      // the owner test derives the one-time setup code from it
      HOLDFAST_SECRET: process.env.HOLDFAST_E2E_SECRET ?? "e2e-owner-secret-0123456789abcdefghijk",
    },
  },
});
