// test_dash_unknown.mjs — the page over a lake part of which an older ecom wrote (no `abandoned`
// in some funnel files, no `revenue` in some sales_by_channel files), in headless Chromium: every
// number the API does not know is "—" with the reason as its tooltip, never 0; the partial first
// minute is drawn apart and the range says where the data begins. Run by test_dash_honest.py with
// DASH_URL and RANGE (a from/to query that begins before the data). PASS/FAIL per case.
import { launch, cases, apiOf, waitFor, watchConsole } from "./dash_page_lib.mjs";

const URL = process.env.DASH_URL;
const RANGE = process.env.RANGE;
const { check, runCase, failed } = cases();
const api = apiOf(URL);
const browser = await launch();
const consoleErrors = [];
const ctx = await browser.newContext({ locale: "en-US", timezoneId: "UTC", viewport: { width: 1280, height: 1000 } });
const page = await ctx.newPage();
watchConsole(page, consoleErrors);
await page.goto(URL + "?" + RANGE + "&refresh=off", { waitUntil: "load" });
await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 1);

await runCase("cart_card_unknown_not_zero", async () => {
  const f = await api("funnel", RANGE);
  check(f.abandoned === null && f.not_recorded.abandoned > 0, "fixture: abandoned unknown in part: " +
    JSON.stringify(f.not_recorded));
  const figs = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("[data-card=cart_abandonment] .shop-fig")]
    .map((e) => { const v = e.querySelector(".shop-fig-value");
      return [e.dataset.fig, { text: v.textContent, unknown: v.dataset.unknown, title: v.title, value: v.dataset.value }]; })));
  for (const k of ["abandoned", "abandonment_rate"]) {
    const x = figs[k];
    check(x && x.text === "—" && x.unknown === "true" && x.value === "", k + " shown as unknown: " + JSON.stringify(x));
    check(x && new RegExp("not recorded in " + f.not_recorded[k] + " of " + f.windows + " minutes").test(x.title),
      k + " says why (N of M minutes): " + (x && x.title));
  }
  check(figs.carted && figs.carted.text === new Intl.NumberFormat("en-US").format(f.carted) && figs.carted.unknown === "false",
    "carted known: " + JSON.stringify(figs.carted));
  const legend = await page.locator("[data-card=cart_abandonment] [data-legend=unknown]").textContent();
  check(/not recorded by the version that wrote these minutes/.test(legend), "legend: " + legend);
});

await runCase("table_cells_unknown_with_reason", async () => {
  const c = await api("sales_by_channel", RANGE);
  const n = c.rows.filter((r) => r.revenue === null).length;
  check(n > 0, "fixture: channel rows without revenue");
  const cells = await page.evaluate(() => [...document.querySelectorAll("#channel tbody tr")].map((tr) =>
    [...tr.children].map((td) => ({ text: td.textContent, unknown: td.dataset.unknown || "", title: td.title }))));
  const unk = cells.flat().filter((x) => x.unknown === "true");
  check(unk.length === 2 * n && unk.every((x) => x.text === "—" && /not recorded by the version/.test(x.title)),
    "revenue and average ticket of " + n + " rows: " + JSON.stringify(unk.slice(0, 4)));
  check(!cells.flat().some((x) => x.unknown === "true" && /\$0/.test(x.text)), "no $0.00 for an unknown");
  const note = await page.locator("#channel-note").textContent();
  check(/Revenue.*not recorded/.test(note), "the card's legend: " + note);
  const bars = await page.evaluate(() => [...document.querySelectorAll("[data-card=revenue_by_channel] .shop-bar")]
    .map((b) => [b.dataset.unknown || "", b.querySelector(".shop-bar-num").textContent]));
  check(bars.length > 0 && bars.every(([u, t]) => u === "true" ? t === "—" : /\$/.test(t)) && bars.some(([u]) => u === "true"),
    "channel bars with an unknown part say so: " + JSON.stringify(bars));
});

