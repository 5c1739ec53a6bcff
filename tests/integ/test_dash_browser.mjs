// test_dash_browser.mjs — drives the dashboard page in headless Chromium (Debian's, through
// playwright-core from npm). Run by test_dash_browser.sh, which starts `ecom dash` and passes:
//   DASH_URL     the server's base URL
//   DASH_MODE    "empty" (no data), "data" (a lake with a day of minute windows) or "run" (the
//                dashboard of a just started `ecom run`: only the provisional-funnel case runs)
//   RUN_T0       (run mode) when `ecom run` started, ms since the epoch
//   DASH_ADD_WINDOW  (data mode) a command that commits one more window to the lake
//   SHOT         where to save the screenshot
// Prints PASS/FAIL per case.
import { execSync } from "node:child_process";
import { launch, cases, apiOf, waitFor } from "./dash_page_lib.mjs";

const URL = process.env.DASH_URL;
const MODE = process.env.DASH_MODE || "empty";
const { check, runCase, failed } = cases();
const api = apiOf(URL);
const browser = await launch();
const consoleErrors = [];
const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 1000 } });
const page = await context.newPage();
page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") consoleErrors.push(m.type() + ": " + m.text()); });
page.on("pageerror", (e) => consoleErrors.push("pageerror: " + e.message));
page.on("requestfailed", (r) => consoleErrors.push("requestfailed: " + r.url()));
const outside = [];
page.on("request", (r) => { if (!r.url().startsWith(URL) && !r.url().startsWith("data:")) outside.push(r.url()); });

if (MODE === "run") {
  // Within 2 minutes of `ecom run` the funnel card shows the stream's open windows, marked
  // provisional (a funnel window is final only ~90 minutes later).
  // The stream answers /status once its first loop turn published one (503 before): wait for a
  // schema 2 status through the dashboard, bounded; never a skip (a missing status is a failure).
  let h = await api("health");
  for (let i = 0; i < 300 && !(h.stream && h.stream.schema === 2); i++) {
    await new Promise((r) => setTimeout(r, 100));
    h = await api("health");
  }
  await runCase("funnel_provisional_within_2_minutes", async () => {
    check(h.stream && h.stream.schema === 2,
      "no schema 2 /status through the dashboard within 30 s: " + (h.stream_error || "no status"));
    await page.goto(URL, { waitUntil: "load" });
    const left = Math.max(1000, 120000 - (Date.now() - Number(process.env.RUN_T0)));
    await waitFor(page, () => {
      const f = document.getElementById("funnel");
      const v = f.querySelector(".step[data-step=viewed]");
      return f.dataset.provisional === "true" && v && Number(v.dataset.value) > 0;
    }, null, left);
    const note = await page.locator("#funnel .prov-note").textContent();
    check(/provisional/.test(note) && /final at/.test(note), "funnel note: " + note);
    const conv = await page.evaluate(() => document.getElementById("kpi-conversion").parentNode.dataset.provisional);
    check(conv === "true", "conversion tile marked provisional: " + conv);
    console.log("  funnel provisional after " + ((Date.now() - Number(process.env.RUN_T0)) / 1000).toFixed(1) + " s");
    await page.screenshot({ path: process.env.SHOT, fullPage: true });
    check(consoleErrors.length === 0, "console: " + consoleErrors.join(" | "));
  });
  // Honest health (issue 11, finding 7): with lag null (the fake stream reports an outage) the
  // card says "unknown" and Kafka "unreachable", marked; with a live stream, a number and "connected".
  await runCase("health_card_is_honest", async () => {
    const s = (await api("health")).stream;
    await waitFor(page, () => document.querySelectorAll("#health dt").length > 3);
    const card = await page.evaluate(() => {
      const out = {};
      for (const dt of document.querySelectorAll("#health dt"))
        out[dt.textContent] = { text: dt.nextElementSibling.textContent, bad: dt.nextElementSibling.className };
      return out;
    });
    const lag = card["Consumer lag"], kafka = card["Kafka"], prog = card["Last progress"];
    check(lag && kafka && prog, "health card entries: " + JSON.stringify(card));
    if (s.lag === null) {
      check(lag.text === "unknown (broker unreachable)" && lag.bad === "health-bad", "lag entry: " + JSON.stringify(lag));
      check(kafka.text === "unreachable" && kafka.bad === "health-bad", "kafka entry: " + JSON.stringify(kafka));
    } else {
      check(/^[0-9,]+$/.test(lag.text), "lag entry: " + JSON.stringify(lag));
      check(kafka.text === (s.kafka_connected ? "connected" : "unreachable"), "kafka entry: " + JSON.stringify(kafka));
    }
    check(s.last_progress_at ? prog.text !== "—" : prog.text === "—", "last progress: " + JSON.stringify(prog));
    console.log("  health card: lag " + lag.text + ", Kafka " + kafka.text);
  });
  await browser.close();
  process.exit(failed() ? 1 : 0);
}

