// bench/bench_latency.mjs — the measuring side of bench/bench_latency.sh (read its header).
// Env: REPO, DASH_URL, DURATION (s), LABEL, LATENESS_S.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.REPO, "src/dash/web/package.json"));
const { chromium } = require("playwright-core");
const URL = process.env.DASH_URL, DUR = Number(process.env.DURATION) * 1000, LABEL = process.env.LABEL;
const LATENESS = Number(process.env.LATENESS_S) * 1000;

function pct(v, p) {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)];
}
function line(name, v) {
  const f = (x) => (isNaN(x) ? "-" : (x / 1000).toFixed(3));
  console.log(`${LABEL.padEnd(5)} ${name.padEnd(34)} n=${String(v.length).padStart(5)}  p50 ${f(pct(v, 50))} s  p99 ${f(pct(v, 99))} s  max ${f(Math.max(...v))} s`);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
// In the page: every /api/health answer's newest_event_at, every finished refresh (the body's
// data-refreshes attribute), and a second EventSource of our own for the push's arrival.
await page.addInitScript(() => {
  const m = { sse: [], page: [], lastHealth: null };
  window.__lat = m;
  const of = window.fetch;
  window.fetch = async (...a) => {
    const r = await of(...a);
    if (String(a[0]).startsWith("/api/health")) {
      r.clone().json().then((j) => { m.lastHealth = j && j.stream ? j.stream.newest_event_at : null; }).catch(() => {});
    }
    return r;
  };
  if (window.EventSource) {
    const es = new EventSource("/api/stream");
    es.onmessage = (e) => { try { const d = JSON.parse(e.data); if (d.newest_event_at) m.sse.push([Date.now(), Date.parse(d.newest_event_at)]); } catch (x) {} };
  }
  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(() => { if (m.lastHealth) m.page.push([Date.now(), Date.parse(m.lastHealth)]); })
      .observe(document.body, { attributes: true, attributeFilter: ["data-refreshes"] });
  });
});
page.on("pageerror", (e) => console.log("pageerror: " + e.message));
await page.goto(URL);

// Finals, polled from Node meanwhile.
const finals = [];
const seen = new Set();
const t0 = Date.now();
while (Date.now() - t0 < DUR) {
  try {
    const j = await (await fetch(URL + "api/sales_per_minute?last=15m")).json();
    const now = Date.now();
    for (const r of j.rows || []) {
      const end = Date.parse(r.window_end);
      if (r.final && !seen.has(end)) {
        seen.add(end);
        if (end > t0) finals.push(now - (end + LATENESS)); // a window that ended before we watched is not a sample
      }
    }
  } catch (e) { /* the server is starting */ }
  await new Promise((res) => setTimeout(res, 100));
}
const m = await page.evaluate(() => window.__lat);
await browser.close();

// newest age per update, and the bound against the previous update's newest event
function ages(v) {
  const age = [], bound = [];
  let prev = null;
  for (const [t, n] of v) {
    age.push(t - n);
    if (prev !== null && n > prev) bound.push(t - prev);
    prev = prev === null || n > prev ? n : prev;
  }
  return [age, bound];
}
const [sa, sb] = ages(m.sse), [pa, pb] = ages(m.page);
if (m.sse.length) {
  line("provisional SSE: newest age", sa);
  line("provisional SSE: oldest new bound", sb);
}
if (m.page.length) {
  line("provisional page: newest age", pa);
  line("provisional page: oldest new bound", pb);
}
line("final: visible - (end + lateness)", finals);
