// How the browser tests and the phone benchmark launch Chromium: Playwright cannot download its
// own browser here, so Debian's, headless, with nothing that would reach the network by itself.
export const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};