await runCase("page_loads", async () => {
  const resp = await page.goto(URL, { waitUntil: "load" });
  check(resp.status() === 200, "status " + resp.status());
  await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 1);
  check(await page.evaluate(() => typeof window.uPlot === "function"), "uPlot loaded from the server");
  check(await page.locator("#banner").isHidden(), "no error banner: " + await page.locator("#banner").textContent());
  check(outside.length === 0, "requests outside the server: " + outside.join(", "));
});

await runCase("kpis_match_api", async () => {
  const s = await api("summary", "last=1h");
  const vals = await page.evaluate(() => ["kpi-revenue", "kpi-orders", "kpi-ticket", "kpi-conversion"].map(
    (id) => document.getElementById(id).dataset.value));
  // an empty range says so ("No data", no data-value) instead of a reassuring $0.00
  const empty = MODE === "empty";
  const want = [s.revenue, s.orders, s.avg_ticket, s.conversion].map((v) => (v == null || empty ? "" : String(v)));
  check(JSON.stringify(vals) === JSON.stringify(want), "KPI data " + JSON.stringify(vals) + " != API " + JSON.stringify(want));
  const revText = await page.locator("#kpi-revenue").textContent();
  const fmt = empty ? "No data" : new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(s.revenue);
  check(revText === fmt, "revenue tile shows " + revText + ", want " + fmt);
  const ordersText = await page.locator("#kpi-orders").textContent();
  check(ordersText === (empty ? "No data" : new Intl.NumberFormat("en-US").format(s.orders)), "orders tile " + ordersText);
});

