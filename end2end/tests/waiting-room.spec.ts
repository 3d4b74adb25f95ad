import { test, expect, open, hydrated } from "./fixtures";
import type { APIRequestContext } from "@playwright/test";

// The demo's hoodie drop sells through the waiting room (10 units, at most 2 per phone number).
const HOODIE = { id: 1, slug: "anchor-hoodie", name: "Anchor Hoodie (limited run)" };

async function join(request: APIRequestContext, phone: string, quantity = 1) {
  const res = await request.post("/api/queue/join", {
    data: { product_id: HOODIE.id, quantity, phone },
  });
  expect(res.status()).toBe(200);
  return res.json();
}

async function leave(request: APIRequestContext, ticket: string) {
  const res = await request.post("/api/queue/leave", { form: { ticket }, maxRedirects: 0 });
  expect([200, 302, 303]).toContain(res.status());
}

test("a shopper waits in line, is admitted when units come free, and buys with the hold", async ({
  page,
  js,
  request,
}) => {
  // Other shoppers (through the API) take every free unit with holds, so ours has to wait.
  // Both projects run this at once against one server: whatever the other holds, it gives back.
  const prefix = js ? "+44 7700 900" : "+44 7700 800";
  const held: string[] = [];
  // with JavaScript one more shopper waits in front of ours, and leaves while our page listens
  let ahead: string | null = null;
  for (let i = 0; i < 12; i++) {
    const s = await join(request, `${prefix}${100 + i}`);
    if (s.state === "admitted") {
      held.push(s.ticket);
      continue;
    }
    // nothing free any more: without JavaScript don't stand in front of our shopper
    if (s.state === "waiting") {
      if (js) ahead = s.ticket;
      else await leave(request, s.ticket);
    }
    break;
  }

  await open(page, `/p/${HOODIE.slug}`, js);
  await expect(page.getByTestId("sale")).toContainText("Flash sale");
  await expect(page.getByTestId("sale")).toContainText("At most 2 per customer");
  // the drop's payment window (the demo's default, 15 minutes)
  await expect(page.getByTestId("sale")).toContainText("not paid within 15 min are cancelled");
  await page.getByLabel("Quantity").fill("1");
  await page.getByLabel("Your phone number").fill(`${prefix}555`);
  await page.getByRole("button", { name: "Join the line" }).click();

  await expect(page).toHaveURL(/\/queue\/t\d+\.[0-9a-f]{32}$/);
  const state = page.getByTestId("queue-state");
  await expect(state).toHaveAttribute("data-state", "waiting");
  await expect(page.getByRole("heading", { name: "You're in line" })).toBeVisible();
  await expect(page.getByTestId("position")).toHaveText(/^\d+$/);
  // with JavaScript the place in line is an island that asks in the background (the <noscript>
  // refresh is inert then): only it can bring this page to the hold below
  if (js) {
    await hydrated(page);
    // ...and the live channel tells the place and the turn as they happen
    await expect(page.locator("html")).toHaveAttribute("data-hf-line", "open");
    await expect(page.getByTestId("position")).toHaveText("2");
    // the one in front leaves: the place changes in the page and in the tab's title
    expect(ahead).not.toBeNull();
    await leave(request, ahead!);
    await expect(page.getByTestId("position")).toHaveText("1");
    await expect(page).toHaveTitle(/^#1 · /);
    await expect(page.getByTestId("eta")).toContainText("your turn could come in about");
  }

  // the others give their holds up: units come free and the page moves on by itself
  // (without JavaScript by its meta refresh, with it by asking in the background)
  for (const ticket of held) await leave(request, ticket);
  await expect(state).toHaveAttribute("data-state", "admitted", { timeout: 20_000 });
  await expect(page.getByRole("heading", { name: "It's your turn!" })).toBeVisible();
  // a shopper on another tab sees it in the tab's title; the form has the focus
  await expect(page).toHaveTitle(/It's your turn!/);
  await expect(page.getByLabel("Your name")).toBeFocused();
  await expect(page.getByTestId("countdown").first()).toHaveText(/^[45]:\d\d$/);
  if (js) {
    await hydrated(page);
    // the hold's countdown is an island of its own: it ticks in the browser
    const countdown = page.getByTestId("countdown").first();
    const shown = (await countdown.textContent())!;
    await expect(countdown).not.toHaveText(shown, { timeout: 5_000 });
  }

  await page.getByLabel("Your name").fill("Ada Lovelace");
  await page.getByLabel(/Phone number/).fill(`${prefix}555`);
  await page.getByLabel("Delivery address").fill("3 Net Loft Lane, Porthaven");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page).toHaveURL(/\/order\/[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  await expect(page.getByRole("heading", { name: /your order is in/i })).toBeVisible();
  await expect(page.getByTestId("order-total")).toHaveText("¥39.00");
});

test("a made-up ticket is refused with a clear message", async ({ page, js }) => {
  await open(page, "/queue/t999.00000000000000000000000000000000", js);
  await expect(page.getByRole("alert")).toContainText("does not exist");
});
