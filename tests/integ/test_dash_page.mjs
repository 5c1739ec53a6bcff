// test_dash_page.mjs — the page's charts and controls in headless Chromium (Debian's, through
// playwright-core): the time axis (range, gaps, open minute, zoom, URL), the refresh control,
// the time zone and Spanish dates, tooltips, axes, translated categories, "no data", sortable
// tables and CSV, the dark theme and the phone layout; screenshots EN/ES x light/dark x
// desktop/phone. Run by test_dash_browser.sh against `ecom dash` over a lake with a first minute
// (09:00, partial), two blocks of minutes (10:00-10:19 and 11:10-11:29 UTC, 2026-11-24) with a lone
// minute between them (10:40), and a fake stream
// whose open minute is 11:30 (dash_fake_status.py --at). Env: DASH_URL, ART (the artifacts folder). PASS/FAIL per case.
import fs from "node:fs";
import path from "node:path";
import { launch, cases, apiOf, waitFor, watchConsole } from "./dash_page_lib.mjs";

const URL0 = process.env.DASH_URL;
const ART = process.env.ART;
const consoleErrors = [];
const { check, runCase, failed } = cases();
const api = apiOf(URL0);
const sec = (iso) => Date.parse(iso) / 1000;
const browser = await launch();

// A page in a fresh context (its own storage): viewer zone Guayaquil, language from locale.
async function open(q, ctxOpts = {}) {
  const ctx = await browser.newContext(Object.assign({ locale: "en-US", timezoneId: "America/Guayaquil",
    viewport: { width: 1280, height: 1000 }, acceptDownloads: true }, ctxOpts));
  const page = await ctx.newPage();
  watchConsole(page, consoleErrors);
  await page.goto(URL0 + (q ? "?" + q : ""), { waitUntil: "load" });
  await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 1);
  return page;
}
async function ready(page, n) {   // n refreshes done
  await waitFor(page, (k) => Number(document.body.dataset.refreshes || 0) >= k, n);
}
const boxData = (page, id) => page.evaluate((i) => Object.assign({}, document.getElementById(i).dataset), id);

await runCase("axis_spans_selected_range", async () => {
  const page = await open("last=6h&refresh=off");
  for (const last of ["6h", "1h", "24h"]) {
    if (last !== "6h") {
      const n = Number(await page.evaluate(() => document.body.dataset.refreshes));
      await page.selectOption("#range", last);
      await ready(page, n + 1);
    }
    const a = await api("sales_per_minute", "last=" + last);
    const d = await boxData(page, "chart-sales");
    check(Number(d.xMin) === sec(a.from) && Number(d.xMax) === sec(a.to),
      last + ": x scale " + d.xMin + ".." + d.xMax + " want " + sec(a.from) + ".." + sec(a.to));
  }
  check(/[?&]last=24h/.test(page.url()), "range in the URL: " + page.url());
  // a custom range from the URL
  const p2 = await open("from=2026-11-24T09:00:00Z&to=2026-11-24T12:00:00Z&refresh=off");
  const d2 = await boxData(p2, "chart-sales");
  check(Number(d2.xMin) === sec("2026-11-24T09:00:00Z") && Number(d2.xMax) === sec("2026-11-24T12:00:00Z"),
    "custom range x scale " + d2.xMin + ".." + d2.xMax);
  check(await p2.locator("#range").inputValue() === "custom", "range control shows custom");
  await page.context().close(); await p2.context().close();
});