if (MODE === "data") {
  await runCase("charts_drawn", async () => {
    const sales = await api("sales_per_minute", "last=1h");
    const pts = await page.evaluate(() => [document.getElementById("chart-sales").dataset.points,
      document.getElementById("chart-category").dataset.points]);
    check(Number(pts[0]) === sales.rows.length && sales.rows.length > 0, "sales chart points " + pts[0] + " vs " + sales.rows.length);
    check(Number(pts[1]) > 0, "category bars " + pts[1]);
    // the canvases really have ink: count non-transparent pixels of each uPlot canvas
    const ink = await page.evaluate(() => [...document.querySelectorAll(".chart canvas")].map((c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    }));
    check(ink.length === 2 && ink.every((n) => n > 1000), "canvas ink " + JSON.stringify(ink));
    const topRows = await page.locator("#top tbody tr.row").count();
    check(topRows === 10, "top products rows " + topRows);
    const cityRows = await page.locator("#city tbody tr.row").count();
    check(cityRows > 0, "city rows " + cityRows);
    const f = await api("funnel", "last=1h");
    const fv = await page.evaluate(() => [...document.querySelectorAll("#funnel .step")].map((e) => Number(e.dataset.value)));
    check(JSON.stringify(fv) === JSON.stringify([f.viewed, f.carted, f.purchased]), "funnel " + JSON.stringify(fv));
    const w = await page.evaluate(() => document.querySelector(".step-purchased").getBoundingClientRect().width);
    check(f.purchased === 0 || w > 0, "purchased bar drawn");
  });

  await runCase("range_changes_charts", async () => {
    const before = await page.evaluate(() => document.getElementById("chart-sales").dataset.points);
    await page.selectOption("#range", "24h");
    const want = (await api("sales_per_minute", "last=24h")).rows.length;
    await waitFor(page, (n) => document.getElementById("chart-sales").dataset.points === String(n), want);
    const after = await page.evaluate(() => document.getElementById("chart-sales").dataset.points);
    check(after !== before && Number(after) === want, "points " + before + " -> " + after + " (want " + want + ")");
    const s = await api("summary", "last=24h");
    await waitFor(page, (v) => document.getElementById("kpi-orders").dataset.value === String(v), s.orders);
    await page.selectOption("#range", "15m");
    await waitFor(page, () => Number(document.getElementById("chart-sales").dataset.points) <= 15);
  });

  await runCase("new_window_without_reload", async () => {
    await page.selectOption("#range", "1h");
    const last0 = await page.evaluate(() => document.getElementById("chart-sales").dataset.last);
    const nav0 = await page.evaluate(() => performance.getEntriesByType("navigation").length + ":" + performance.timeOrigin);
    execSync(process.env.DASH_ADD_WINDOW, { stdio: "inherit" });
    await waitFor(page, (l) => document.getElementById("chart-sales").dataset.last > l, last0, 20000);
    const nav1 = await page.evaluate(() => performance.getEntriesByType("navigation").length + ":" + performance.timeOrigin);
    check(nav0 === nav1, "the page was not reloaded");
  });
}

await runCase("language_switch", async () => {
  await page.selectOption("#lang", "es");
  const h = await page.locator("h1").textContent();
  check(h.includes("ventas en vivo"), "Spanish title: " + h);
  const label = await page.locator(".kpi-label").first().textContent();
  check(label === "Ingresos", "Spanish KPI label: " + label);
  const s = await api("summary", "last=1h");
  const rev = await page.locator("#kpi-revenue").textContent();
  const fmt = MODE === "empty" ? "Sin datos" : new Intl.NumberFormat("es-EC", { style: "currency", currency: "USD" }).format(s.revenue);
  check(rev === fmt, "Spanish money " + rev + " want " + fmt);
  check(await page.evaluate(() => document.documentElement.lang) === "es", "html lang");
  await page.selectOption("#lang", "en");
  check((await page.locator("h1").textContent()).includes("live sales"), "back to English");
});

await runCase("phone_layout", async () => {
  const phone = await browser.newContext({ locale: "es-EC", viewport: { width: 390, height: 844 }, isMobile: true });
  const p = await phone.newPage();
  p.on("pageerror", (e) => consoleErrors.push("phone pageerror: " + e.message));
  await p.goto(URL);
  await waitFor(p, () => Number(document.body.dataset.refreshes || 0) >= 1);
  check((await p.locator("h1").textContent()).includes("ventas"), "Spanish by default from navigator.language");
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, "no horizontal scroll on a phone: " + overflow + "px");
  await p.screenshot({ path: process.env.SHOT.replace(/\.png$/, "-phone.png"), fullPage: true });
  await phone.close();
});

await runCase("no_console_errors", async () => {
  await page.selectOption("#range", "1h");
  await waitFor(page, () => Number(document.body.dataset.refreshes || 0) >= 2, null, 20000);
  await page.screenshot({ path: process.env.SHOT, fullPage: true });
  check(consoleErrors.length === 0, "console: " + consoleErrors.join(" | "));
});

await browser.close();
process.exit(failed() ? 1 : 0);
