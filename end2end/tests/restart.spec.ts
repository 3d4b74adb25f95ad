import { test, expect, Page } from "@playwright/test";
import { startShop, shopReady, stopShop } from "./own-shop";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";

// A shop of its own (not Playwright's web server): this test stops it and starts it again while
// a shopper waits in line, on the same data directory, as a restart after a deploy or a crash.
const port = Number(process.env.HOLDFAST_E2E_RESTART_PORT ?? 3211);
const base = `http://127.0.0.1:${port}`;
const HOODIE = { id: 1 };
const secret = "e2e-restart-secret-0123456789abcdefghijk";

const start = (dataDir: string) =>
  startShop(port, dataDir, { HOLDFAST_RATE_LIMIT_PER_SEC: "20", HOLDFAST_SECRET: secret });
const ready = () => shopReady(base);
const stop = stopShop;

async function api(path: string, body: object | string) {
  const form = typeof body === "string";
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": form ? "application/x-www-form-urlencoded" : "application/json" },
    body: form ? body : JSON.stringify(body),
    redirect: "manual",
  });
  expect(res.status).toBeLessThan(400);
  return form ? null : res.json();
}

/** Errors the browser logs while the shop is away are expected here; anything else fails. */
function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  const away =
    /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING|status of 5\d\d/;
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !away.test(m.text())) errors.push(m.text());
  });
  return errors;
}

test("a waiting page recovers by itself when the shop restarts, and lands on its turn", async ({
  page,
}) => {
  test.setTimeout(120_000);
  const dataDir = mkdtempSync(joinPath(tmpdir(), "holdfast-restart-"));
  let server = start(dataDir);
  try {
    await ready();
    const errors = watchConsole(page);
    // five phones hold the hoodie's ten units between them; ours waits first in line
    const held: string[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await api("/api/queue/join", {
        product_id: HOODIE.id,
        quantity: 2,
        phone: `+44 7700 700${100 + i}`,
      });
      expect(s.state).toBe("admitted");
      held.push(s.ticket);
    }
    const ours = await api("/api/queue/join", {
      product_id: HOODIE.id,
      quantity: 1,
      phone: "+44 7700 700555",
    });
    expect(ours.state).toBe("waiting");

    await page.goto(`${base}/queue/${ours.ticket}`);
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
    await expect(page.locator("html")).toHaveAttribute("data-hf-line", "open");
    await expect(page.getByTestId("position")).toHaveText("1");
    // the island's WASM is fetched lazily, after the page has hydrated: wait until it is awake
    await expect(page.getByTestId("queue-live")).toHaveAttribute("data-awake", "true");

    // the shop goes away: the stream breaks, the page says it is still trying and keeps the place
    await stop(server);
    await expect(page.locator("html")).not.toHaveAttribute("data-hf-line", "open");
    await expect(page.getByTestId("still-trying")).toBeVisible({ timeout: 12_000 });
    await expect(page.getByTestId("position")).toHaveText("1");

    // it comes back on the same data: the page reconnects by itself...
    server = start(dataDir);
    await ready();
    await expect(page.locator("html")).toHaveAttribute("data-hf-line", "open", {
      timeout: 30_000,
    });
    // ...and when units come free, its turn reaches it without anyone reloading it
    for (const ticket of held) await api("/api/queue/leave", `ticket=${ticket}`);
    await expect(page.getByTestId("queue-state")).toHaveAttribute("data-state", "admitted", {
      timeout: 20_000,
    });
    await expect(page).toHaveTitle(/It's your turn!/);
    await expect(page.getByLabel("Your name")).toBeFocused();
    expect(errors, "browser console errors").toEqual([]);
  } finally {
    await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