// One rule draws a minute apart (charts.js apart()): the open minute (11:30, the fake stream's),
// the partial minute the data begins in (09:00, the lake's first window: the stream started
// during it) and the one a run stopped in (10:19: the fixture's .stop mark at 10:19:30), each
// hover saying why. Updated when the first minute became partial: the lone minute with a dot is 10:40.
await runCase("gaps_open_and_partial_minutes_apart", async () => {
  const page = await open("last=6h&refresh=off");
  const a = await api("sales_per_minute", "last=6h");
  const opened = a.rows.filter((r) => r.final === false);
  const partial = a.rows.filter((r) => r.partial === true);
  check(opened.length === 1, "fixture: one open minute, got " + opened.length);
  check(partial.length === 2 && partial[0].window_start === "2026-11-24T09:00:00.000Z" && partial[0].partial_why === "start" &&
    partial[1].window_start === "2026-11-24T10:19:00.000Z" && partial[1].partial_why === "stop" &&
    a.data_from === "2026-11-24T09:00:00.000Z", "the lake's first minute and the stop's are partial: " +
    JSON.stringify(partial) + " data_from " + a.data_from);
  const d = await boxData(page, "chart-sales");
  check(d.gaps === "3" && d.open === "1" && d.partial === "2", "gaps " + d.gaps + ", open " + d.open + ", partial " + d.partial);
  const u = await page.evaluate(() => { const c = window.ECOM.charts.get("sales"); return c.data.map((s) => Array.from(s)); });
  // a null point between 10:20 (end of the first block) and 10:40 in the final revenue series
  const gapAt = u[0].indexOf(sec("2026-11-24T10:20:00Z"));
  check(gapAt > 0 && u[1][gapAt] === null, "null at the gap: " + gapAt + " " + u[1][gapAt]);
  for (const r of [opened[0], ...partial]) {
    const i = u[0].indexOf(sec(r.window_start));
    check(i >= 0 && u[1][i] === null && u[3][i] === r.revenue,
      r.window_start + " in the apart series: final " + u[1][i] + ", apart " + u[3][i] + " want " + r.revenue);
  }
  check(u[3].filter((v) => v != null).length === 3, "only the open and the two partial minutes in the apart series");
  // the lone 10:40 minute (gaps on both sides) gets a dot: a line of one point draws nothing
  const dots = await page.evaluate(() => { const c = window.ECOM.charts.get("sales");
    return c.series[1].points.filter(c, 1, false, null); });
  const lone = u[0].indexOf(sec("2026-11-24T10:40:00Z"));
  check(lone >= 0 && Array.isArray(dots) && dots.includes(lone) && dots.length === 1, "dot at the lone minute: " +
    JSON.stringify(dots) + " (index " + lone + ")");
  // hovering a partial minute says why it is drawn apart, in the page's language
  const so = await page.locator("#chart-sales .u-over").boundingBox();
  async function tipAt(ws) {
    const x = await page.evaluate((t) => window.ECOM.charts.get("sales").valToPos(t, "x"), sec(ws));
    await page.mouse.move(so.x + x, so.y + so.height / 2);
    return page.locator("#tip-sales").textContent();
  }
  const tip = await tipAt(partial[0].window_start), stopTip = await tipAt(partial[1].window_start);
  check(/partial minute: the data begins inside it/.test(tip), "partial minute tooltip: " + tip);
  check(/partial minute: the data ends inside it \(ecom run stopped during it\)/.test(stopTip), "stop minute tooltip: " + stopTip);
  await page.selectOption("#lang", "es");
  await waitFor(page, () => document.documentElement.lang === "es");
  await tipAt(partial[0].window_start);   // away first: a move to the same point is no move
  const esTip = await tipAt(partial[1].window_start);
  check(/minuto parcial: los datos terminan dentro de él/.test(esTip), "stop minute tooltip in Spanish: " + esTip);
  await page.selectOption("#lang", "en");
  // the range (05:31-11:31) begins before the data: the header says where the data begins
  const shown = await page.locator("#shown").textContent();
  check(/data from Nov 24 0?4:00/.test(shown), "data from, in the viewer's zone (Guayaquil): " + shown);
  await page.context().close();
  const p2 = await open("last=1h&refresh=off");   // a range inside the data says nothing of it
  check(!/data from/.test(await p2.locator("#shown").textContent()), "no data-from inside the data");
  await p2.context().close();
});

