// test_tls_dash.mjs — the dashboard over HTTPS in headless Chromium (run by test_tls_dash.sh).
//   DASH_URL  https://127.0.0.1:PORT/     SPKI  base64 SHA-256 of the served certificate's public key
// The certificate is trusted only through --ignore-certificate-errors-spki-list: a browser without
// it must refuse the certificate, so the page loading proves TLS with that key, not a bypass.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.REPO, "src/dash/web/package.json"));
const { chromium } = require("playwright-core");
const URL = process.env.DASH_URL;
const base = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
  "--no-first-run", "--disable-component-update", "--disable-sync"];
let failed = 0;

async function runCase(name, args, fn) {
  const errors = [];
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: base.concat(args) });
  try { await fn(await (await browser.newContext()).newPage(), (c, m) => { if (!c) errors.push(m); }); }
  catch (e) { errors.push("exception: " + (e && e.message || e)); }
  await browser.close();
  if (errors.length) { failed++; errors.forEach((e) => console.log("  check failed: " + e)); console.log("FAIL " + name); }
  else console.log("PASS " + name);
}

await runCase("https_page_with_test_ca", ["--ignore-certificate-errors-spki-list=" + process.env.SPKI], async (page, check) => {
  const resp = await page.goto(URL, { waitUntil: "load", timeout: 15000 });
  check(resp.status() === 200, "status " + resp.status());
  check(page.url().startsWith("https://"), "url " + page.url());
  check((await page.title()).includes("ecom"), "title " + await page.title());
  await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, null, { timeout: 15000, polling: 100 });
  const health = await page.evaluate(async () => (await fetch("api/health")).status);
  check(health === 200, "api/health over https: " + health);
});

await runCase("untrusted_without_the_ca", [], async (page, check) => {
  let msg = "";
  try { await page.goto(URL, { timeout: 15000 }); } catch (e) { msg = String(e && e.message); }
  check(/ERR_CERT/.test(msg), "expected a certificate error, got: " + (msg || "a page"));
});
process.exit(failed ? 1 : 0);
