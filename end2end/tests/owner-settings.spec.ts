import { test, expect, open } from "./fixtures";

// The owner's shop settings, last of all (they change the whole shop): the owner, on a phone,
// names the shop, switches it to US dollars and New York time, writes how to pay and uploads a
// receiving code. Then shoppers buy — a Chinese browser without JavaScript, an English one with
// it, neither choosing a language — and each sees the shop in their language, priced in dollars,
// and after ordering how to pay: the owner's words and code, the order code as the reference and
// the deadline on New York's clock.
const email = "owner@harbour.example";
const password = "tide tables at dawn";

test("the owner sets currency, time zone and how to pay; shoppers see them", async ({ page, browser }) => {
  await page.goto("/admin/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  // the owner's pages in her language too: the admin bar's switch (a plain link) and back
  await page.getByTestId("admin-language").click();
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await page.getByRole("link", { name: "设置", exact: true }).click();
  await expect(page.getByRole("heading", { name: "店铺设置" })).toBeVisible();
  await expect(page.getByLabel(/^币种/)).toBeVisible();
  await page.getByTestId("admin-language").click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("heading", { name: "Shop settings" })).toBeVisible();

  // a mistake first: nothing is saved, the form says what is wrong
  await page.getByLabel(/^Time zone/).fill("Beijing");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("not a time zone");

  await page.getByLabel(/^Shop name/).fill("王姐的海边小店");
  await page.getByLabel("WeChat ID").fill("wangjie_shop");
  await page.getByLabel(/^Currency/).selectOption("USD");
  await page.getByLabel(/^Time zone/).fill("America/New_York");
  await page.getByLabel(/^How to pay/).fill("微信扫码付款，付款时备注订单号。Pay with WeChat: scan the code.");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status")).toContainText("Saved");

  // the receiving code: a square picture the phone's browser draws
  const png = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 480;
    canvas.height = 480;
    const ctx = canvas.getContext("2d")!;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, 480, 480);
    ctx.fillStyle = "#000";
    for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) if ((i * 7 + j * 3) % 5 < 2) ctx.fillRect(i * 40, j * 40, 40, 40);
    return canvas.toDataURL("image/png").split(",")[1];
  });
  await page.getByLabel("Picture (JPEG, PNG or WebP)", { exact: true }).setInputFiles({
    name: "wechat-pay.png",
    mimeType: "image/png",
    buffer: Buffer.from(png, "base64"),
  });
  await page.getByRole("button", { name: "Upload the payment code" }).click();
  await expect(page.getByRole("img", { name: "The payment code" })).toBeVisible();

  const shoppers = [
    { locale: "zh-CN", js: false, product: "海盐焦糖", add: "加入购物车", checkout: "去结算", name: "收货人", phone: "手机号", address: "收货地址", place: "提交订单", thanks: "谢谢！订单已提交！", status: "待付款", how: "如何付款" },
    { locale: "en-US", js: true, product: "Sea-Salt Caramels", add: "Add to cart", checkout: "Checkout", name: "Your name", phone: "Phone number", address: "Delivery address", place: "Place order", thanks: "Thank you — your order is in!", status: "Awaiting payment", how: "How to pay" },
  ];
  for (const s of shoppers) {
    const context = await browser.newContext({ locale: s.locale, javaScriptEnabled: s.js, viewport: { width: 360, height: 740 } });
    const shop = await context.newPage();
    await open(shop, "/p/sea-salt-caramels", s.js);
    await expect(shop.locator("html")).toHaveAttribute("lang", s.locale === "zh-CN" ? "zh-CN" : "en");
    await expect(shop.getByTestId("shop-name")).toHaveText("王姐的海边小店");
    await expect(shop).toHaveTitle(`${s.product} — 王姐的海边小店`);
    await expect(shop.getByRole("heading", { level: 1 })).toHaveText(s.product);
    await expect(shop.getByTestId("price")).toHaveText("$12.50");
    await expect(shop.getByTestId("contact")).toContainText("wangjie_shop");
    await shop.getByRole("button", { name: s.add }).click();
    await expect(shop).toHaveURL(/\/cart$/);
    await shop.getByRole("link", { name: s.checkout }).click();
    await shop.getByLabel(s.name).fill("李小梅");
    await shop.getByLabel(s.phone).fill("139-0013-9000");
    await shop.getByLabel(s.address).fill("浙江省义乌市稠城街道 88 号");
    await shop.getByRole("button", { name: s.place }).click();
    await expect(shop).toHaveURL(/\/order\/[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    await expect(shop.getByRole("heading", { name: s.thanks })).toBeVisible();
    const code = (await shop.getByTestId("order-code").textContent())!.trim();
    await expect(shop.getByTestId("order-status")).toHaveText(s.status);

    const payment = shop.getByTestId("payment");
    await expect(payment.getByRole("heading", { name: s.how })).toBeVisible();
    await expect(payment).toContainText("$12.50");
    await expect(shop.getByTestId("pay-reference")).toHaveText(code);
    await expect(shop.getByTestId("pay-text")).toHaveText("微信扫码付款，付款时备注订单号。Pay with WeChat: scan the code.");
    await expect(payment).toContainText("America/New_York");
    // a day after placing (the shop-wide window), on New York's clock
    const due = new Date(Date.now() + 24 * 3600_000);
    const ny = new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York", year: "numeric", month: "2-digit", day: "2-digit" }).format(due);
    await expect(shop.getByTestId("pay-by")).toContainText(ny);
    const codeImage = payment.locator("img.pay-code");
    await expect(codeImage).toHaveJSProperty("naturalWidth", 480);

    // the same on the status page, found with the phone number written another way
    await open(shop, `/status?code=${code}&phone=%2B86%20139%200013%209000`, s.js);
    await expect(shop.getByTestId("pay-reference")).toHaveText(code);
    // no sideways scroll on a 360 px phone
    expect(await shop.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await context.close();
  }
});
