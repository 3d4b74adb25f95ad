import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { test, expect, open } from "./fixtures";

// Open pages hear the shop: a shopper looking at a product sees its stock change and its buy
// button go when someone else buys the last units, without reloading it herself.
// The driftwood coasters (25 in the demo) are bought by no other test.
test("a product page shows stock left and then sold out while another shopper buys", async ({ page, js, browser, request }) => {
  test.skip(!js, "without JavaScript a page is as true as when it was drawn (it says so by its time)");
  await open(page, "/p/driftwood-coasters", js);
  await expect(page.getByTestId("stock")).toHaveText("In stock");
  await expect(page.getByRole("button", { name: "Add to cart" })).toBeVisible();
  // a mark that a reload would wipe
  await page.evaluate(() => ((window as any).__stillHere = true));

  // someone orders all but 3 (the JSON API, as an app would)
  const res = await request.post("/api/place_order", {
    data: {
      idempotency_key: `e2e-live-${Date.now()}-aaaaaaaaaaaaaaaa`,
      lines: [{ product_id: await productId(page), quantity: 22 }],
      customer: { name: "Early Bird", phone: "+1 555 010 7001", address: "1 Pier Road" },
    },
  });
  expect(res.status()).toBe(200);
  // the badge changes in place: same page, no reload
  await expect(page.getByTestId("stock")).toHaveText("Only 3 left", { timeout: 5_000 });
  expect(await page.evaluate(() => (window as any).__stillHere)).toBe(true);

  // a third shopper is typing a quantity into the same page: her page must not be redrawn
  // under her fingers when the look changes (she would lose what she typed)
  const typist = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const typing = await typist.newPage();
  await open(typing, "/p/driftwood-coasters", js);
  await typing.evaluate(() => ((window as any).__stillHere = true));
  await typing.getByLabel("Quantity").fill("2");

  // another shopper, in her own browser, buys the last three
  const other = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const buyer = await other.newPage();
  await buyer.goto("/p/driftwood-coasters");
  await buyer.getByLabel("Quantity").fill("3");
  await buyer.getByRole("button", { name: "Add to cart" }).click();
  await expect(buyer).toHaveURL(/\/cart$/);
  await buyer.goto("/checkout");
  await buyer.getByLabel("Your name").fill("Last Buyer");
  await buyer.getByLabel("Phone number").fill("+1 555 010 7002");
  await buyer.getByLabel("Delivery address").fill("2 Pier Road");
  await buyer.getByRole("button", { name: "Place order" }).click();
  await expect(buyer).toHaveURL(/\/order\/[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  await other.close();

  // the first shopper's page, untouched by her, now says sold out and offers nothing to buy
  await expect(page.getByTestId("stock")).toHaveText("Sold out", { timeout: 5_000 });
  await expect(page.getByRole("button", { name: "Add to cart" })).toHaveCount(0);
  await expect(page.getByText("This item is sold out.")).toBeVisible();
  // the typist's page heard it too (its badge), but keeps her input until she is done
  await expect(typing.getByTestId("stock")).toHaveText("Sold out", { timeout: 5_000 });
  await typing.waitForTimeout(3_000);
  expect(await typing.evaluate(() => (window as any).__stillHere)).toBe(true);
  await expect(typing.getByLabel("Quantity")).toHaveValue("2");
  await typist.close();
});

/** The product id the page's live badge names (`id="stock-<id>"`). */
async function productId(page: import("@playwright/test").Page): Promise<number> {
  const id = await page.getByTestId("stock").locator("span").getAttribute("id");
  return Number(id!.replace("stock-", ""));
}

// A sale's countdown reaching zero opens buying on the open page: with JavaScript the shop tells
// the page the sale's phase changed and the page draws itself again; without it the page
// refreshes itself until the start. The sale goes straight into the server's SQLite file,
// starting in a few seconds (the owner's form only takes whole minutes), on a demo product no
// other test looks at — one per project, as both run at once.
test("a sale's countdown reaches zero and the buy button appears without the shopper reloading", async ({ page, js }) => {
  const slug = js ? "wildflower-honey" : "hand-knit-beanie";
  const starts = new Date(Date.now() + 6_000).toISOString();
  const ends = new Date(Date.now() + 86_400_000).toISOString();
  shopDb(
    "INSERT INTO sales (product_id, starts_at, ends_at, sale_price_cents, waiting_room) " +
      "SELECT id, ?, ?, 900, 0 FROM products WHERE slug = ? " +
      "ON CONFLICT (product_id) DO UPDATE SET starts_at = excluded.starts_at, ends_at = excluded.ends_at",
    starts,
    ends,
    slug,
  );
  // the shop's catalogue may be a quarter second old
  await expect(async () => {
    await open(page, `/p/${slug}`, js);
    await expect(page.getByTestId("countdown").first()).toBeVisible({ timeout: 1_000 });
  }).toPass();
  await expect(page.getByRole("button", { name: "Add to cart" })).toHaveCount(0);
  // nobody touches the page: at zero it can buy
  await expect(page.getByRole("button", { name: "Add to cart" })).toBeVisible({ timeout: 15_000 });
});

/** One statement on the e2e server's own SQLite file (Python's sqlite3: nothing to install). */
function shopDb(sql: string, ...args: string[]) {
  const dataDir = process.env.HOLDFAST_E2E_DATA ?? "../target/e2e-data";
  const file = path.resolve(dataDir, "holdfast.db");
  const script =
    "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1],timeout=10)\nc.execute(sys.argv[2],sys.argv[3:])\nc.commit()";
  execFileSync("python3", ["-c", script, file, sql, ...args]);
}
