import { test, expect, open } from "./fixtures";

// a phone whose browser speaks Chinese, as most of the shop's shoppers' do
test.use({ locale: "zh-CN", viewport: { width: 360, height: 780 } });

test("a Chinese phone opens the shop in Chinese and the switch turns it to English and back", async ({ page, js }) => {
  await open(page, "/", js);
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("全部商品");
  await expect(page.getByRole("link", { name: "购物车" })).toBeVisible();

  // the switch is a plain link: it works the same without JavaScript
  // the demo's products are named in Chinese too
  await open(page, "/p/harbour-mug", js);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("港湾马克杯");
  await page.getByRole("link", { name: "English" }).click();
  await expect(page).toHaveURL(/\/p\/harbour-mug$/);
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Harbour Mug");
  await expect(page.getByRole("link", { name: "Cart" })).toBeVisible();

  // the choice is kept on the next pages, over the browser's own language
  await page.getByRole("link", { name: "Shop", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Shop");
  await page.getByRole("link", { name: "中文" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("全部商品");

  // nothing scrolls sideways on a 360 px phone in either language
  for (const path of ["/", "/p/anchor-hoodie"]) {
    await open(page, path, js);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
});
