import { readFileSync } from "node:fs";
import { test, expect, open } from "./fixtures";

// axe-core, injected through the DevTools protocol (the pages' CSP admits no other script)
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// What every shopper must be able to read, on a 360 px phone in both languages: the catalogue
// (stock badges: in stock, few left, sold out; the flash sale's badge and struck-through prices)
// and a flash sale's product page.
for (const lang of ["zh-CN", "en"]) {
  test(`badges and prices pass axe's colour-contrast check (${lang})`, async ({ page, js }) => {
    // axe runs as a script in the page; without JavaScript the page is the same HTML and CSS
    test.skip(!js, "axe needs JavaScript in the page; the hydrated project checks these pages");
    await page.setExtraHTTPHeaders({ "Accept-Language": lang });
    for (const path of ["/", "/p/anchor-hoodie"]) {
      await open(page, path, js);
      // the catalogue shows each kind of badge, so the check has something to judge
      if (path === "/") {
        await expect(page.locator(".flash").first()).toBeVisible();
        await expect(page.locator(".badge-ok").first()).toBeVisible();
        await expect(page.locator(".badge-soldout").first()).toBeVisible();
      }
      await page.evaluate(axeSource);
      const result = await page.evaluate(() =>
        (window as any).axe.run(document, { runOnly: ["color-contrast"], resultTypes: ["violations"] }),
      );
      const failures = result.violations.flatMap((v: any) =>
        v.nodes.map((n: any) => `${path}: ${n.target.join(" ")}: ${n.failureSummary}`),
      );
      expect(failures).toEqual([]);
      expect(result.passes.length + result.incomplete.length, "axe judged the page").toBeGreaterThan(0);
    }
  });
}
