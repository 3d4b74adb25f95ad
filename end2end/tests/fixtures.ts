import { test as base, expect, Page } from "@playwright/test";

/** Opens a page and, in the hydrated project, waits until the WASM has taken over. */
export async function open(page: Page, path: string, jsEnabled: boolean) {
  await page.goto(path);
  if (jsEnabled) {
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  }
}

export const test = base.extend<{ js: boolean }>({
  js: async ({ javaScriptEnabled }, use) => {
    await use(javaScriptEnabled !== false);
  },
});

export { expect };