await runCase("zoom_kept_across_refresh_and_in_url", async () => {
  const page = await open("last=6h&refresh=off");
  const over = await page.locator("#chart-sales .u-over").boundingBox();
  await page.mouse.move(over.x + over.width * 0.6, over.y + over.height / 2);
  await page.mouse.down();
  await page.mouse.move(over.x + over.width * 0.8, over.y + over.height / 2, { steps: 5 });
  await page.mouse.up();
  const z = await boxData(page, "chart-sales");
  const a = await api("sales_per_minute", "last=6h");
  check(Number(z.xMin) > sec(a.from) && Number(z.xMax) < sec(a.to), "zoomed: " + z.xMin + ".." + z.xMax);
  await waitFor(page, () => /[?&]zoom=/.test(location.search));
  const n = Number(await page.evaluate(() => document.body.dataset.refreshes));
  await page.mouse.move(5, 5);
  await page.click("#refresh-now");
  await ready(page, n + 1);
  const z2 = await boxData(page, "chart-sales");
  check(Math.abs(Number(z2.xMin) - Number(z.xMin)) <= 1 && Math.abs(Number(z2.xMax) - Number(z.xMax)) <= 1,
    "zoom after refresh " + z2.xMin + ".." + z2.xMax + " was " + z.xMin + ".." + z.xMax);
  const url = page.url();
  const p2 = await open(url.split("?")[1]);
  const z3 = await boxData(p2, "chart-sales");
  check(Math.abs(Number(z3.xMin) - Number(z.xMin)) <= 1 && Math.abs(Number(z3.xMax) - Number(z.xMax)) <= 1,
    "zoom from the URL " + z3.xMin + ".." + z3.xMax);
  check(await p2.locator("#range").inputValue() === "6h", "range from the URL");
  await p2.click("#unzoom");
  const z4 = await boxData(p2, "chart-sales");
  check(Number(z4.xMin) === sec(a.from) && !/zoom=/.test(p2.url()), "unzoom: " + z4.xMin + " " + p2.url());
  await page.context().close(); await p2.context().close();
});

await runCase("refresh_control_and_pause_on_hover", async () => {
  const page = await open("last=1h");
  check(await page.evaluate(() => document.body.dataset.refreshState) === "waiting", "5 s refresh by default");
  await page.selectOption("#refresh", "off");
  check(await page.evaluate(() => document.body.dataset.refreshState) === "off", "off");
  check(/refresh=off/.test(page.url()), "refresh in the URL");
  await page.selectOption("#refresh", "5s");
  await page.hover("#chart-category");
  check(await page.evaluate(() => document.body.dataset.refreshState) === "paused", "paused on hover");
  check((await page.locator("#refresh-state").textContent()).includes("paused"), "says paused");
  const n = Number(await page.evaluate(() => document.body.dataset.refreshes));
  await page.mouse.move(640, 5);   // the header: off the cards
  await ready(page, n + 1);        // leaving fetches at once (a refresh was due)
  check(await page.evaluate(() => document.body.dataset.refreshState) === "waiting", "resumed");
  await page.context().close();
});

await runCase("time_zone_switch_changes_every_label", async () => {
  const page = await open("last=1h&refresh=off");
  const gyeLabels = JSON.parse((await boxData(page, "chart-sales")).xLabels);
  const gyeShown = await page.locator("#shown").textContent();
  check(/5:31:00/.test(gyeShown), "browser zone (Guayaquil) header: " + gyeShown);
  check((await page.locator("#tz-offset").textContent()) === "UTC-05:00", "offset shown: " +
    await page.locator("#tz-offset").textContent());
  await page.selectOption("#tz", "UTC");
  const utcLabels = JSON.parse((await boxData(page, "chart-sales")).xLabels);
  const utcShown = await page.locator("#shown").textContent();
  check(/10:31:00/.test(utcShown), "UTC header: " + utcShown);
  const h = (l) => Number(l.split(":")[0]);
  check(gyeLabels.length > 2 && utcLabels.length === gyeLabels.length &&
    utcLabels.every((l, i) => (h(l) - h(gyeLabels[i]) + 24) % 24 === 5), "labels " + JSON.stringify(gyeLabels) +
    " -> " + JSON.stringify(utcLabels));
  check(/tz=UTC/.test(page.url()), "zone in the URL");
  const title = await page.evaluate(() => window.ECOM.charts.get("sales").axes[0].label);
  check(/UTC/.test(title), "x axis title names the zone: " + title);
  // tooltip times follow the zone too
  const over = await page.locator("#chart-sales .u-over").boundingBox();
  await page.mouse.move(over.x + over.width * 0.99, over.y + over.height / 2);
  const tip = await page.locator("#tip-sales").textContent();
  check(/11:30/.test(tip), "tooltip in UTC: " + tip);
  // a custom range is typed in the chosen zone: 09:00 UTC, then 09:00 in Guayaquil = 14:00 UTC
  for (const [tz, want] of [["UTC", "2026-11-24T09:00:00.000Z"], ["America/Guayaquil", "2026-11-24T14:00:00.000Z"]]) {
    await page.selectOption("#tz", tz);
    await page.selectOption("#range", "custom");
    await page.fill("#from", "2026-11-24T09:00");
    await page.fill("#to", "2026-11-24T12:00");
    await page.click("#apply");
    const from = new URLSearchParams(new URL(page.url()).search).get("from");
    check(from === want, tz + ": custom from " + from + " want " + want);
  }
  await page.context().close();
});

