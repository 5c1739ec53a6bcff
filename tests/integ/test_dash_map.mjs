// test_dash_map.mjs — the city card's map in headless Chromium (Debian's, via playwright-core).
// Run by test_dash_map.sh with DASH_URL (an `ecom dash` over a lake of generated events) and SHOT.
// Prints PASS/FAIL per case.
import { launch, cases } from "./dash_page_lib.mjs";

const URL = process.env.DASH_URL;
const RANGE = "last=24h";
const { check, runCase, failed } = cases();
async function api(p) { return (await fetch(URL + p)).json(); }
// A point (page coordinates) inside the shape sel where the shape itself is on top (a smaller
// circle drawn over a big one, or a circle over a province, hides parts of it), or null.
async function visiblePoint(page, sel) {
  return page.evaluate((s) => {
    const e = document.querySelector(s), svg = e.ownerSVGElement, b = e.getBBox(), m = e.getScreenCTM();
    for (let fy = 0.1; fy < 0.95; fy += 0.1) for (let fx = 0.1; fx < 0.95; fx += 0.1) {
      const q = svg.createSVGPoint(); q.x = b.x + b.width * fx; q.y = b.y + b.height * fy;
      const sp = q.matrixTransform(m);
      if (document.elementFromPoint(sp.x, sp.y) === e) return [sp.x, sp.y];
    }
    return null;
  }, sel);
}
const usd = (lang, v) => new Intl.NumberFormat(lang, { style: "currency", currency: "USD" }).format(v);

const browser = await launch();
const consoleErrors = [], outside = [];
function watch(page) {
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push("pageerror: " + e.message));
  page.on("request", (r) => { if (!r.url().startsWith(URL) && !r.url().startsWith("data:")) outside.push(r.url()); });
}
const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 1000 } });
const page = await ctx.newPage();
watch(page);
const card = "[data-card=sales_by_city]";
// The answers the page draws (its default range is the last hour; select 24 h, the whole lake).
const cities = await api("api/sales_by_city?" + RANGE + "&limit=100");
const places = await api("api/places");

// Sums API rows per key in cents (exact), back to dollars as the API writes them.
function sumBy(rows, key) {
  const m = new Map();
  for (const r of rows) m.set(key(r), (m.get(key(r)) || 0) + Math.round(r.revenue * 100));
  return new Map([...m].map(([k, c]) => [k, c / 100]));
}

// Waits until the circles drawn add up to the API's 24 h answer (in cents). Not a count of
// circles: the page first draws its default range (the last hour, 20+ cities too), and a wait
// that the first drawing met left the checks comparing that hour with the API's 24 h (a CI
// failure: every circle about half its API revenue). A page that never draws it fails the
// checks that follow, which say by how much.
async function waitForMapOfApi(p) {
  const cents = cities.rows.reduce((s, r) => s + Math.round(r.revenue * 100), 0);
  await p.waitForFunction((c) => {
    const dots = [...document.querySelectorAll(".citymap .city-dot")];
    return dots.length > 20 && dots.reduce((s, e) => s + Math.round(Number(e.dataset.revenue) * 100), 0) === c;
  }, cents, { timeout: 15000 }).catch(() => {});
}

await runCase("map_one_shape_per_province", async () => {
  await page.goto(URL, { waitUntil: "load" });
  await page.selectOption("#range", "24h");
  await waitForMapOfApi(page);
  const shapes = await page.evaluate(() => [...document.querySelectorAll(".prov-shape")].map((e) => e.dataset.province));
  check(shapes.length === 24 && new Set(shapes).size === 24, "24 distinct province shapes, got " + shapes.length);
  const provinces = new Set(places.cities.map((c) => c.province));
  for (const p of provinces) check(shapes.includes(p), "no shape for province " + p);
  check(shapes.includes("Galápagos"), "the Galápagos are drawn");
  // every shape has a real outline (a bounding box of some size), the Galápagos inside the inset
  const boxes = await page.evaluate(() => [...document.querySelectorAll(".prov-shape")].map((e) => {
    const b = e.getBBox(); return [e.dataset.province, b.width, b.height]; }));
  for (const [p, w, h] of boxes) check(w > 3 && h > 3, p + " shape is " + w + "x" + h);
  const inset = await page.evaluate(() => {
    const i = document.querySelector(".map-inset").getBBox(), g = document.querySelector('.prov-shape[data-province="Galápagos"]').getBBox();
    return g.x >= i.x && g.y >= i.y && g.x + g.width <= i.x + i.width && g.y + g.height <= i.y + i.height;
  });
  check(inset, "the Galápagos lie inside the inset box");
  check(await page.locator(card + " table").isHidden(), "the table is hidden in map view");
});