// The map: a city or province whose revenue some file did not record exposes no number (data-revenue
// "", never the 0 or the partial sum of the rows that have it), the tooltip says "—" and why.
await runCase("map_unknown_not_zero", async () => {
  const c = await api("sales_by_city", RANGE + "&limit=100");
  check(c.total_rows <= 100, "one page of cities: " + c.total_rows);
  const want = new Map();
  for (const r of c.rows) {
    const k = r.province + "|" + r.city, w = want.get(k) || { cents: 0, orders: 0, unknown: false };
    if (r.revenue === null) w.unknown = true; else w.cents += Math.round(r.revenue * 100);
    w.orders += r.orders;
    want.set(k, w);
  }
  const unk = [...want.values()].filter((w) => w.unknown).length;
  check(unk > 0 && unk < want.size, "fixture: some cities without revenue: " + unk + " of " + want.size);
  await waitFor(page, () => Number((document.querySelector(".citymap") || {dataset: {}}).dataset.drawn || 0) >= 1);
  const dots = await page.evaluate(() => [...document.querySelectorAll(".city-dot")].map((e) => ({
    k: e.dataset.province + "|" + e.dataset.city, revenue: e.dataset.revenue, orders: e.dataset.orders,
    unknown: e.dataset.unknown, title: e.querySelector("title").textContent })));
  check(dots.length > 0, "circles drawn");
  for (const d of dots) {
    const w = want.get(d.k);
    if (!check(w, "circle of a city the API has: " + d.k)) continue;
    if (w.unknown)
      check(d.revenue === "" && d.unknown === "true" && /Revenue — .*not recorded/.test(d.title) &&
        d.orders === String(w.orders), "unknown revenue: " + JSON.stringify(d));
    else
      check(d.revenue === String(w.cents / 100) && d.unknown === "false", "known revenue: " + JSON.stringify(d) +
        " want " + w.cents / 100);
  }
  const provs = await page.evaluate(() => [...document.querySelectorAll(".prov-shape.prov-unknown")].map((e) =>
    [e.dataset.revenue, e.dataset.unknown, e.getAttribute("fill")]));
  check(provs.length > 0 && provs.every(([r, u, f]) => r === "" && u === "true" && f === null),
    "provinces with an unknown part: no number, no shade: " + JSON.stringify(provs.slice(0, 3)));
  const note = await page.locator(".map-note").textContent();
  check(/revenue not recorded/.test(note), "the map says why: " + note);
});

await runCase("kpi_tiles_unknown_not_zero", async () => {
  const s = await api("summary", RANGE);
  check(s.orders === null && s.not_recorded.orders > 0, "fixture: orders unknown in part: " + JSON.stringify(s.not_recorded));
  const tiles = await page.evaluate(() => ["kpi-orders", "kpi-ticket", "kpi-revenue"].map((id) => {
    const e = document.getElementById(id); return { text: e.textContent, unknown: e.dataset.unknown, title: e.title }; }));
  for (const x of tiles.slice(0, 2))
    check(x.text === "—" && x.unknown === "true" && new RegExp("not recorded in " + s.not_recorded.orders + " of " +
      s.windows + " minutes").test(x.title), "tile shown as unknown with why: " + JSON.stringify(x));
  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(s.revenue);
  check(tiles[2].text === usd && tiles[2].unknown === "false", "revenue known: " + JSON.stringify(tiles[2]));
  check(!tiles.some((x) => /^0$|\$0\.00/.test(x.text)), "no 0");
});

await runCase("partial_first_minute_and_data_from", async () => {
  const a = await api("sales_per_minute", RANGE);
  const part = a.rows.filter((r) => r.partial);
  check(part.length === 1 && part[0].window_start === a.data_from, "API: the first minute partial: " + JSON.stringify(part));
  const d = await page.evaluate(() => Object.assign({}, document.getElementById("chart-sales").dataset));
  check(d.partial === "1" && d.open === "0", "drawn apart: partial " + d.partial + " open " + d.open);
  const u = await page.evaluate(() => window.ECOM.charts.get("sales").data.map((s) => Array.from(s)));
  const i = u[0].indexOf(Date.parse(part[0].window_start) / 1000);
  check(i >= 0 && u[1][i] === null && u[3][i] === part[0].revenue, "in the apart series: " + u[1][i] + " / " + u[3][i]);
  const shown = await page.locator("#shown").textContent();
  check(/data from Nov 23 11:47 PM/.test(shown), "header: " + shown);
});

await runCase("no_console_errors", async () => {
  check(consoleErrors.length === 0, "console: " + consoleErrors.join(" | "));
});

await browser.close();
process.exit(failed() ? 1 : 0);
