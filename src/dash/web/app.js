/* app.js — the dashboard page's state and controls: the range, the zoom, the time zone, the
 * language, the theme and the refresh control; the fetch loop; and the card registry every card
 * is drawn through. No inline scripts (the server's CSP forbids them), no outside URLs.
 *
 * Files (loaded in this order by index.html): i18n.js (labels), fmt.js (ECOM.fmt: numbers, dates
 * and zones), charts.js (ECOM.charts: the uPlot charts), tables.js (ECOM.tables: the catalog's
 * table cards), this file, then any extra card file (e.g. map.js).
 *
 * The card registry. A card is {name, apis: ["sales_by_city", ...], render(data, view)}: each
 * refresh fetches the union of every card's apis for the selected range (once each) and calls
 * render with data[api] = the answer and view = {from, to} (epoch seconds). Register with
 * ECOM.registerCard(card) from a script that runs before DOMContentLoaded (a deferred script
 * after this one): the map card does so. ECOM.addSection(name, titleKey, wide) makes a card's
 * section in the page's grid (the table cards use it too).
 *
 * Live updates. ECOM.live.accept(api, answer) puts one answer in place and redraws (a
 * Server-Sent-Events listener feeds it); ECOM.live.refresh() fetches everything now.
 *
 * State in the URL: ?last=1h or ?from=..&to=.. (RFC 3339), zoom=MIN-MAX (epoch seconds, inside
 * the range), tz=IANA zone, refresh=off|5s|30s|1m: a link reopens the same view. The language
 * and the theme are the viewer's, kept in localStorage.
 *
 * For tests, every drawn element carries its raw numbers in data-* attributes (data-value on KPI
 * tiles, data-provisional on tiles, the funnel and table rows, the charts' in charts.js), and
 * body carries data-refreshes (fetches done) and data-refresh-state (off | paused | waiting);
 * the header's #freshness carries data-stale (true when the numbers have stopped, see freshness()). */
