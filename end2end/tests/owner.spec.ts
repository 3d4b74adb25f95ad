import { createHash } from "node:crypto";
import { test, expect } from "./fixtures";

// The owner's flows on a phone, after every shopper test has run (they share the demo shop):
// create the first owner, watch an order arrive in the control room, take it through paid and
// shipped, export the CSV, and pull the brake on a product — which a shopper sees at checkout.
const secret = process.env.HOLDFAST_E2E_SECRET ?? "e2e-owner-secret-0123456789abcdefghijk";
const email = "owner@harbour.example";
const password = "tide tables at dawn";

function setupCode(): string {
  return createHash("sha256")
    .update(Buffer.concat([Buffer.from("holdfast owner setup\0"), Buffer.from(secret)]))
    .digest("hex")
    .slice(0, 24);
}

test("the owner runs the shop from a phone and pulls the brake", async ({ page, browser, request }) => {
  // the first owner, on the one-time setup page
  await page.goto(`/admin/setup?code=${setupCode()}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel(/Password/).fill(password);
  await page.getByRole("button", { name: "Create the owner" }).click();
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();

  // the control room is open when a shopper orders: the count goes up without a reload
  await page.getByRole("link", { name: "Live control room →" }).click();
  await expect(page.locator("body")).toHaveAttribute("data-live", "on");
  // (the last minute's count slides as earlier tests' orders age out: watch the server's
  // "ordered" counter, which only grows)
  const ordered = page.locator('[data-answer="ordered"]');
  const before = Number(await ordered.textContent());
  await page.evaluate(() => ((window as any).__stillLive = true));
  const placed = await request.post("/api/place_order", {
    data: {
      idempotency_key: `owner-e2e-${Date.now()}`,
      lines: [{ product_id: 3, quantity: 1 }],
      customer: { name: "Grace Hopper", phone: "+44 20 7946 0958", address: "2 Quay St", note: "" },
    },
  });
  expect(placed.status()).toBe(200);
  const code: string = (await placed.json()).order_code;
  // the shopper keeps her order's page open in her own browser: it shows each change by itself
  const shopperSide = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const orderPage = await shopperSide.newPage();
  await orderPage.goto(`/status?code=${code}&phone=${encodeURIComponent("+44 20 7946 0958")}`);
  await expect(orderPage.getByTestId("order-status")).toHaveText("Awaiting payment");
  await expect(ordered).toHaveText(String(before + 1));
  await expect(page.locator("#orders-last-minute")).not.toHaveText("0");
  expect(await page.evaluate(() => (window as any).__stillLive)).toBe(true);

  // the order: find it, mark it paid, ship it with a tracking number
  await page.getByRole("link", { name: "Orders", exact: true }).click();
  await page.getByLabel("Code or phone").fill("7946");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByRole("link", { name: code }).click();
  await page.getByRole("button", { name: "Mark paid" }).click();
  await expect(page.getByText("Status: Paid")).toBeVisible();
  await page.getByLabel("Tracking number").fill("RR123456789GB");
  await page.getByRole("button", { name: "Mark shipped" }).click();
  await expect(page.getByText("Status: Shipped")).toBeVisible();
  await expect(page.getByText("RR123456789GB").first()).toBeVisible();
  // ...and the shopper's page, untouched by her, shows it shipped with its tracking number
  await expect(orderPage.getByTestId("order-status")).toHaveText("Shipped");
  await expect(orderPage.getByTestId("tracking-number")).toHaveText("RR123456789GB");
  await shopperSide.close();

  // the export, as the browser downloads it
  const csv = await page.request.get("/admin/orders.csv?status=shipped");
  expect(csv.headers()["content-type"]).toBe("text/csv; charset=utf-8");
  const body = await csv.body();
  expect([...body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  expect(body.toString("utf8")).toContain(`"${code}",`);
  expect(body.toString("utf8")).toContain("RR123456789GB");

  // the brake on the candles; a shopper trying to buy them is told, nothing is sold
  await page.getByRole("link", { name: "Live", exact: true }).click();
  await page.getByRole("button", { name: "Pause all checkout" }).waitFor();
  const shopper = await browser.newContext();
  const shop = await shopper.newPage();
  await page.request.post("/admin/brake", {
    form: {
      csrf: (await page.locator('input[name="csrf"]').first().getAttribute("value"))!,
      scope: "6",
      action: "pause",
    },
  });
  // pulled as if from another phone: the open control room notices by itself
  await expect(page.getByRole("heading", { name: /Beeswax Candle paused/ })).toBeVisible();
  await shop.goto("/p/beeswax-candle");
  // the product's page says so before she fills anything in
  await expect(shop.getByTestId("paused")).toContainText("Checkout is paused for a moment");
  await shop.getByRole("button", { name: "Add to cart" }).click();
  await shop.goto("/checkout");
  await shop.getByLabel("Your name").fill("Ada Lovelace");
  await shop.getByLabel("Phone number").fill("+1 555 010 2030");
  await shop.getByLabel("Delivery address").fill("1 Harbour Row");
  await shop.getByRole("button", { name: "Place order" }).click();
  await expect(shop.getByText(/Checkout is paused for a moment/)).toBeVisible();

  // resume from the phone: the shopper's retry goes through
  await page.getByRole("button", { name: "Resume Beeswax Candle" }).click();
  // (the candles have no sale: once resumed they leave the control room)
  await expect(page.getByRole("heading", { name: /Beeswax Candle/ })).toHaveCount(0);
  await expect(page.locator("#checkout-state")).toHaveText("Checkout is open.");
  await shop.goto("/checkout");
  await shop.getByLabel("Your name").fill("Ada Lovelace");
  await shop.getByLabel("Phone number").fill("+1 555 010 2030");
  await shop.getByLabel("Delivery address").fill("1 Harbour Row");
  await shop.getByRole("button", { name: "Place order" }).click();
  await expect(shop).toHaveURL(/\/order\/[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  await shopper.close();

  // nothing on the owner's pages scrolls sideways on a 360 px phone
  for (const path of ["/admin", "/admin/live", "/admin/orders", `/admin/orders/${code}`]) {
    await page.goto(path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
});
