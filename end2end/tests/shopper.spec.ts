import { test, expect, open } from "./fixtures";

const shopper = { name: "Grace Hopper", phone: "+1 555 010 4242", address: "7 Quay Street\nPorthaven" };

test("browse, add to cart, check out, see the code and look it up", async ({ page, js }) => {
  await open(page, "/", js);
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  await page.getByRole("link", { name: "Sea-Salt Caramels" }).click();

  await expect(page.getByRole("heading", { name: "Sea-Salt Caramels" })).toBeVisible();
  await expect(page.getByTestId("price")).toHaveText("¥12.50");
  // pages are server HTML with islands: the forms post and the shop answers with the next page,
  // with JavaScript or without; a page without an island (this one) loads no WASM at all
  if (js) await expect(page.locator('script[type="module"]')).toHaveCount(0);
  await page.getByLabel("Quantity").fill("2");
  await page.getByRole("button", { name: "Add to cart" }).click();

  await expect(page).toHaveURL(/\/cart$/);
  await expect(page.getByRole("link", { name: "Sea-Salt Caramels" })).toBeVisible();
  await expect(page.getByTestId("cart-total")).toHaveText("¥25.00");

  // change the quantity
  await page.getByLabel("Quantity of Sea-Salt Caramels").fill("3");
  await page.getByRole("button", { name: "Update" }).click();
  await expect(page.getByTestId("cart-total")).toHaveText("¥37.50");

  await page.getByRole("link", { name: "Checkout" }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await page.getByLabel("Your name").fill(shopper.name);
  await page.getByLabel("Phone number").fill(shopper.phone);
  await page.getByLabel("Delivery address").fill(shopper.address);
  await page.getByRole("button", { name: "Place order" }).click();

  await expect(page).toHaveURL(/\/order\/[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  await expect(page.getByRole("heading", { name: /your order is in/i })).toBeVisible();
  const code = (await page.getByTestId("order-code").textContent())!.trim();
  expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  await expect(page.getByTestId("order-total")).toHaveText("¥37.50");

  // the cart is empty after ordering
  await open(page, "/cart", js);
  await expect(page.getByText("Your cart is empty.")).toBeVisible();

  // look the order up by code and phone
  await open(page, "/status", js);
  await page.getByLabel("Order code").fill(code.toLowerCase());
  await page.getByLabel("Phone number").fill(shopper.phone);
  await page.getByRole("button", { name: "Look up" }).click();
  await expect(page.getByTestId("order-code")).toHaveText(code);
  await expect(page.getByTestId("order-status")).toContainText("Awaiting payment");

  // a wrong phone number finds nothing
  await open(page, `/status?code=${code}&phone=%2B15550000000`, js);
  await expect(page.getByRole("alert")).toContainText("No order with that code");
});

test("the cart survives a reload, and a line can be removed", async ({ page, js }) => {
  await open(page, "/p/harbour-mug", js);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page).toHaveURL(/\/cart$/);
  await page.reload();
  await expect(page.getByRole("link", { name: "Harbour Mug" })).toBeVisible();
  await expect(page.getByTestId("cart-total")).toHaveText("¥18.00");
  await page.getByRole("button", { name: "Remove" }).click();
  await expect(page.getByText("Your cart is empty.")).toBeVisible();
  await page.reload();
  await expect(page.getByText("Your cart is empty.")).toBeVisible();
});

test("a sold-out product shows its badge and cannot be bought", async ({ page, js }) => {
  await open(page, "/", js);
  const card = page.getByRole("listitem").filter({ hasText: "Founders' Edition Print" });
  await expect(card.getByText("Sold out")).toBeVisible();
  await expect(page.getByRole("listitem").filter({ hasText: "Hand-Knit Beanie" }).getByText(/Only \d left/)).toBeVisible();

  await open(page, "/p/founders-print", js);
  await expect(page.getByTestId("stock")).toHaveText("Sold out");
  await expect(page.getByRole("button", { name: "Add to cart" })).toHaveCount(0);
});

test("a checkout error is shown next to its field and what was typed is kept", async ({ page, js }) => {
  await open(page, "/p/canvas-tote", js);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect(page).toHaveURL(/\/cart$/);
  await open(page, "/checkout", js);
  await page.getByLabel("Your name").fill("Alan Turing");
  await page.getByLabel("Phone number").fill("not a phone");
  await page.getByLabel("Delivery address").fill("1 Bletchley Lane");
  await page.getByRole("button", { name: "Place order" }).click();

  const phone = page.getByLabel("Phone number");
  await expect(phone).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator("#phone-error")).toContainText("phone number");
  await expect(page.locator("#name-error")).toBeHidden();
  await expect(page.getByLabel("Your name")).toHaveValue("Alan Turing");
  await expect(page).toHaveURL(/\/checkout/);

  // fixing it places the order
  await phone.fill("+1 555 010 9999");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page).toHaveURL(/\/order\/[A-Z2-9]{4}-[A-Z2-9]{4}$/);
});

test("the shop is readable on a 360 px screen without sideways scrolling", async ({ page, js }) => {
  for (const path of ["/", "/p/anchor-hoodie", "/cart", "/checkout", "/status"]) {
    await open(page, path, js);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path} scrolls sideways`).toBeLessThanOrEqual(0);
  }
});

test("the bundle is named by its content and kept a year; shared pages carry a validator", async ({ page, request }) => {
  // the drop's page has an island (the sale's countdown), so it loads the bundle
  const res = await page.goto("/p/anchor-hoodie");
  const html = await res!.text();
  const js = html.match(/\/pkg\/holdfast\.[A-Za-z0-9_-]{22}\.js/);
  const wasm = html.match(/\/pkg\/holdfast\.[A-Za-z0-9_-]{22}\.wasm/);
  expect(js, "the page names the hashed script").not.toBeNull();
  expect(wasm, "the page names the hashed WASM").not.toBeNull();
  for (const path of [js![0], wasm![0]]) {
    const r = await request.get(path);
    expect(r.status(), path).toBe(200);
    expect(r.headers()["cache-control"], path).toBe("public, max-age=31536000, immutable");
  }
  expect(res!.headers()["etag"]).toBeTruthy();
  expect(res!.headers()["cache-control"]).toContain("s-maxage=");
  // no stylesheet to fetch before the first paint: it is inline
  expect(html).not.toContain('rel="stylesheet"');
  const cart = await request.get("/cart");
  expect(cart.headers()["cache-control"]).toBe("private, no-store");
});
