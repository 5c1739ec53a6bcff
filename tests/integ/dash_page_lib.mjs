// dash_page_lib.mjs — what the dashboard's Chromium tests share (test_dash_browser.mjs,
// test_dash_page.mjs, test_dash_map.mjs, test_dash_unknown.mjs): the browser (Debian's
// Chromium through playwright-core from npm), the PASS/FAIL case runner, the API fetcher and a
// bounded wait. One copy: a fix to any of them is a fix to every test.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.REPO, "src/dash/web/package.json"));
const { chromium } = require("playwright-core");

// playwright-core gives every launch a fresh temporary profile (--user-data-dir) of its own.
export function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
      "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
}

// Cases: check(cond, msg) records a failure of the running case; runCase(name, fn) prints
// PASS/FAIL name (an exception fails that case only); failed() counts the failed cases.
export function cases() {
  let failed = 0;
  const errors = [];
  return {
    check(cond, msg) { if (!cond) errors.push(msg); return cond; },
    async runCase(name, fn) {
      errors.length = 0;
      try { await fn(); } catch (e) { errors.push("exception: " + (e && e.stack || e)); }
      if (errors.length) { failed++; for (const e of errors) console.log("  check failed: " + e); console.log("FAIL " + name); }
      else console.log("PASS " + name);
    },
    failed: () => failed,
  };
}

// api(name, query) -> the JSON answer of base + "api/" + name.
export function apiOf(base) {
  return async (name, q) => (await fetch(base + "api/" + name + (q ? "?" + q : ""))).json();
}

// Waits (bounded) until fn(arg) in the page returns truthy.
export async function waitFor(page, fn, arg, ms = 15000) {
  await page.waitForFunction(fn, arg, { timeout: ms, polling: 100 });
}

// Collects console errors/warnings and page errors of page into list.
export function watchConsole(page, list, prefix = "") {
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") list.push(prefix + m.type() + ": " + m.text()); });
  page.on("pageerror", (e) => list.push(prefix + "pageerror: " + e.message));
}
