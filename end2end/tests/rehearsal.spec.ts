import { test, expect } from "@playwright/test";
import { startShop, shopReady, stopShop } from "./own-shop";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";

// The owner rehearses a sale from her phone, on a shop of its own (the rehearsal refuses while
// the demo's hoodie drop runs, and ending it would change the shop every other test shares):
// she moves the sales out of the way, fills in "Rehearse this sale", follows the progress page
// (it refreshes itself) and reads the report. The rehearsal runs on a copy; the copy is gone.
const port = Number(process.env.HOLDFAST_E2E_REHEARSAL_PORT ?? 3212);
const base = `http://127.0.0.1:${port}`;
const secret = "e2e-rehearsal-secret-0123456789abcdefghij";

function setupCode(): string {
  return createHash("sha256")
    .update(Buffer.concat([Buffer.from("holdfast owner setup\0"), Buffer.from(secret)]))
    .digest("hex")
    .slice(0, 24);
}

test("the owner rehearses a sale from her phone and reads the report", async ({ page }) => {
  test.setTimeout(180_000);
  const dataDir = mkdtempSync(joinPath(tmpdir(), "holdfast-rehearsal-"));
  const server = startShop(port, dataDir, { HOLDFAST_SECRET: secret });
  try {
    await shopReady(base);
    await page.goto(`${base}/admin/setup?code=${setupCode()}`);
    await page.getByLabel("Email").fill("owner@harbour.example");
    await page.getByLabel(/Password/).fill("tide tables at dawn");
    await page.getByRole("button", { name: "Create the owner" }).click();

    // while the hoodie drop runs, a rehearsal is refused in plain words
    await page.goto(`${base}/admin/products/2`);
    await page.getByLabel(/How many shoppers/).fill("200");
    await page.getByRole("button", { name: "Start the rehearsal" }).click();
    await expect(page.getByText(/A sale is running now/)).toBeVisible();

    // the drop ends and the print's sale is called off: the shop is quiet
    await page.goto(`${base}/admin/products/1`);
    await page.getByRole("button", { name: "End the sale now" }).click();
    await page.goto(`${base}/admin/products/5`);
    await page.getByRole("button", { name: "Call off the sale" }).click();

    // 200 shoppers at once for 20 caramels, on a copy of the shop
    await page.goto(`${base}/admin/products/2`);
    const form = page.locator("#rehearse");
    await expect(form.getByRole("heading", { name: "Rehearse this sale" })).toBeVisible();
    await form.getByLabel(/How many shoppers/).fill("200");
    await form.getByLabel(/Stock for the rehearsal/).fill("20");
    await form.getByRole("button", { name: "Start the rehearsal" }).click();
    await expect(page).toHaveURL(/\/admin\/rehearsals\/\d+$/);
    await expect(page.getByRole("heading", { name: /Rehearsal of Sea-Salt Caramels/ })).toBeVisible();

    // the page follows it by itself until the report is there
    await expect(page.getByTestId("rehearsal-state")).toContainText("finished", { timeout: 120_000 });
    await expect(page.getByTestId("rehearsal-sold")).toHaveText(/All 20 units sold out/);
    await expect(page.getByTestId("rehearsal-audit")).toContainText("Nothing oversold, no order lost");
    await expect(page.getByTestId("rehearsal-advice")).toContainText("Every one of 200 shoppers got a true answer");
    await expect(page.getByTestId("rehearsal-outcomes")).toContainText("ordered");
    // the burn-down as the control room draws it, the full width of the phone
    const burn = page.getByRole("img", { name: "units left, second by second since the doors opened" });
    await expect(burn).toBeVisible();
    const box = await burn.boundingBox();
    expect(box && box.width).toBeGreaterThan(250);
    // readable on a 360 px phone: nothing wider than the screen but the scrolling table
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    // kept on the product's page; the live shop's stock is its own
    await page.getByRole("link", { name: "← Back to the product" }).click();
    await expect(page.locator("#rehearse").getByRole("link", { name: /finished/ })).toBeVisible();
    await expect(page.getByText(/Sea-Salt Caramels/).first()).toBeVisible();
    expect(readdirSync(dataDir).filter((f) => f.startsWith("rehearsal-"))).toEqual([]);
  } finally {
    await stopShop(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
