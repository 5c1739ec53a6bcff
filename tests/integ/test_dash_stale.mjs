// test_dash_stale.mjs — the page's header when the numbers stop (run by test_dash_stale.sh with
// DASH_URL, MODE = stream | kafka | tables | future | quiet | lost | unreadable, FAKE_PID, DASH_PID, LAKE). #freshness says how old the newest
// data is (against the dashboard's clock, /api/health "now") and, when the numbers have stopped,
// "stale" and why (data-stale="true"). PASS/FAIL per case.
import fs from "node:fs";
import path from "node:path";
import { launch, cases, apiOf, waitFor, watchConsole } from "./dash_page_lib.mjs";

const URL = process.env.DASH_URL, MODE = process.env.MODE;
const { check, runCase, failed } = cases();
const api = apiOf(URL);
const browser = await launch();
const consoleErrors = [];
const ctx = await browser.newContext({ locale: "en-US", timezoneId: "UTC", viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
watchConsole(page, consoleErrors);
const QUIET = "from=2026-11-23T10:00:00.000Z&to=2026-11-23T10:30:00.000Z";
const SPARSE = MODE === "quiet" || MODE === "lost" || MODE === "unreadable";   // the sparse lake's modes
await page.goto(URL + (SPARSE ? "?" + QUIET + "&refresh=off" : "?last=1h"), { waitUntil: "load" });
await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 1);

const fresh = () => page.evaluate(() => { const e = document.getElementById("freshness");
  return { text: e ? e.textContent : null, stale: e ? e.dataset.stale : null }; });
const drawnRefreshes = () => page.evaluate(() => Number(document.body.dataset.refreshes || 0));
// Waits (bounded) for the next refreshes to have come, so the header follows the latest answer.
async function refreshed(n = 2) {
  const r0 = await drawnRefreshes();
  await page.click("#refresh-now");
  await waitFor(page, (r) => Number(document.body.dataset.refreshes || 0) >= r, r0 + n, 20000);
}

if (MODE === "stream") {
  await runCase("live_stream_not_stale", async () => {
    const h = await api("health");
    check(h.stream && h.stream.kafka_connected === true && h.stream_error === null, "fixture: a healthy stream");
    const f = await fresh();
    check(f.stale === "false" && /^newest event /.test(f.text || ""), "live: " + JSON.stringify(f));
    const open = await page.evaluate(() => document.getElementById("chart-sales").dataset.open);
    check(open === "1", "the stream's open minute drawn: " + open);
  });
  await runCase("stream_down_says_stale_and_why", async () => {
    process.kill(Number(process.env.FAKE_PID));
    // the dashboard notices within its status fetch (at most once a second); the page at its next refresh
    await waitFor(page, () => document.getElementById("freshness").dataset.stale === "true", null, 20000);
    await refreshed();
    const h = await api("health");
    const f = await fresh();
    check(h.stream_error !== null, "the API says why: " + h.stream_error);
    check(/^stale: the stream is not answering \(/.test(f.text) && f.text.includes(h.stream_error),
      "the header says why: " + f.text);
    // the numbers stop at the lake's newest window: its age is said, as the API counts it
    const m = /newest data (.*) \((\d+) min (\d+) s\)$/.exec(f.text);
    check(m && Math.abs(+m[2] * 60 + +m[3] - h.data_age_s) <= 15 && h.data_age_s > 240,
      "the newest data's age " + (m && m.slice(2)) + " vs the API's " + h.data_age_s);
    const open = await page.evaluate(() => document.getElementById("chart-sales").dataset.open);
    check(open === "0", "no open minute drawn from a stream that is gone: " + open);
  });
}

if (MODE === "kafka") {
  await runCase("stream_without_kafka_says_stale", async () => {
    const h = await api("health");
    check(h.stream && h.stream.kafka_connected === false, "fixture: broker unreachable");
    const f = await fresh();
    check(f.stale === "true" && /^stale: the stream cannot reach Kafka/.test(f.text) && /newest event /.test(f.text),
      "header: " + JSON.stringify(f));
  });
}

if (MODE === "tables") {
  await runCase("tables_only_age_not_stale", async () => {
    const h = await api("health");
    const f = await fresh();
    check(f.stale === "false" && /^newest data .* \(\d+ min \d+ s\)$/.test(f.text), "header: " + JSON.stringify(f));
    check(typeof h.now === "string" && Math.abs(Date.parse(h.now) - Date.now()) < 60000, "health has now: " + h.now);
  });
  await runCase("lake_unreadable_keeps_numbers_says_stale", async () => {
    const before = await page.evaluate(() => document.getElementById("kpi-revenue").dataset.value);
    const updated = await page.evaluate(() => document.getElementById("updated").textContent);
    const dir = fs.readdirSync(path.join(process.env.LAKE, "sales_per_minute")).find((d) => d.startsWith("date="));
    const bad = path.join(process.env.LAKE, "sales_per_minute", dir, "part-zz-bad.parquet");
    fs.writeFileSync(bad + ".tmp", Buffer.concat([Buffer.from("PAR1"), Buffer.alloc(3000, 7), Buffer.from([16, 0, 0, 0]), Buffer.from("PAR1")]));
    fs.renameSync(bad + ".tmp", bad);
    await page.click("#refresh-now");
    await waitFor(page, () => document.getElementById("freshness").dataset.stale === "true", null, 20000);
    const f = await fresh();
    check(/^stale: the lake could not be read \(cannot read the lake: .*\): showing the answers of /.test(f.text),
      "header: " + f.text);
    const banner = await page.evaluate(() => [document.getElementById("banner").hidden, document.getElementById("banner").textContent]);
    check(!banner[0] && /cannot read the lake/.test(banner[1]), "banner: " + banner);
    const after = await page.evaluate(() => document.getElementById("kpi-revenue").dataset.value);
    const updated2 = await page.evaluate(() => document.getElementById("updated").textContent);
    // the numbers are the last good answer's, and the time shown beside them is that answer's:
    // the one the header names (a good answer may still have come after the bad file was
    // written, before the dashboard's next look at the lake: then both moved on together)
    const shown = /showing the answers of (.*?)( · |$)/.exec(f.text);
    check(after === before && shown && updated2 === shown[1],
      "the numbers and their time are the last answer's: " + [before, after, updated, updated2, shown && shown[1]]);
    fs.unlinkSync(bad);
    await page.click("#refresh-now");
    await waitFor(page, () => document.getElementById("freshness").dataset.stale === "false", null, 20000);
  });
  // the dashboard itself gone (stopped, the network): not blamed on the lake
  await runCase("dash_unreachable_says_so", async () => {
    process.kill(Number(process.env.DASH_PID), "SIGTERM");
    await waitFor(page, () => { document.getElementById("refresh-now").click();
      return document.getElementById("freshness").dataset.stale === "true"; }, null, 20000);
    const f = await fresh();
    check(/^stale: the dashboard does not answer \(.*\): showing the answers of .* · newest data .* \(\d+ min \d+ s\)$/.test(f.text),
      "header: " + f.text);
  });
}

if (MODE === "future") {
  await runCase("future_data_ahead_not_zero_age", async () => {
    const h = await api("health");
    check(h.data_age_s < -120, "fixture: the newest window ends minutes ahead: " + h.data_age_s);
    const f = await fresh();
    check(f.stale === "false" && /^newest data .* \((\d+ min )?\d+ s ahead of the dashboard's clock: stamped in the future/.test(f.text),
      "header: " + f.text);
    const age = await page.evaluate(() => { const dt = [...document.querySelectorAll("#health dt")].find((e) => e.textContent === "Data age");
      return dt ? dt.nextElementSibling.textContent : null; });
    check(age && /ahead of the dashboard's clock/.test(age) && !/^0 s$/.test(age), "the health card's data age: " + age);
  });
}

if (MODE === "quiet") {
  await runCase("quiet_minutes_are_zero_not_missing", async () => {
    const a = await api("sales_per_minute", QUIET), f = await api("funnel", QUIET);
    const sales = new Set(a.rows.map((r) => r.window_start));
    const quiet = f.rows.filter((r) => !sales.has(r.window_start)).map((r) => r.window_start);
    check(a.rows.length > 0 && quiet.length > 10, "fixture: minutes with views and no order: " + quiet.length + ", sales " + a.rows.length);
    const d = await page.evaluate(() => Object.assign({}, document.getElementById("chart-sales").dataset));
    check(d.zeros === String(quiet.length) && d.points === String(a.rows.length), "quiet minutes drawn: " + JSON.stringify(d));
    check(d.gaps === "0", "no gap where the stream recorded every minute: " + d.gaps);
    const u = await page.evaluate(() => window.ECOM.charts.get("sales").data.map((x) => Array.from(x)));
    const bad = quiet.filter((w) => { const i = u[0].indexOf(Date.parse(w) / 1000); return i < 0 || u[1][i] !== 0; });
    check(bad.length <= 1, "each quiet final minute is a 0 on the line (the partial first one apart): " + bad);
  });
  await runCase("quiet_range_kpis_zero_not_no_data", async () => {
    const q = "from=2026-11-23T10:00:00.000Z&to=2026-11-23T10:20:00.000Z";
    const s = await api("summary", q), a = await api("sales_per_minute", q);
    check(a.rows.length === 0 && s.funnel_windows > 0 && s.orders === 0, "fixture: views, no order: " + JSON.stringify(s).slice(0, 200));
    await page.goto(URL + "?" + q + "&refresh=off", { waitUntil: "load" });
    await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 1);
    const k = await page.evaluate(() => ["kpi-revenue", "kpi-orders", "kpi-ticket"].map((id) => {
      const e = document.getElementById(id); return [e.textContent, e.title]; }));
    check(k[0][0] === "$0.00" && k[1][0] === "0" && k[2][0] === "—" && /No orders/.test(k[2][1]), "tiles: " + JSON.stringify(k));
    const note = await page.locator("#sales-note").textContent();
    check(/^No orders in this range/.test(note), "the chart's note: " + note);
    // a range no table has a minute of is still "no data"
    await page.goto(URL + "?from=2026-11-23T08:00:00.000Z&to=2026-11-23T09:00:00.000Z&refresh=off", { waitUntil: "load" });
    await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 1);
    const e = await page.evaluate(() => [document.getElementById("kpi-revenue").textContent, document.getElementById("sales-note").textContent]);
    check(e[0] === "No data" && e[1] === "No data in this range", "empty range: " + e);
  });
}

if (MODE === "quiet") {
  await runCase("quiet_minutes_come_from_the_api", async () => {
    const a = await api("sales_per_minute", QUIET), s = await api("summary", QUIET);
    check(Array.isArray(a.no_orders) && a.no_orders.length > 10 && a.missing.length === 0, "quiet: " +
      JSON.stringify({ q: a.no_orders && a.no_orders.length, m: a.missing && a.missing.length }));
    check(s.no_order_windows === a.no_orders.length && s.missing_windows === 0 && s.revenue > 0, "summary: " + JSON.stringify(s).slice(0, 300));
  });
}

// The sales file lost: the minutes category_activity counts units sold in have no sales row, so
// the API says they are missing (why: units_sold) and gives no total; the page draws them as no
// data with why (never a 0 on the line, never $0.00 on a tile) and still draws the quiet ones as 0.
if (MODE === "lost") {
  await runCase("lost_sales_file_is_no_data_not_zero", async () => {
    const a = await api("sales_per_minute", QUIET), s = await api("summary", QUIET);
    const lost = (a.missing || []).filter((m) => m.why === "units_sold" && m.units_sold > 0);
    check(a.rows.length === 0 && lost.length >= 2 && lost.length === (a.missing || []).length, "API missing: " + JSON.stringify(a.missing));
    check(s.revenue === null && s.orders === null && s.missing_windows === lost.length, "summary: no total: " + JSON.stringify(s).slice(0, 300));
    const d = await page.evaluate(() => Object.assign({}, document.getElementById("chart-sales").dataset));
    check(d.missing === String(lost.length) && d.zeros === String((a.no_orders || []).length), "drawn: " + JSON.stringify(d));
    const u = await page.evaluate(() => window.ECOM.charts.get("sales").data.map((x) => Array.from(x)));
    const zero = lost.filter((m) => { const i = u[0].indexOf(Date.parse(m.window_start) / 1000); return i < 0 || u[1][i] !== null || u[3][i] !== null; });
    check(zero.length === 0, "a lost minute is no point on the line: " + zero.map((m) => m.window_start));
    const k = await page.evaluate(() => ["kpi-revenue", "kpi-orders"].map((id) => {
      const e = document.getElementById(id); return [e.textContent, e.title, e.dataset.missing]; }));
    check(k.every((x) => x[0] === "No data" && /sales_per_minute file is missing/.test(x[1]) && x[2] === "true"), "tiles: " + JSON.stringify(k));
    const note = await page.locator("#sales-note").textContent();
    check(/^No sales data for \d+ minutes/.test(note), "the chart's note: " + note);
    // the tooltip of a lost minute says why
    const box = await page.locator("#chart-sales .u-over").boundingBox();
    const x = await page.evaluate((ws) => { const c = window.ECOM.charts.get("sales"); return c.valToPos(Date.parse(ws) / 1000, "x"); }, lost[0].window_start);
    await page.mouse.move(box.x + x, box.y + box.height / 2);
    const tip = await page.locator("#tip-sales").textContent();
    check(/No data/.test(tip) && /category activity counts \d+ units sold/.test(tip), "tooltip: " + tip);
  });
  // sales_by_city and sales_by_channel still count those orders: they say in how many minutes
  // they disagree with sales_per_minute, and the channel card and the map say their totals are partial
  await runCase("lost_sales_file_tables_disagree", async () => {
    const a = await api("sales_per_minute", QUIET), c = await api("sales_by_channel", QUIET), m = await api("sales_by_city", QUIET);
    const n = (a.missing || []).length;
    check(c.disagree_windows === n && m.disagree_windows === n, "API: " + c.disagree_windows + ", " + m.disagree_windows + " of " + n);
    const note = await page.locator("#channel-note").textContent();
    check(/totals differ from sales_per_minute.s in \d+ minutes/.test(note), "channel note: " + note);
    const md = await page.evaluate(() => { const b = document.querySelector("[data-card=sales_by_city] [data-disagree]");
      return b ? [b.dataset.disagree, b.textContent] : null; });
    check(md && md[0] === String(n) && /these totals are partial/.test(md[1]), "map: " + JSON.stringify(md && md[0]));
  });
}
if (MODE === "quiet") {
  await runCase("quiet_tables_agree_with_sales", async () => {
    const c = await api("sales_by_channel", QUIET), m = await api("sales_by_city", QUIET);
    check(c.disagree_windows === 0 && m.disagree_windows === 0, "intact lake: " + c.disagree_windows + ", " + m.disagree_windows);
  });
}

// The sales file unreadable: the lake cannot be read for the range; the page says so, names the
// file, and draws no number (never $0.00).
if (MODE === "unreadable") {
  await runCase("unreadable_sales_file_is_no_data_not_zero", async () => {
    const r = await fetch(URL + "api/summary?" + QUIET);
    const b = await r.json();
    check(r.status === 503 && /sales_per_minute\/date=.*\.parquet/.test(b.error || ""), "API: " + r.status + " " + JSON.stringify(b));
    const k = await page.evaluate(() => ["kpi-revenue", "kpi-orders"].map((id) => document.getElementById(id).textContent));
    check(k.every((x) => !/\d/.test(x)), "no number on the tiles: " + k);
    const ban = await page.locator("#banner").textContent();
    check(/sales_per_minute\/date=/.test(ban), "the banner names the file: " + ban);
  });
}

await runCase("stale_no_console_errors_" + MODE, async () => {
  // the browser logs the 503s of the unreadable lake itself: those are the case, not a fault
  const errs = consoleErrors.filter((e) => !((MODE === "tables" || MODE === "unreadable") &&
    /status of 503|ERR_CONNECTION_REFUSED|EventSource/.test(e)));
  check(errs.length === 0, "console: " + errs.join(" | "));
});
await browser.close();
process.exit(failed() ? 1 : 0);
