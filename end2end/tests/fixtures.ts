import { test as base, expect, Page } from "@playwright/test";

/**
 * Opens a page and, in the hydrated project, waits until the WASM has brought its islands to life
 * (a page without an island loads no WASM: there is nothing to wait for).
 */
export async function open(page: Page, path: string, jsEnabled: boolean) {
  await page.goto(path);
  if (jsEnabled && (await page.locator("leptos-island").count()) > 0) await hydrated(page);
}

/** `data-hydrated` is set only after hydration returned without a panic. */
export async function hydrated(page: Page) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}

export const test = base.extend<{ js: boolean; consoleErrors: string[] }>({
  js: async ({ javaScriptEnabled }, use) => {
    await use(javaScriptEnabled !== false);
  },
  // Any browser console error (a hydration mismatch, a panic) fails the test.
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        // Chromium logs every 4xx answer (a refused form, a 404 page): those are asserted by the
        // tests themselves. Anything else (a panic, a hydration mismatch, a 5xx) is a real error.
        const expected4xx = /Failed to load resource: the server responded with a status of 4\d\d/;
        if (m.type() === "error" && !expected4xx.test(m.text())) errors.push(m.text());
      });
      await use(errors);
      expect(errors, "browser console errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