await runCase("spanish_dates_in_spanish_order", async () => {
  const page = await open("last=1h&refresh=off&tz=UTC", { locale: "es-EC" });
  const shown = await page.locator("#shown").textContent();
  check(/24\/11\/26/.test(shown) && !/AM|PM|a\.\s?m\./i.test(shown), "header date d/m/yy, 24 h: " + shown);
  const labels = JSON.parse((await boxData(page, "chart-sales")).xLabels);
  check(labels.some((l) => /24 nov/.test(l)) && !labels.some((l) => /Nov|AM|PM/.test(l)), "axis " + JSON.stringify(labels));
  const title = await page.evaluate(() => window.ECOM.charts.get("sales").axes.map((a) => a.label));
  check(title[0].startsWith("Hora") && /Ingresos \(USD/.test(title[1]), "Spanish axis titles " + JSON.stringify(title));
  await page.context().close();
});

await runCase("tooltips_list_every_series", async () => {
  const page = await open("last=1h&refresh=off&tz=UTC");
  const cats = (await api("category_activity", "last=1h")).rows;
  const over = await page.locator("#chart-category .u-over").boundingBox();
  const u = await page.evaluate(() => { const c = window.ECOM.charts.get("category"); return { x: c.valToPos(1, "x") }; });
  await page.mouse.move(over.x + u.x, over.y + over.height - 5);   // the first category's "adds" bar
  const tip = await page.locator("#tip-category").textContent();
  const fmt = (v) => new Intl.NumberFormat("en-US").format(v);
  check(tip.includes("Views: " + fmt(cats[0].views)) && tip.includes("Adds to cart: " + fmt(cats[0].adds)) &&
    tip.includes("Units sold: " + fmt(cats[0].units_sold)), "category tooltip " + tip + " want " + JSON.stringify(cats[0]));
  const rows = (await api("sales_per_minute", "last=1h")).rows;
  const r = rows[5];
  const x = await page.evaluate((s) => window.ECOM.charts.get("sales").valToPos(s, "x"), sec(r.window_start));
  const so = await page.locator("#chart-sales .u-over").boundingBox();
  await page.mouse.move(so.x + x, so.y + so.height / 2);
  const st = await page.locator("#tip-sales").textContent();
  const money = (v) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(v);
  check(st.includes("Revenue: " + money(r.revenue)) && st.includes("Average ticket: " + money(r.avg_ticket)) &&
    st.includes("Orders: " + fmt(r.orders)), "sales tooltip " + st + " want " + JSON.stringify(r));
  await page.context().close();
});

await runCase("second_axis_titles_translated_categories", async () => {
  const page = await open("last=1h&refresh=off");
  const c = await page.evaluate(() => { const u = window.ECOM.charts.get("category");
    return { scales: u.series.map((s) => s.scale), labels: u.axes.map((a) => a.label || ""),
      y: [u.scales.y.max, u.scales.y2.max] }; });
  check(c.scales[1] === "y" && c.scales[2] === "y2" && c.scales[3] === "y2" && c.y[1] < c.y[0],
    "adds/units on a second axis: " + JSON.stringify(c));
  check(/Views/.test(c.labels[1]) && /Adds/.test(c.labels[2]), "category axis titles " + JSON.stringify(c.labels));
  const s = await page.evaluate(() => window.ECOM.charts.get("sales").axes.map((a) => a.label || ""));
  check(/USD/.test(s[1]) && /USD/.test(s[2]) && /Time/.test(s[0]), "sales axis titles " + JSON.stringify(s));
  const en = JSON.parse((await boxData(page, "chart-category")).categories);
  check(en.includes("Home appliances") && !en.some((n) => /_/.test(n)), "English categories " + JSON.stringify(en));
  await page.selectOption("#lang", "es");
  const es = JSON.parse((await boxData(page, "chart-category")).categories);
  check(es.includes("Electrodomésticos"), "Spanish categories " + JSON.stringify(es));
  await page.context().close();
});

await runCase("no_data_in_this_range", async () => {
  const page = await open("from=2026-11-20T00:00:00Z&to=2026-11-20T01:00:00Z&refresh=off");
  const tiles = await page.evaluate(() => [...document.querySelectorAll(".kpi-value")].map((e) => e.textContent));
  check(tiles.every((x) => x === "No data"), "tiles " + JSON.stringify(tiles));
  check(!tiles.some((x) => /\$0/.test(x)), "no $0");
  check((await page.locator("#kpi-note").textContent()) === "No data in this range", "KPI note");
  check((await page.locator("#sales-note").textContent()) === "No data in this range", "sales note");
  check((await page.locator("#funnel").textContent()).includes("No data in this range"), "funnel");
  await page.context().close();
});

await runCase("sortable_tables_and_csv", async () => {
  const page = await open("last=1h&refresh=off");
  const rows = (await api("sales_by_city", "last=1h")).rows;
  const revs = async () => page.evaluate(() => [...document.querySelectorAll("#city tbody tr")].map((tr) => tr.children[4].textContent));
  const money = (v) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(v);
  await page.click("[data-card=sales_by_city] .view-switch button[data-view=table]");   // the map is the default view
  await page.click("#city th[data-col=revenue]");
  const desc = rows.slice().sort((a, b) => b.revenue - a.revenue).map((r) => money(r.revenue));
  check(JSON.stringify(await revs()) === JSON.stringify(desc), "revenue desc " + JSON.stringify(await revs()));
  await page.click("#city th[data-col=revenue]");
  check(JSON.stringify(await revs()) === JSON.stringify(desc.slice().reverse()), "revenue asc");
  check(await page.locator("#city th[data-col=revenue]").getAttribute("aria-sort") === "ascending", "aria-sort");
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#city-csv")]);
  const csv = fs.readFileSync(await dl.path(), "utf8").trim().split(/\r\n/);
  check(dl.suggestedFilename() === "sales_by_city.csv", "file name " + dl.suggestedFilename());
  const head = csv[0].split(",");
  check(JSON.stringify(head) === JSON.stringify(["province", "city", "store_type", "orders", "revenue"]), "CSV head " + csv[0]);
  const want = rows.map((r) => head.map((h) => String(r[h])).join(",")).sort();
  check(JSON.stringify(csv.slice(1).sort()) === JSON.stringify(want), "CSV rows == API rows: " + csv.slice(1, 3).join(" | "));
  await page.context().close();
});

await runCase("dark_theme", async () => {
  const page = await open("last=1h&refresh=off", { colorScheme: "dark" });
  const bg = () => page.evaluate(() => [getComputedStyle(document.documentElement).backgroundColor,
    getComputedStyle(document.querySelector(".card")).backgroundColor, getComputedStyle(document.querySelector(".card")).color,
    window.ECOM.charts.get("sales").axes[1].stroke(window.ECOM.charts.get("sales"), 1)]);
  const dark = await bg();
  check(dark[0] === "rgb(11, 18, 32)" && dark[1] === "rgb(21, 30, 46)" && dark[2] === "rgb(229, 231, 235)" &&
    dark[3] === "#9ca3af", "dark by prefers-color-scheme: " + JSON.stringify(dark));
  await page.selectOption("#theme", "light");
  const light = await bg();
  check(light[0] === "rgb(244, 246, 250)" && light[1] === "rgb(255, 255, 255)" && light[3] === "#6b7280",
    "light by the toggle: " + JSON.stringify(light));
  await page.context().close();
});

// What a viewer would call clipped: the page or a card scrolling sideways, a cell whose content
// overflows it, a number broken over two lines.
async function layoutProblems(page) {
  return page.evaluate(() => {
    const out = [];
    const over = document.documentElement.scrollWidth - window.innerWidth;
    if (over > 0) out.push("page scrolls sideways by " + over + " px");
    for (const e of document.querySelectorAll("td, th, .scroll, .hscroll, .kpi, .card"))
      if (e.scrollWidth > e.clientWidth + 1) out.push("clipped " + e.tagName + "." + e.className + " '" +
        e.textContent.slice(0, 30) + "' " + e.scrollWidth + ">" + e.clientWidth);
    for (const td of document.querySelectorAll("td.num")) {
      const r = document.createRange();
      r.selectNodeContents(td);
      const lines = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
      if (lines.size > 1) out.push("number on " + lines.size + " lines: " + td.textContent);
    }
    return out;
  });
}

await runCase("phone_layout_no_clipped_cells", async () => {
  const page = await open("last=1h&refresh=off", { locale: "es-EC", viewport: { width: 390, height: 844 }, isMobile: true });
  const probs = await layoutProblems(page);
  check(probs.length === 0, probs.join(" | "));
  const r = await page.evaluate(() => {
    const u = window.ECOM.charts.get("category");
    return { catLabels: u.axes[0]._values, rotate: u.axes[0]._rotate,
      salesLabels: window.ECOM.charts.get("sales").axes[0]._values };
  });
  check(r.catLabels.length > 0 && r.catLabels.every((l) => !l.includes("…")) && r.rotate !== 0,
    "category labels whole and turned: " + JSON.stringify(r.catLabels) + " rotate " + r.rotate);
  check(r.salesLabels.length >= 3, "x axis labels on a phone: " + JSON.stringify(r.salesLabels));
  await page.context().close();
  // a desktop window narrowed to a phone's width gets the phone's chart too
  const wide = await open("last=1h&refresh=off");
  await wide.setViewportSize({ width: 390, height: 844 });
  await waitFor(wide, () => window.ECOM.charts.get("category").axes[0]._rotate !== 0, null, 5000);
  check((await layoutProblems(wide)).length === 0, "narrowed: " + (await layoutProblems(wide)).join(" | "));
  await wide.context().close();
});

// The hooks other files build on: a registered card is fetched for and drawn on each refresh
// (map.js), ECOM.addSection places its section, ECOM.live.accept redraws from a pushed answer (SSE).
await runCase("card_registry_and_live_hook", async () => {
  const page = await open("last=1h&refresh=off");
  const n = Number(await page.evaluate(() => document.body.dataset.refreshes));
  await page.evaluate(() => {
    const sec = window.ECOM.addSection("probe", "sales_by_city", false);
    window.ECOM.registerCard({ name: "probe", apis: ["sales_by_city", "summary"],
      render: (d) => { sec.body.textContent = String(d.sales_by_city.rows.length); } });
  });
  await page.click("#refresh-now");
  await ready(page, n + 1);
  const rows = (await api("sales_by_city", "last=1h")).rows.length;
  const probe = await page.evaluate(() => { const s = document.querySelector("section[data-card=probe]");
    return { text: s.textContent, beforeHealth: s.nextElementSibling.querySelector("#health") !== null }; });
  check(probe.text.endsWith(String(rows)) && probe.beforeHealth, "registered card: " + JSON.stringify(probe) + " want " + rows);
  const s = await api("summary", "last=1h");
  await page.evaluate((a) => window.ECOM.live.accept("summary", Object.assign({}, a, { revenue: 1234.5 })), s);
  check(await page.locator("#kpi-revenue").textContent() === "$1,234.50", "live answer drawn: " +
    await page.locator("#kpi-revenue").textContent());
  await page.context().close();
});

await runCase("screenshots_en_es_light_dark_desktop_phone", async () => {
  let n = 0;
  for (const lang of ["en", "es"]) for (const scheme of ["light", "dark"]) for (const dev of ["desktop", "phone"]) {
    const opts = { locale: lang === "es" ? "es-EC" : "en-US", colorScheme: scheme };
    if (dev === "phone") Object.assign(opts, { viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await open("last=6h&refresh=off", opts);
    const probs = await layoutProblems(page);
    check(probs.length === 0, `${lang} ${scheme} ${dev}: ` + probs.join(" | "));
    await page.screenshot({ path: path.join(ART, `dashboard-${lang}-${scheme}-${dev}.png`), fullPage: true });
    n++;
    await page.context().close();
  }
  check(n === 8, "screenshots " + n);
});

await runCase("no_console_errors", async () => {
  check(consoleErrors.length === 0, "console: " + consoleErrors.join(" | "));
});

await browser.close();
process.exit(failed() ? 1 : 0);