await runCase("map_circles_match_api", async () => {
  const want = sumBy(cities.rows, (r) => r.province + "|" + r.city);
  const got = await page.evaluate(() => [...document.querySelectorAll(".city-dot")].map((e) =>
    [e.dataset.province + "|" + e.dataset.city, Number(e.dataset.revenue), Number(e.getAttribute("r"))]));
  check(got.length === want.size, "circles " + got.length + " vs cities in the API " + want.size);
  for (const [k, rev] of got) check(want.get(k) === rev, k + ": circle " + rev + " vs API " + want.get(k));
  // area follows revenue: the largest circle is the city with the most revenue
  const top = [...want].sort((a, b) => b[1] - a[1])[0][0];
  const big = got.slice().sort((a, b) => b[2] - a[2])[0][0];
  check(top === big, "largest circle " + big + ", most revenue " + top);
  check(got.some(([k]) => k.startsWith("Galápagos|")), "a circle in the Galápagos");
});

await runCase("map_tooltip_revenue_equals_api", async () => {
  const byCity = sumBy(cities.rows, (r) => r.province + "|" + r.city);
  const byProv = sumBy(cities.rows, (r) => r.province);
  const top = [...byCity].sort((a, b) => b[1] - a[1])[0][0];
  const city = top.split("|")[1];
  await page.locator(card).scrollIntoViewIfNeeded();
  const cpt = await visiblePoint(page, `.city-dot[data-city="${city}"]`);
  check(cpt, "a visible point of the " + city + " circle");
  await page.mouse.move(cpt[0], cpt[1]);
  const tip = page.locator(".map-tip");
  await tip.waitFor({ state: "visible", timeout: 5000 });
  const t = await tip.textContent();
  check(t.includes(city) && t.includes(usd("en-US", byCity.get(top))), "city tooltip '" + t + "' lacks " + usd("en-US", byCity.get(top)));
  check(Number(await tip.getAttribute("data-revenue")) === byCity.get(top), "tooltip data-revenue");
  // a province: hover a point of its shape that no circle covers
  const p = "Pastaza";
  const pt = await visiblePoint(page, `.prov-shape[data-province="${p}"]`);
  if (check(pt, "found a point inside " + p)) {
    await page.mouse.move(pt[0], pt[1]);
    await page.waitForFunction((n) => document.querySelector(".map-tip").textContent.startsWith(n), p, { timeout: 5000 });
    const pt2 = await tip.textContent();
    check(pt2.includes(usd("en-US", byProv.get(p) || 0)), "province tooltip '" + pt2 + "' vs API " + byProv.get(p));
  }
  await page.screenshot({ path: process.env.SHOT, fullPage: false, clip: await page.locator(card).boundingBox() });
});

