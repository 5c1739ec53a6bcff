// test_dash_names.mjs — names the data holds (run by test_dash_honest.py hostile_names_are_text
// with DASH_URL, RANGE, NAMES: product names (JSON) and CITY) are shown as text, exactly: no
// element of theirs in the page, no script of theirs run, no translation of a name that is also
// a word of the page ("none" is not "—"); in the CSV, quoted, and a formula-like name kept text
// (a leading '). PASS/FAIL per case.
import fs from "node:fs";
import { launch, cases, waitFor, watchConsole } from "./dash_page_lib.mjs";

const URL = process.env.DASH_URL, RANGE = process.env.RANGE;
const products = JSON.parse(process.env.NAMES), city = process.env.CITY;
const { check, runCase, failed } = cases();
const browser = await launch();
const consoleErrors = [];
for (const lang of ["en-US", "es-EC"]) {
  const ctx = await browser.newContext({ locale: lang, timezoneId: "UTC", viewport: { width: 1280, height: 1000 } });
  const page = await ctx.newPage();
  watchConsole(page, consoleErrors, lang + " ");
  await page.goto(URL + "?" + RANGE + "&refresh=off", { waitUntil: "load" });
  await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 1);
  await waitFor(page, () => Number((document.querySelector(".citymap") || { dataset: {} }).dataset.drawn || 0) >= 1);

  await runCase("names_are_text_" + lang, async () => {
    const cells = await page.evaluate(() => [...document.querySelectorAll("#top tbody td")].map((td) => td.textContent));
    for (const n of products) check(cells.includes(n), "top products show " + JSON.stringify(n) + " exactly: " +
      JSON.stringify(cells.filter((c) => !/^[\d.,$ %]+$/.test(c)).slice(0, 8)));
    const cityCells = await page.evaluate(() => [...document.querySelectorAll("#city tbody td")].map((td) => td.textContent));
    check(cityCells.includes(city), "the city table shows the city exactly");
    // the map has no coordinates for it: its note names it, as text
    const note = await page.locator(".map-note").textContent();
    check(note.includes(city), "the map's note names it: " + note);
    const injected = await page.evaluate(() => ({ pwned: window.__pwned === undefined ? null : window.__pwned,
      els: document.querySelectorAll("main img, main script, main i, td b, .map-note b").length }));
    check(injected.pwned === null && injected.els === 0, "no markup of the data became elements: " + JSON.stringify(injected));
  });
  if (lang === "en-US")
    await runCase("csv_names_quoted_formula_kept_text", async () => {
      const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#top-csv")]);
      const csv = fs.readFileSync(await dl.path(), "utf8");
      const q = (s) => '"' + s.replace(/"/g, '""') + '"';
      const formula = products.find((n) => n.startsWith("="));
      check(csv.includes("," + q("'" + formula) + ","), "the formula-like name opens as text: " +
        csv.split("\r\n").find((l) => l.includes("HYPERLINK")));
      check(csv.includes("," + q(products[0]) + ","), "the name with quotes and markup is one quoted field");
      check(!csv.includes("," + formula), "never a bare formula");
    });
  await ctx.close();
}
await runCase("names_no_console_errors", async () => {
  check(consoleErrors.length === 0, "console: " + consoleErrors.join(" | "));
});
await browser.close();
process.exit(failed() ? 1 : 0);