"use strict";
(function () {
  const ECOM = window.ECOM;
  const F = ECOM.fmt;
  const el = ECOM.el;
  const t = F.t;
  const REFRESH_MS = { off: 0, "5s": 5000, "30s": 30000, "1m": 60000 };
  const LASTS = ["15m", "1h", "6h", "24h", "7d"];
  const ZONES = ["browser", "UTC", "America/Guayaquil", "Pacific/Galapagos", "America/Bogota", "America/Lima",
    "America/New_York", "Europe/Madrid"];
  const state = {
    range: { last: "1h" },
    zoom: null,          // [min, max] epoch seconds of the sales chart's x, or null
    refresh: "5s",
    theme: "auto",       // auto (prefers-color-scheme) | light | dark
    data: null,          // the last answers by API name, re-rendered on a language/zone switch
    catalog: null,       // /api/catalog
    refreshes: 0,
    timer: null,
    hover: false,        // the pointer is over a card: refresh paused
    seq: 0,              // fetch generation: a late answer for an older range is dropped
  };
  const cards = [];

  function safeStorage(op, key, value) {
    try {
      if (op === "get") return window.localStorage.getItem(key);
      window.localStorage.setItem(key, value);
    } catch (e) { /* storage may be disabled: the choice then lasts for this page only */ }
    return null;
  }

  function banner(msg) {
    const b = document.getElementById("banner");
    b.textContent = msg || "";
    b.hidden = !msg;
  }

  function validZone(z) {
    if (z === "browser") return true;
    try { new Intl.DateTimeFormat("en", { timeZone: z }); return true; } catch (e) { return false; }
  }

  // ---- the URL: read once at start, rewritten (replaceState) on every change ----
  function readUrl() {
    const q = new URLSearchParams(location.search);
    const last = q.get("last"), from = q.get("from"), to = q.get("to");
    if (from && to && !isNaN(Date.parse(from)) && !isNaN(Date.parse(to)) && Date.parse(from) < Date.parse(to))
      state.range = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    else if (last && /^[0-9]+[smhd]$/.test(last)) state.range = { last };
    const z = /^([0-9.]+)-([0-9.]+)$/.exec(q.get("zoom") || "");
    if (z && +z[1] < +z[2]) state.zoom = [+z[1], +z[2]];
    if (q.get("refresh") in REFRESH_MS) state.refresh = q.get("refresh");
    const tz = q.get("tz") || safeStorage("get", "ecom.tz");
    if (tz && validZone(tz)) F.prefs.tz = tz;
  }

  function writeUrl() {
    const q = new URLSearchParams();
    if (state.range.last) q.set("last", state.range.last);
    else { q.set("from", state.range.from); q.set("to", state.range.to); }
    if (state.zoom) q.set("zoom", state.zoom[0] + "-" + state.zoom[1]);
    if (F.prefs.tz !== "browser") q.set("tz", F.prefs.tz);
    if (state.refresh !== "5s") q.set("refresh", state.refresh);
    history.replaceState(null, "", location.pathname + "?" + q.toString());
  }

  function rangeQuery() {
    const r = state.range;
    if (r.last) return "last=" + encodeURIComponent(r.last);
    return "from=" + encodeURIComponent(r.from) + "&to=" + encodeURIComponent(r.to);
  }

  // An answer's JSON, or an Error: the server's {"error"} (or its HTTP status), or, when the
  // dashboard itself did not answer (stopped, the network), one with .unreachable set.
  async function getJSON(path) {
    let resp;
    try {
      resp = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      const err = new Error(t("dash_unreachable") + " (" + e.message + ")");
      err.unreachable = true;
      throw err;
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) throw new Error((body && body.error) || ("HTTP " + resp.status));
    return body;
  }

  // ---- the fetch loop ----
  async function refresh() {
    clearTimeout(state.timer);
    state.timer = null;
    const seq = ++state.seq;
    const q = rangeQuery();
    const names = [...new Set(cards.flatMap((c) => c.apis))];
    try {
      if (!state.catalog) state.catalog = await getJSON("/api/catalog");
      const answers = await Promise.all(names.map((n) => getJSON("/api/" + n + (n === "health" ? "" : "?" + q))));
      if (seq === state.seq) {   // no newer fetch (another range) started meanwhile
        const data = {};
        names.forEach((n, i) => { data[n] = answers[i]; });
        state.data = data;
        state.okAt = Date.now();
        render();
        banner((data.health.tables && data.health.tables.not_a_lake) || null);   // --data is not a lake
      }
    } catch (e) {
      if (seq === state.seq) {
        banner(t("error") + ": " + e.message);
        // what is drawn is from the last answer that came: say so, and since when
        if (state.data) setFreshness(freshness(state.data.health, e, state.okAt));
      }
    }
    if (seq !== state.seq) return;
    state.refreshes++;
    document.body.dataset.refreshes = String(state.refreshes);
    schedule();
  }

  // The next refresh, unless refresh is off or the pointer rests on a card (a reader there
  // should not have the numbers move under the cursor).
  function schedule() {
    clearTimeout(state.timer);
    state.timer = null;
    const ms = REFRESH_MS[state.refresh];
    let st = "waiting";
    if (!ms) st = "off";
    else if (state.hover) st = "paused";
    else state.timer = setTimeout(refresh, ms);
    document.body.dataset.refreshState = st;
    const p = document.getElementById("refresh-state");
    p.textContent = st === "paused" ? t("paused") : "";
  }

  // Push (live.js): a change of the stream's numbers refreshes now; changes arriving meanwhile
  // coalesce into one more refresh.
  let liveBusy = false, liveAgain = false;
  async function liveRefresh() {
    if (liveBusy) { liveAgain = true; return; }
    liveBusy = true;
    do { liveAgain = false; await refresh(); } while (liveAgain);
    liveBusy = false;
  }

  // ---- rendering ----
  // The answer's range in epoch seconds (what every axis spans).
  function view() {
    const s = state.data.summary;
    return { from: Date.parse(s.from) / 1000, to: Date.parse(s.to) / 1000 };
  }

  function render() {
    const d = state.data;
    if (!d) return;
    const v = view();
    // A range that begins before the data says where the data begins (the axis still spans the range).
    const df = d.summary.data_from, early = df && Date.parse(df) > Date.parse(d.summary.from);
    document.getElementById("shown").textContent = t("range_shown") + " " + F.time(d.summary.from) + " – " +
      F.time(d.summary.to) + (early ? " · " + t("data_from") + " " + F.day(Date.parse(df)) + " " + F.hm(Date.parse(df)) : "");
    document.getElementById("shown").dataset.dataFrom = early ? df : "";
    // the time the drawn answer came (a re-render, e.g. on resize, draws no newer numbers)
    document.getElementById("updated").textContent = F.clock(state.okAt || Date.now());
    setFreshness(freshness(d.health, null, null));
    for (const c of cards) {
      try { c.render(d, v); } catch (e) { banner(t("error") + " (" + c.name + "): " + e.message); }
    }
  }

  // How old the newest data is, and whether the numbers have stopped ("stale") and why, from
  // /api/health (its "now" is the dashboard's clock: the viewer's may be anything). The newest
  // data is the stream's newest event while it answers, else the lake's latest window end.
  // Stale, with the reason: the stream does not answer (its open minutes are then left out, so
  // the numbers stop at the lake's latest window), it cannot reach Kafka, it has made no progress
  // for STALL_S, or the last refresh failed (fail: the lake could not be read, or the dashboard
  // did not answer; the page keeps the answers of okAt, and their ages go on from h.now by the
  // time passed since). Without --stream there is nothing to expect: only the age is said.
  const STALL_S = 30;
  function freshness(h, fail, okAt) {
    const now = Date.parse(h.now) + (fail ? Date.now() - okAt : 0);
    const s = h.stream && h.stream.schema === 2 ? h.stream : null;
    const ago = (iso) => F.age((now - Date.parse(iso)) / 1000);   // "ahead of …" when in the future
    let newest = null, why = null;
    if (s && s.newest_event_at) newest = t("newest_event") + " " + F.time(s.newest_event_at) + " (" + ago(s.newest_event_at) + ")";
    else if (h.latest_window_end) newest = t("newest_data") + " " + F.time(h.latest_window_end) + " (" + ago(h.latest_window_end) + ")";
    if (fail) why = t(fail.unreachable ? "stale_dash" : "stale_lake").replace("{e}", fail.message).replace("{t}", F.clock(okAt));
    else if (h.stream_error) why = t("stale_stream").replace("{e}", h.stream_error);
    else if (s && s.kafka_connected === false) why = t("stale_kafka");
    else if (s && s.input === "kafka" && s.last_progress_at && (now - Date.parse(s.last_progress_at)) / 1000 > STALL_S)
      why = t("stale_progress").replace("{t}", F.time(s.last_progress_at));
    return { newest, why };
  }

  function setFreshness(f) {
    const e = document.getElementById("freshness");
    e.textContent = (f.why ? t("stale") + ": " + f.why + (f.newest ? " · " : "") : "") + (f.newest || "");
    e.dataset.stale = String(!!f.why);
    e.classList.toggle("stale", !!f.why);
    e.previousElementSibling.hidden = !e.textContent;   // the " · " before it
  }

  ECOM.registerCard = function (card) { cards.push(card); };
  // What map.js and shop.js format with: the language and fmt.js's formatters.
  ECOM.cardContext = () => ({ lang: F.prefs.lang, t, fmtMoney: F.money, fmtInt: F.int, fmtPct: F.pct,
    unknown: F.unknown, disagree: F.disagree, funnelMissing: F.funnelMissing });
  // A new card's section (title from i18n.js's titleKey, a head row for buttons), placed before
  // the health card, in the order the sections are made; wide spans the whole row. Returns
  // {section, head, body}: the card fills body.
  ECOM.addSection = function (name, titleKey, wide) {
    const sec = el("section", { class: wide ? "card wide" : "card", "data-card": name });
    const head = el("div", { class: "card-head" });
    head.appendChild(el("h2", { "data-i18n": titleKey }, t(titleKey)));
    sec.appendChild(head);
    const body = el("div", { class: "card-body" });
    sec.appendChild(body);
    document.getElementById("health").closest("section").before(sec);
    return { section: sec, head, body };
  };
  ECOM.live = {
    accept(api, answer) {
      if (!state.data || !(api in state.data)) return;
      state.data[api] = answer;
      render();
    },
    refresh: () => refresh(),
    query: () => rangeQuery(),
  };

  function markProv(e, n, finalAt) {
    e.dataset.provisional = n ? "true" : "false";
    e.classList.toggle("provisional", !!n);
    e.title = F.prov(n, finalAt);
    const label = e.querySelector(".kpi-label");
    if (label) label.dataset.provLabel = t("provisional");
  }

  // The "—" of a value that is not known, with why (F.unknown) as its tooltip; "" clears it.
  function markUnknown(e, why) {
    e.dataset.unknown = why ? "true" : "false";
    if (why) e.title = why;
    else e.removeAttribute("title");
  }

  // A tile: its number, or "no data" when the range holds no window at all (never a reassuring
  // $0), or "—" with why when it is not known (F.unknown).
  function setKpi(id, value, text, empty, nprov, finalAt, why) {
    const e = document.getElementById(id);
    e.textContent = empty ? t("no_data_short") : why ? "—" : text;
    e.classList.toggle("empty", empty);
    e.dataset.value = value == null || empty ? "" : String(value);
    markProv(e.parentNode, nprov, finalAt);
    markUnknown(e, empty ? "" : why);
  }

  // "No data" for a range no table has a minute of, and for one with minutes whose sales data is
  // missing (summary.missing_windows: the other tables recorded them, their sales row was lost
  // or never published; the tiles and the note say so): a partial sum is no total. A range the
  // API says had no order in its minutes (no_order_windows) is a known $0.00 and 0 (with no
  // average ticket: "—", titled why).
  function renderKpis(d) {
    const s = d.summary;
    const noFunnel = !d.funnel.rows.length, lost = s.missing_windows > 0;
    const noSales = lost || (!s.windows && !s.no_order_windows);
    const lostWhy = lost ? t("sales_missing").replace("{n}", s.missing_windows) : "";
    for (const [id, v, text, col] of [["kpi-revenue", s.revenue, F.money(s.revenue), "revenue"],
      ["kpi-orders", s.orders, F.int(s.orders), "orders"], ["kpi-ticket", s.avg_ticket, F.money(s.avg_ticket), "avg_ticket"]]) {
      setKpi(id, v, text, noSales, s.provisional_windows, s.final_at, F.unknown(s, col, null, s.windows));
      const e = document.getElementById(id);
      e.dataset.missing = String(lost);
      if (lost) e.title = lostWhy;
    }
    if (!noSales && s.orders === 0) document.getElementById("kpi-ticket").title = t("no_orders");
    const funnelWhy = F.funnelMissing(s.funnel_missing_windows);
    setKpi("kpi-conversion", s.conversion, F.pct(s.conversion), noFunnel || !!funnelWhy, s.funnel_provisional_windows,
      s.funnel_final_at, F.unknown(s, "conversion", null, s.funnel_windows));
    const conv = document.getElementById("kpi-conversion");
    conv.dataset.missing = String(!!funnelWhy);
    if (funnelWhy) conv.title = funnelWhy;
    document.getElementById("kpis").dataset.empty = String(noSales && noFunnel);
    document.getElementById("kpi-note").textContent = lost || funnelWhy ? [lostWhy, funnelWhy].filter((x) => x).join(" · ")
      : noSales && noFunnel ? t("no_data") : "";
  }

  function chartKey() { return F.prefs.lang + "|" + F.zone() + "|" + document.documentElement.dataset.theme; }

  function renderSales(d, v) {
    const a = d.sales_per_minute;
    const note = document.getElementById("sales-note");
    const quiet = !a.rows.length && a.no_orders.length;   // the API says: no order in its minutes
    const lost = a.missing.length ? t("sales_missing").replace("{n}", a.missing.length) : "";
    const prov = a.rows.length ? F.prov(a.provisional_windows, a.final_at) : "";
    note.textContent = lost ? lost + (prov ? " · " + prov : "") : a.rows.length ? prov : quiet ? t("no_orders") : t("no_data");
    ECOM.charts.drawSales(document.getElementById("chart-sales"), a, {
      from: v.from, to: v.to, zoom: clipZoom(v),
      onZoom: (mn, mx) => { state.zoom = mn == null ? null : [Math.round(mn), Math.round(mx)]; writeUrl(); zoomNote(); },
    }, chartKey());
    zoomNote();
  }

  // The zoom, if any part of it is inside the range; else the zoom is dropped.
  function clipZoom(v) {
    if (!state.zoom) return null;
    const mn = Math.max(v.from, state.zoom[0]), mx = Math.min(v.to, state.zoom[1]);
    if (mn >= mx) { state.zoom = null; writeUrl(); return null; }
    return [mn, mx];
  }

  function zoomNote() {
    const b = document.getElementById("unzoom");
    b.hidden = !state.zoom;
  }

  function renderCategories(d) {
    const a = d.category_activity;
    const note = document.getElementById("category-note");
    note.textContent = a.rows.length ? [F.disagree(a), F.prov(a.provisional_windows, a.final_at)].filter((x) => x).join(" · ")
      : t("no_data");
    note.dataset.disagree = String(a.disagree_windows || 0);
    ECOM.charts.drawCategories(document.getElementById("chart-category"), a, chartKey());
  }

  function renderFunnel(d) {
    const f = d.funnel;
    const box = document.getElementById("funnel");
    box.textContent = "";
    const lost = F.funnelMissing(f.missing_windows);
    box.dataset.missing = String(f.missing_windows || 0);
    if (!f.rows.length || lost) {   // a sum without the lost minutes is no total: no bars
      box.appendChild(el("p", { class: "note empty" }, lost || t("no_data")));
      markProv(box, 0, null);
      return;
    }
    const steps = [["viewed", f.viewed, null], ["carted", f.carted, f.view_to_cart_rate],
      ["purchased", f.purchased, f.cart_to_purchase_rate]];
    const top = Math.max(1, f.viewed || 0);
    for (const [key, value, rate] of steps) {
      const why = F.unknown(f, key);
      const row = el("div", { class: "step", "data-step": key, "data-value": value == null ? "" : String(value) });
      markUnknown(row, why);
      row.appendChild(el("div", { class: "step-label" }, t(key)));
      const track = el("div", { class: "step-track" });
      const bar = el("div", { class: "step-bar step-" + key });
      bar.style.width = (value > 0 && !why ? Math.max(0.5, (100 * value) / top) : 0).toFixed(2) + "%";
      track.appendChild(bar);
      row.appendChild(track);
      const num = el("div", { class: "step-num" }, why ? "—" : F.int(value));
      if (rate != null) num.appendChild(el("small", null, " " + F.pct(rate) + " " + t("rate_of_previous")));
      row.appendChild(num);
      box.appendChild(row);
    }
    box.appendChild(el("p", { class: "note" }, t("conversion") + ": " + F.pct(f.view_to_purchase_rate)));
    markProv(box, f.provisional_windows, f.final_at);
    // Why say it: a funnel window is final only after the view->cart and cart->purchase horizons
    // (90 min by default), so at first every funnel number comes from open windows.
    if (f.provisional_windows) box.appendChild(el("p", { class: "note prov-note" }, F.prov(f.provisional_windows, f.final_at)));
  }

  // The stream's /status (schema 2, docs/stream.md), read by its documented names.
  function renderHealth(d) {
    const h = d.health;
    const dl = document.getElementById("health");
    dl.textContent = "";
    const s = h.stream && h.stream.schema === 2 ? h.stream : null;
    const items = [[t("source"), s ? t("source_stream") : t("source_tables")]];
    if (s) {
      items.push([t("events_per_s"), F.num(s.events_per_s, 1)]);
      // lag is null while the stream cannot ask the broker: say "unknown", never a reassuring 0
      items.push([t("lag"), s.lag === null || s.lag === undefined ? t("lag_unknown") : F.int(s.lag), s.lag === null]);
      if (s.kafka_connected !== null && s.kafka_connected !== undefined)
        items.push([t("kafka"), s.kafka_connected ? t("kafka_connected") : t("kafka_disconnected"), !s.kafka_connected]);
      items.push([t("last_progress"), s.last_progress_at ? F.time(s.last_progress_at) : "—"]);
      items.push([t("watermark"), s.watermark ? F.time(s.watermark) : "—"]);
      items.push([t("rejected"), F.int(s.counters.rejected)]);
      items.push([t("late"), F.int(s.counters.late)]);
      items.push([t("corrections"), F.int(s.counters.corrections)]);
    } else if (h.stream_error) {
      items.push([t("stream"), h.stream_error]);
    }
    items.push([t("latest_window"), F.time(h.latest_window_end)]);
    items.push([t("data_age"), F.age(h.data_age_s)]);
    if (!s && h.tables && h.tables.rejected) items.push([t("rejected"), F.int(h.tables.rejected.rows)]);
    if (h.tables) {
      let files = 0;
      for (const k of Object.keys(h.tables)) files += h.tables[k].files || 0;
      items.push([t("files"), F.int(files)]);
    }
    for (const [k, v, bad] of items) {
      dl.appendChild(el("dt", null, k));
      dl.appendChild(el("dd", bad ? { class: "health-bad" } : null, v));
    }
  }

  // The built-in cards, in page order (the table cards are built from the catalog by tables.js).
  const TABLE_CARDS = [
    { api: "top_products", id: "top" },
    { api: "top_products_by_revenue", id: "top-revenue" },
    { api: "sales_by_channel", id: "channel" },
    { api: "sales_by_city", id: "city", scroll: true },
  ];
  ECOM.registerCard({ name: "kpis", apis: ["summary", "sales_per_minute", "funnel"], render: renderKpis });
  ECOM.registerCard({ name: "sales", apis: ["sales_per_minute"], render: renderSales });
  ECOM.registerCard({ name: "category", apis: ["category_activity"], render: renderCategories });
  ECOM.registerCard({ name: "funnel", apis: ["funnel"], render: renderFunnel });
  for (const c of TABLE_CARDS)
    ECOM.registerCard({ name: c.api, apis: [c.api], render: (d) => ECOM.tables.renderTable(c, d[c.api], state.catalog) });
  ECOM.registerCard({ name: "health", apis: ["health"], render: renderHealth });

  // ---- controls ----
  function applyTheme() {
    const dark = state.theme === "dark" ||
      (state.theme === "auto" && window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    document.getElementById("theme").value = state.theme;
    render();
  }

  function applyLang() {
    document.documentElement.lang = F.prefs.lang;
    document.title = t("title");
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    document.getElementById("lang").value = F.prefs.lang;
    fillZones();
    render();
  }

  // The zone selector's options, "browser" naming the viewer's own zone, each with its offset.
  function fillZones() {
    const sel = document.getElementById("tz");
    sel.textContent = "";
    const cur = F.prefs.tz;
    const list = ZONES.includes(cur) ? ZONES : ZONES.concat([cur]);
    for (const z of list) {
      const name = z === "browser" ? t("tz_browser") + " (" + F.browserZone() + ")" : z;
      sel.appendChild(el("option", { value: z }, name));
    }
    sel.value = cur;
    document.getElementById("tz-offset").textContent = F.offsetName(Date.now());
  }

  function syncRangeControl() {
    const range = document.getElementById("range");
    const custom = document.getElementById("custom");
    if (state.range.last && LASTS.includes(state.range.last)) {
      range.value = state.range.last;
      custom.hidden = true;
    } else {
      range.value = "custom";
      custom.hidden = false;
      if (state.range.from) {
        document.getElementById("from").value = F.toWall(Date.parse(state.range.from));
        document.getElementById("to").value = F.toWall(Date.parse(state.range.to));
      }
    }
  }

  function setRange(r) {
    state.range = r;
    state.zoom = null;
    writeUrl();
    refresh();
  }

  function setupRange() {
    const range = document.getElementById("range");
    range.addEventListener("change", () => {
      if (range.value === "custom") {
        document.getElementById("custom").hidden = false;
        const to = state.data ? Date.parse(state.data.summary.to) : Date.now();
        document.getElementById("to").value = F.toWall(to);
        document.getElementById("from").value = F.toWall(to - 3600e3);
        return;
      }
      document.getElementById("custom").hidden = true;
      setRange({ last: range.value });
    });
    document.getElementById("apply").addEventListener("click", () => {
      const f = F.parseWall(document.getElementById("from").value);   // wall time in the chosen zone
      const to = F.parseWall(document.getElementById("to").value);
      if (isNaN(f) || isNaN(to) || f >= to) {
        banner(t("error") + ": " + t("from") + " < " + t("to"));
        return;
      }
      setRange({ from: new Date(f).toISOString(), to: new Date(to).toISOString() });
    });
    document.getElementById("unzoom").addEventListener("click", () => ECOM.charts.unzoomSales());
  }

  function setupRefresh() {
    const sel = document.getElementById("refresh");
    sel.value = state.refresh;
    sel.addEventListener("change", () => {
      state.refresh = sel.value in REFRESH_MS ? sel.value : "5s";
      writeUrl();
      schedule();
    });
    document.getElementById("refresh-now").addEventListener("click", () => refresh());
    // Pause while the pointer rests on a card; resume (with a fresh fetch if one was due) on leaving.
    const main = document.querySelector("main");
    // A mouse only: a finger's tap is not a pause (it would never "leave").
    main.addEventListener("pointerover", (e) => {
      if (e.pointerType !== "mouse" || state.hover || !e.target.closest(".card, .kpis")) return;
      state.hover = true;
      if (state.timer) schedule();
    });
    main.addEventListener("pointerleave", () => {
      if (!state.hover) return;
      state.hover = false;
      if (document.body.dataset.refreshState === "paused") refresh();
    });
  }

  function setupPrefs() {
    const lang = document.getElementById("lang");
    lang.addEventListener("change", () => {
      F.prefs.lang = lang.value === "es" ? "es" : "en";
      safeStorage("set", "ecom.lang", F.prefs.lang);
      applyLang();
    });
    const tz = document.getElementById("tz");
    tz.addEventListener("change", () => {
      F.prefs.tz = validZone(tz.value) ? tz.value : "browser";
      safeStorage("set", "ecom.tz", F.prefs.tz);
      writeUrl();
      fillZones();
      syncRangeControl();
      render();
    });
    const theme = document.getElementById("theme");
    theme.addEventListener("change", () => {
      state.theme = ["light", "dark"].includes(theme.value) ? theme.value : "auto";
      safeStorage("set", "ecom.theme", state.theme);
      applyTheme();
    });
    if (window.matchMedia) window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", applyTheme);
  }

  function setup() {
    const saved = safeStorage("get", "ecom.lang");
    F.prefs.lang = saved === "en" || saved === "es" ? saved
      : (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";
    const th = safeStorage("get", "ecom.theme");
    if (th === "light" || th === "dark") state.theme = th;
    readUrl();
    writeUrl();
    setupRange();
    setupRefresh();
    setupPrefs();
    syncRangeControl();
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      // render too: a chart built for a phone (turned labels, denser ticks) is rebuilt for a desktop
      resizeTimer = setTimeout(() => { ECOM.charts.resize(); render(); }, 100);
    });
    if (!window.uPlot) banner(t("chart_missing"));
    applyTheme();
    window.addEventListener("ecom:live", liveRefresh);
    applyLang();
    refresh();
  }

  document.addEventListener("DOMContentLoaded", setup);
})();