await runCase("map_table_toggle_and_spanish", async () => {
  await page.click(card + " .view-switch button[data-view=table]");
  check(await page.locator(card + " table").isVisible(), "table shown");
  check(await page.locator(".citymap").isHidden(), "map hidden");
  await page.reload();
  await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1);
  check(await page.locator(".citymap").isHidden(), "the choice survives a reload");
  await page.click(card + " .view-switch button[data-view=map]");
  await page.selectOption("#lang", "es");
  await page.selectOption("#range", "24h");
  await page.waitForFunction(() => document.querySelector(".view-switch button[data-view=map]").textContent === "Mapa"
    && document.querySelectorAll(".city-dot").length > 20, null, { timeout: 15000 });
  await waitForMapOfApi(page);
  const byCity = sumBy(cities.rows, (r) => r.province + "|" + r.city);
  await page.locator(card).scrollIntoViewIfNeeded();
  const q = await visiblePoint(page, '.city-dot[data-city="Quito"]');
  await page.mouse.move(q[0], q[1]);
  await page.waitForFunction(() => document.querySelector(".map-tip").textContent.startsWith("Quito"), null, { timeout: 5000 });
  const t = await page.locator(".map-tip").textContent();
  check(t.includes("Ingresos") && t.includes(usd("es-EC", byCity.get("Pichincha|Quito"))), "Spanish tooltip: " + t);
  const phone = await browser.newContext({ locale: "es-EC", viewport: { width: 390, height: 844 }, isMobile: true });
  const p = await phone.newPage();
  watch(p);
  await p.goto(URL);
  await p.waitForSelector(".citymap svg", { timeout: 15000 });
  const over = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(over <= 0, "no horizontal scroll on a phone: " + over + "px");
  await p.locator(card).screenshot({ path: process.env.SHOT.replace(/\.png$/, "-phone.png") });
  await phone.close();
  check(consoleErrors.length === 0, "console: " + consoleErrors.join(" | "));
  check(outside.length === 0, "requests outside the server: " + outside.join(", "));
});
// shop.js's cards over the same answers: cart abandonment and revenue by channel / device.
await runCase("shop_cards_match_api", async () => {
  await page.selectOption("#lang", "en");
  await page.selectOption("#range", "24h");
  const f = await api("api/funnel?" + RANGE), cats = await api("api/category_activity?" + RANGE);
  const ch = await api("api/sales_by_channel?" + RANGE);
  await page.waitForFunction((c) => {
    const e = document.querySelector('[data-card=cart_abandonment] [data-fig=carted] .shop-fig-value');
    return e && e.dataset.value === String(c);
  }, f.carted, { timeout: 15000 });
  const figs = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("[data-card=cart_abandonment] .shop-fig")]
    .map((e) => [e.dataset.fig, e.querySelector(".shop-fig-value").dataset.value])));
  const sum = (k) => cats.rows.reduce((s, r) => s + r[k], 0);
  const want = { adds: String(sum("adds")), removes: String(sum("removes")), carted: String(f.carted),
    abandoned: String(f.abandoned), abandonment_rate: String(f.abandonment_rate) };
  check(JSON.stringify(figs) === JSON.stringify(want), "cart card " + JSON.stringify(figs) + " vs API " + JSON.stringify(want));
  check(f.abandoned === f.carted - f.purchased && f.abandoned > 0, "abandoned = carted - purchased: " + JSON.stringify(f));
  for (const key of ["store_type", "device"]) {
    const w = sumBy(ch.rows, (r) => r[key]);
    const got = await page.evaluate((k) => [...document.querySelectorAll(`.shop-bar[data-key=${k}]`)].map((e) =>
      [e.dataset.name, Number(e.dataset.revenue)]), key);
    check(got.length === w.size && got.every(([n, v]) => w.get(n) === v), key + " bars " + JSON.stringify(got) + " vs API " + JSON.stringify([...w]));
  }
  await page.locator("[data-card=cart_abandonment]").screenshot({ path: process.env.SHOT.replace(/\.png$/, "-cart.png") });
});
// --data names a folder that is not a lake: the page says so in its banner (from /api/health).
await runCase("banner_when_not_a_lake", async () => {
  const h = await (await fetch(process.env.NOTLAKE_URL + "api/health")).json();
  check(/is not a lake: it holds 3 entries/.test(h.tables.not_a_lake || ""), "API not_a_lake: " + h.tables.not_a_lake);
  const p = await ctx.newPage();
  await p.goto(process.env.NOTLAKE_URL);
  await p.waitForFunction(() => !document.getElementById("banner").hidden, null, { timeout: 15000 });
  const b = await p.locator("#banner").textContent();
  check(b === h.tables.not_a_lake, "banner '" + b + "'");
  await p.close();
  // and a real lake has no banner
  check(await page.locator("#banner").isHidden(), "no banner over a lake: " + await page.locator("#banner").textContent());
  const hl = await api("api/health");
  check(!("not_a_lake" in hl.tables), "no not_a_lake over a lake");
});
await browser.close();
process.exit(failed() ? 1 : 0);
