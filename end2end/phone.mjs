// The phone benchmark (`scripts/phone`): a first visit to each shopper page in Debian's Chromium
// under Lighthouse's mobile profile — Slow 4G (562.5 ms per request: 150 ms RTT × 3.75; 1.6 Mbit/s
// down, 750 kbit/s up), 4× CPU slowdown, a 360 × 780 phone — with an empty cache, and prints per
// page: bytes on the wire by type, LCP, CLS, and when the page was interactive (the WASM ran and
// hydrated its islands: `html[data-hydrated]`). A benchmark, not a test: timings vary by machine.
//
// node phone.mjs <base url> [runs]   (scripts/phone builds, starts the release server and calls it)

import { chromium } from "@playwright/test";
import { launchOptions } from "./chromium.mjs";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const runs = Number(process.argv[3] ?? 3);

const SLOW_4G = {
  offline: false,
  latency: 562.5,
  downloadThroughput: (1.6 * 1024 * 1024) / 8,
  uploadThroughput: (750 * 1024) / 8,
};

async function pages() {
  const products = await (await fetch(`${base}/api/products`)).json();
  const direct = products.find((p) => !(p.sale && p.sale.waiting_room)) ?? products[0];
  const queued = products.find((p) => p.sale && p.sale.waiting_room);
  const list = [
    ["catalogue", "/"],
    ["product", `/p/${direct.slug}`],
  ];
  if (queued) list.push(["product (drop)", `/p/${queued.slug}`]);
  list.push(["cart", "/cart"], ["order status", "/status"]);
  return list;
}

async function visit(browser, path) {
  const context = await browser.newContext({
    viewport: { width: 360, height: 780 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent:
      "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", SLOW_4G);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
  // bytes on the wire, per request (encoded, as received)
  const wire = new Map();
  cdp.on("Network.loadingFinished", (e) => wire.set(e.requestId, e.encodedDataLength));
  const kinds = new Map();
  cdp.on("Network.responseReceived", (e) => {
    const type = (e.response.mimeType ?? "").split(";")[0];
    const url = e.response.url;
    let kind = "other";
    if (url.endsWith(".wasm") || type === "application/wasm") kind = "wasm";
    else if (type.includes("javascript")) kind = "js";
    else if (type === "text/html") kind = "html";
    else if (type === "text/css") kind = "css";
    else if (type.startsWith("image/")) kind = "image";
    kinds.set(e.requestId, kind);
  });
  await page.addInitScript(() => {
    window.__lcp = 0;
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__lcp = e.renderTime || e.loadTime || e.startTime;
    }).observe({ type: "largest-contentful-paint", buffered: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: "layout-shift", buffered: true });
    // `data-hydrated` is set on <html> once the WASM ran and hydrated the islands
    new MutationObserver(() => {
      if (!window.__interactive && document.documentElement?.dataset.hydrated) {
        window.__interactive = performance.now();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
  });
  const started = Date.now();
  await page.goto(base + path, { waitUntil: "load", timeout: 60_000 });
  try {
    await page.waitForFunction(() => window.__interactive, null, { timeout: 30_000 });
  } catch {
    // no JavaScript ran: reported as "—"
  }
  // let late requests (lazy chunks) finish and LCP settle
  await page.waitForTimeout(1500);
  const m = await page.evaluate(() => ({
    lcp: window.__lcp,
    cls: window.__cls,
    interactive: window.__interactive ?? null,
  }));
  const bytes = { html: 0, css: 0, js: 0, wasm: 0, image: 0, other: 0 };
  for (const [id, len] of wire) bytes[kinds.get(id) ?? "other"] += len;
  await context.close();
  return { ...m, bytes, wall: Date.now() - started };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const browser = await chromium.launch(launchOptions);
console.log(
  `phone: Slow 4G (562.5 ms/request, 1.6 Mbit/s down, 750 kbit/s up), 4× CPU slowdown, 360×780, empty cache; median of ${runs} runs`,
);
console.log(
  "page".padEnd(16) +
    "html kB".padStart(8) +
    "css kB".padStart(8) +
    "js kB".padStart(8) +
    "wasm kB".padStart(9) +
    "img kB".padStart(8) +
    "total kB".padStart(10) +
    "LCP s".padStart(8) +
    "CLS".padStart(7) +
    "interactive s".padStart(15),
);
for (const [name, path] of await pages()) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await visit(browser, path));
  const kb = (k) => median(results.map((r) => r.bytes[k])) / 1000;
  const total = median(results.map((r) => Object.values(r.bytes).reduce((a, b) => a + b, 0))) / 1000;
  const inter = results.every((r) => r.interactive != null)
    ? (median(results.map((r) => r.interactive)) / 1000).toFixed(2)
    : "—";
  console.log(
    name.padEnd(16) +
      kb("html").toFixed(1).padStart(8) +
      kb("css").toFixed(1).padStart(8) +
      kb("js").toFixed(1).padStart(8) +
      kb("wasm").toFixed(1).padStart(9) +
      kb("image").toFixed(1).padStart(8) +
      total.toFixed(1).padStart(10) +
      (median(results.map((r) => r.lcp)) / 1000).toFixed(2).padStart(8) +
      median(results.map((r) => r.cls)).toFixed(3).padStart(7) +
      inter.padStart(15),
  );
}
await browser.close();
