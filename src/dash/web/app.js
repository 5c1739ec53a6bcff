/* app.js — the dashboard page: fetches the JSON API for the chosen range every few seconds and
 * draws KPI tiles, charts (uPlot) and tables. No inline scripts (the server's CSP forbids them),
 * no outside URLs: everything comes from the ecom server that served the page.
 *
 * The table cards (ranks and keyed metrics) are built from the metric catalog (/api/catalog):
 * their columns, order and number formats come from the catalog's column types, their labels
 * from i18n.js by column name. Numbers that include open (provisional) windows of the stream are
 * marked as such, with when they become final (the API's provisional_windows / final_at).
 *
 * For tests and curious readers, every drawn element carries its raw numbers in data-*
 * attributes (data-value on KPI tiles, data-points / data-last on charts, data-provisional on
 * tiles, the funnel and table rows). */
"use strict";
(function () {
  const I18N = window.ECOM_I18N;
  const REFRESH_MS = 5000;
  const state = {
    lang: pickLang(),
    range: { last: "1h" },
    data: null,          // the last answers, re-rendered on a language switch
    charts: {},          // uPlot instances by name
    catalog: null,       // /api/catalog: metrics, their columns and ranks
    refreshes: 0,
    timer: null,
  };

  function pickLang() {
    const saved = safeStorage("get", "ecom.lang");
    if (saved === "en" || saved === "es") return saved;
    return (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";
  }

  function safeStorage(op, key, value) {
    try {
      if (op === "get") return window.localStorage.getItem(key);
      window.localStorage.setItem(key, value);
    } catch (e) { /* storage may be disabled: the choice then lasts for this page only */ }
    return null;
  }

  function t(key) { return (I18N[state.lang] && I18N[state.lang][key]) || I18N.en[key] || key; }
  function locale() { return t("locale"); }

  // ---- formatting: USD money, counts, rates, instants in the viewer's zone ----
  function fmtMoney(v) {
    if (v == null) return "—";
    return new Intl.NumberFormat(locale(), { style: "currency", currency: "USD" }).format(v);
  }
  function fmtMoneyShort(v) {
    return new Intl.NumberFormat(locale(), { style: "currency", currency: "USD", notation: "compact",
      maximumFractionDigits: 1 }).format(v);
  }
  function fmtInt(v) { return v == null ? "—" : new Intl.NumberFormat(locale()).format(v); }
  function fmtPct(r) {
    return r == null ? "—" : new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(r);
  }
  function fmtTime(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString(locale(), { dateStyle: "short", timeStyle: "medium" });
  }
  function fmtNum(v, digits) {
    return v == null ? "—" : new Intl.NumberFormat(locale(), { maximumFractionDigits: digits || 0 }).format(v);
  }

  // Seconds as "42 s", "5 min 3 s", "9 h 32 min", "3 d 4 h" (units are the same in EN and ES).
  function fmtAge(sec) {
    if (sec == null) return "—";
    const s = Math.max(0, Math.round(sec));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function banner(msg) {
    const b = document.getElementById("banner");
    b.textContent = msg || "";
    b.hidden = !msg;
  }

  // ---- data ----
  function rangeQuery() {
    const r = state.range;
    if (r.last) return "last=" + encodeURIComponent(r.last);
    return "from=" + encodeURIComponent(r.from) + "&to=" + encodeURIComponent(r.to);
  }

  async function getJSON(path) {
    const resp = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) throw new Error((body && body.error) || ("HTTP " + resp.status));
    return body;
  }

  // The table cards: an API name (a rank or a keyed metric of the catalog) and the element id.
  const TABLE_CARDS = [
    { api: "top_products", id: "top" },
    { api: "top_products_by_revenue", id: "top-revenue" },
    { api: "sales_by_channel", id: "channel" },
    { api: "sales_by_city", id: "city", scroll: true },
  ];

  async function refresh() {
    clearTimeout(state.timer);
    const q = rangeQuery();
    const names = ["summary", "sales_per_minute", "category_activity", "funnel", "health"]
      .concat(TABLE_CARDS.map((c) => c.api));
    try {
      if (!state.catalog) state.catalog = await getJSON("/api/catalog");
      const answers = await Promise.all(names.map((n) => getJSON("/api/" + n + (n === "health" ? "" : "?" + q))));
      const data = {};
      names.forEach((n, i) => { data[n] = answers[i]; });
      if (q === rangeQuery()) {   // the range did not change while we were fetching
        state.data = data;
        render();
        banner(null);
      }
    } catch (e) {
      banner(t("error") + ": " + e.message);
    }
    state.refreshes++;
    document.body.dataset.refreshes = String(state.refreshes);
    state.timer = setTimeout(refresh, REFRESH_MS);
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
  function render() {
    const d = state.data;
    if (!d) return;
    document.getElementById("shown").textContent =
      t("range_shown") + " " + fmtTime(d.summary.from) + " – " + fmtTime(d.summary.to);
    document.getElementById("updated").textContent = new Date().toLocaleTimeString(locale());
    renderKpis(d.summary);
    renderSales(d.sales_per_minute);
    renderCategories(d.category_activity);
    for (const c of TABLE_CARDS) renderTableCard(c, d[c.api]);
    renderFunnel(d.funnel);
    renderHealth(d.health);
  }

  // "provisional (3 open windows) · final at 10:32:00" or "" when every number is final.
  function provText(n, finalAt) {
    if (!n) return "";
    let s = t("provisional") + " (" + n + " " + t(n === 1 ? "open_window" : "open_windows") + ")";
    if (finalAt) s += " · " + t("final_at") + " " + new Date(finalAt).toLocaleTimeString(locale());
    return s;
  }

  function markProv(e, n, finalAt) {
    e.dataset.provisional = n ? "true" : "false";
    e.classList.toggle("provisional", !!n);
    e.title = provText(n, finalAt);
    const label = e.querySelector(".kpi-label");
    if (label) label.dataset.provLabel = t("provisional");
  }

  function setKpi(id, value, text, nprov, finalAt) {
    const e = document.getElementById(id);
    e.textContent = text;
    e.dataset.value = value == null ? "" : String(value);
    markProv(e.parentNode, nprov, finalAt);
  }

  function renderKpis(s) {
    setKpi("kpi-revenue", s.revenue, fmtMoney(s.revenue), s.provisional_windows, s.final_at);
    setKpi("kpi-orders", s.orders, fmtInt(s.orders), s.provisional_windows, s.final_at);
    setKpi("kpi-ticket", s.avg_ticket, fmtMoney(s.avg_ticket), s.provisional_windows, s.final_at);
    setKpi("kpi-conversion", s.conversion, fmtPct(s.conversion), s.funnel_provisional_windows, s.funnel_final_at);
  }

  function chartWidth(box) { return Math.max(240, box.clientWidth); }

  // Creates or updates a uPlot chart in box; opts() builds fresh options (labels follow the language).
  function drawChart(name, box, opts, data, points, last) {
    box.dataset.points = String(points);
    box.dataset.last = last || "";
    if (!window.uPlot) {
      if (!box.textContent) box.textContent = t("chart_missing");
      return;
    }
    const c = state.charts[name];
    if (c && c.series.length === data.length && c.ecomLang === state.lang) {
      c.setData(data);
      return;
    }
    if (c) c.destroy();
    box.textContent = "";
    const u = new window.uPlot(Object.assign({ width: chartWidth(box), height: 260 }, opts()), data, box);
    u.ecomLang = state.lang;
    state.charts[name] = u;
  }

  function renderSales(a) {
    const box = document.getElementById("chart-sales");
    const xs = [], rev = [], ticket = [];
    for (const r of a.rows) {
      xs.push(Date.parse(r.window_start) / 1000);
      rev.push(r.revenue);
      ticket.push(r.avg_ticket);
    }
    const note = document.getElementById("sales-note");
    note.textContent = a.rows.length ? "" : t("no_data");
    if (a.provisional_windows) note.textContent = provText(a.provisional_windows, a.final_at);
    drawChart("sales", box, () => ({
      // x spans the whole range (a fresh stream has one window: it sits at the range's end)
      scales: { x: { time: true, range: () => { const r = state.data.sales_per_minute;
        return [Date.parse(r.from) / 1000, Date.parse(r.to) / 1000]; } }, usd: { range: (u, mn, mx) => [0, Math.max(1, mx * 1.1)] },
        tk: { range: (u, mn, mx) => [0, Math.max(1, mx * 1.2)] } },
      series: [
        { label: t("time"), value: (u, v) => (v == null ? "—" : new Date(v * 1000).toLocaleTimeString(locale())) },
        { label: t("revenue"), scale: "usd", stroke: "#2563eb", width: 2, fill: "rgba(37,99,235,0.10)",
          value: (u, v) => fmtMoney(v) },
        { label: t("avg_ticket"), scale: "tk", stroke: "#d97706", width: 2, dash: [6, 4],
          value: (u, v) => fmtMoney(v) },
      ],
      axes: [
        { space: 80 },
        { scale: "usd", values: (u, vals) => vals.map(fmtMoneyShort), size: 64 },
        { scale: "tk", side: 1, grid: { show: false }, values: (u, vals) => vals.map(fmtMoneyShort), size: 64 },
      ],
    }), [xs, rev, ticket], xs.length, a.rows.length ? a.rows[a.rows.length - 1].window_start : "");
  }

  // Cuts a label to the room its group has on the axis (a phone has little), marking the cut.
  function shortLabel(u, name, groups) {
    const room = u.bbox.width / (window.devicePixelRatio || 1) / Math.max(1, groups);
    const max = Math.max(3, Math.floor(room / 7.5));
    return name.length > max ? name.slice(0, max - 1) + "…" : name;
  }

  function renderCategories(a) {
    const box = document.getElementById("chart-category");
    const cats = a.rows.slice(0, 12);
    document.getElementById("category-note").textContent = provText(a.provisional_windows, a.final_at);
    // Grouped bars on one numeric x axis: category i owns slots 4i..4i+3 (views, adds, units, gap).
    const xs = [], v = [], ad = [], p = [];
    cats.forEach((c, i) => {
      for (let k = 0; k < 4; k++) {
        xs.push(i * 4 + k);
        v.push(k === 0 ? c.views : null);
        ad.push(k === 1 ? c.adds : null);
        p.push(k === 2 ? c.units_sold : null);
      }
    });
    const bars = () => (window.uPlot.paths.bars ? window.uPlot.paths.bars({ size: [0.9, 40], align: 0 }) : null);
    drawChart("category", box, () => ({
      scales: { x: { time: false, range: () => [-1, Math.max(3, cats.length * 4 - 1)] },
        y: { range: (u, mn, mx) => [0, Math.max(1, mx * 1.1)] } },
      series: [
        { label: t("category"), value: (u, x) => (x == null || !cats[Math.floor(x / 4)] ? "—" : cats[Math.floor(x / 4)].category) },
        { label: t("views"), stroke: "#2563eb", fill: "rgba(37,99,235,0.75)", paths: bars(), points: { show: false },
          value: (u, x) => fmtInt(x) },
        { label: t("adds"), stroke: "#d97706", fill: "rgba(217,119,6,0.75)", paths: bars(), points: { show: false },
          value: (u, x) => fmtInt(x) },
        { label: t("purchases"), stroke: "#059669", fill: "rgba(5,150,105,0.8)", paths: bars(), points: { show: false },
          value: (u, x) => fmtInt(x) },
      ],
      axes: [
        { splits: () => cats.map((c, i) => i * 4 + 1), values: (u, sp) => sp.map((s) => shortLabel(u, (cats[(s - 1) / 4] || {}).category || "", cats.length)),
          gap: 4, size: 40 },
        { values: (u, vals) => vals.map((x) => fmtInt(x)), size: 56 },
      ],
    }), [xs, v, ad, p], cats.length, "");
  }

  // ---- table cards from the catalog ----
  function catalogMetric(api) {
    for (const m of (state.catalog ? state.catalog.metrics : [])) {
      if (m.name === api) return { metric: m, rank: null };
      for (const r of m.ranks) if (r.name === api) return { metric: m, rank: r };
    }
    return null;
  }

  // The columns a card shows: a key is replaced by the metric's attributes when it has some
  // (product_name and category instead of product_id), then the values: of a ranked metric the
  // columns its ranks are by (views, revenue), else every value column.
  function cardColumns(m, ranked) {
    const attrs = m.columns.filter((c) => c.merge === "attr");
    const keys = attrs.length ? attrs : m.columns.filter((c) => c.merge === "key");
    const by = new Set(m.ranks.map((r) => r.by));
    return keys.concat(m.columns.filter((c) => (c.merge === "sum" || c.merge === "ratio") && (!ranked || by.has(c.name))));
  }

  function fmtCell(col, v) {
    if (col.type === "money") return [fmtMoney(v), "num"];
    if (col.type === "int") return [fmtInt(v), "num"];
    if (col.type === "rate") return [fmtPct(v), "num"];
    return [v == null || v === "" ? "—" : t("v_" + v) === "v_" + v ? String(v) : t("v_" + v), null];
  }

  // Creates the card's section once (title, table head), in catalog order after the funnel.
  function ensureCard(card, cm) {
    let table = document.getElementById(card.id);
    if (table && table.dataset.lang === state.lang) return table;
    const cols = cardColumns(cm.metric, !!cm.rank);
    if (!table) {
      const sec = el("section", { class: "card", "data-card": card.api });
      sec.appendChild(el("h2", { "data-i18n": card.api }, t(card.api)));
      const wrap = el("div", { class: card.scroll ? "scroll" : "hscroll" });
      table = el("table", { id: card.id });
      table.appendChild(el("thead"));
      table.appendChild(el("tbody"));
      wrap.appendChild(table);
      sec.appendChild(wrap);
      sec.appendChild(el("p", { class: "note", id: card.id + "-note" }));
      document.getElementById("health").closest("section").before(sec);
    }
    const head = el("tr");
    if (cm.rank) head.appendChild(el("th", null, t("rank")));
    for (const c of cols) head.appendChild(el("th", c.type === "str" ? null : { class: "num" }, t(c.name)));
    const thead = table.querySelector("thead");
    thead.textContent = "";
    thead.appendChild(head);
    table.dataset.lang = state.lang;
    return table;
  }

  function renderTableCard(card, a) {
    const cm = catalogMetric(card.api);
    if (!cm || !a) return;
    const table = ensureCard(card, cm);
    const cols = cardColumns(cm.metric, !!cm.rank);
    const tb = table.querySelector("tbody");
    tb.textContent = "";
    if (!a.rows.length) {
      const tr = el("tr");
      tr.appendChild(el("td", { colspan: String(cols.length + 1), class: "empty" }, t("no_data")));
      tb.appendChild(tr);
    }
    for (const r of a.rows) {
      const tr = el("tr", { class: r.provisional ? "row prov" : "row", "data-provisional": String(!!r.provisional) });
      if (cm.rank) tr.appendChild(el("td", null, String(r.rank)));
      for (const c of cols) {
        const [text, cls] = fmtCell(c, r[c.name]);
        tr.appendChild(el("td", cls ? { class: cls } : null, text));
      }
      tb.appendChild(tr);
    }
    document.getElementById(card.id + "-note").textContent = provText(a.provisional_windows, a.final_at);
  }

  function renderFunnel(f) {
    const box = document.getElementById("funnel");
    box.textContent = "";
    const steps = [["viewed", f.viewed, null], ["carted", f.carted, f.view_to_cart_rate],
      ["purchased", f.purchased, f.cart_to_purchase_rate]];
    const top = Math.max(1, f.viewed);
    for (const [key, value, rate] of steps) {
      const row = el("div", { class: "step", "data-step": key, "data-value": String(value) });
      row.appendChild(el("div", { class: "step-label" }, t(key)));
      const track = el("div", { class: "step-track" });
      const bar = el("div", { class: "step-bar step-" + key });
      bar.style.width = (value > 0 ? Math.max(0.5, (100 * value) / top) : 0).toFixed(2) + "%";
      track.appendChild(bar);
      row.appendChild(track);
      const num = el("div", { class: "step-num" }, fmtInt(value));
      if (rate != null) num.appendChild(el("small", null, " " + fmtPct(rate) + " " + t("rate_of_previous")));
      row.appendChild(num);
      box.appendChild(row);
    }
    box.appendChild(el("p", { class: "note" }, t("conversion") + ": " + fmtPct(f.view_to_purchase_rate)));
    markProv(box, f.provisional_windows, f.final_at);
    // Why say it: a funnel window is final only after the view->cart and cart->purchase horizons
    // (90 min by default), so at first every funnel number comes from open windows.
    if (f.provisional_windows) box.appendChild(el("p", { class: "note prov-note" }, provText(f.provisional_windows, f.final_at)));
  }

  // The stream's /status (schema 2, docs/stream.md), read by its documented names.
  function renderHealth(h) {
    const dl = document.getElementById("health");
    dl.textContent = "";
    const s = h.stream && h.stream.schema === 2 ? h.stream : null;
    const items = [[t("source"), s ? t("source_stream") : t("source_tables")]];
    if (s) {
      items.push([t("events_per_s"), fmtNum(s.events_per_s, 1)]);
      // lag is null while the stream cannot ask the broker: say "unknown", never a reassuring 0
      items.push([t("lag"), s.lag === null || s.lag === undefined ? t("lag_unknown") : fmtInt(s.lag), s.lag === null]);
      if (s.kafka_connected !== null && s.kafka_connected !== undefined)
        items.push([t("kafka"), s.kafka_connected ? t("kafka_connected") : t("kafka_disconnected"), !s.kafka_connected]);
      items.push([t("last_progress"), s.last_progress_at ? fmtTime(s.last_progress_at) : "—"]);
      items.push([t("watermark"), s.watermark ? fmtTime(s.watermark) : "—"]);
      items.push([t("rejected"), fmtInt(s.counters.rejected)]);
      items.push([t("late"), fmtInt(s.counters.late)]);
      items.push([t("corrections"), fmtInt(s.counters.corrections)]);
    } else if (h.stream_error) {
      items.push([t("stream"), h.stream_error]);
    }
    items.push([t("latest_window"), fmtTime(h.latest_window_end)]);
    items.push([t("data_age"), fmtAge(h.data_age_s)]);
    if (!s && h.tables && h.tables.rejected) items.push([t("rejected"), fmtInt(h.tables.rejected.rows)]);
    if (h.tables) {
      let files = 0;
      for (const k of Object.keys(h.tables)) files += h.tables[k].files || 0;
      items.push([t("files"), fmtInt(files)]);
    }
    for (const [k, v, bad] of items) {
      dl.appendChild(el("dt", null, k));
      dl.appendChild(el("dd", bad ? { class: "health-bad" } : null, v));
    }
  }

  // ---- controls ----
  function applyLang() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    document.getElementById("lang").value = state.lang;
    render();
  }

  function toLocalInput(d) {
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  function setup() {
    const range = document.getElementById("range");
    const custom = document.getElementById("custom");
    range.addEventListener("change", () => {
      if (range.value === "custom") {
        custom.hidden = false;
        const to = state.data ? new Date(state.data.summary.to) : new Date();
        document.getElementById("to").value = toLocalInput(to);
        document.getElementById("from").value = toLocalInput(new Date(to.getTime() - 3600e3));
        return;
      }
      custom.hidden = true;
      state.range = { last: range.value };
      refresh();
    });
    document.getElementById("apply").addEventListener("click", () => {
      const f = new Date(document.getElementById("from").value);   // local time, the viewer's zone
      const to = new Date(document.getElementById("to").value);
      if (isNaN(f) || isNaN(to) || f >= to) {
        banner(t("error") + ": " + t("from") + " < " + t("to"));
        return;
      }
      state.range = { from: f.toISOString(), to: to.toISOString() };
      refresh();
    });
    const lang = document.getElementById("lang");
    lang.addEventListener("change", () => {
      state.lang = lang.value === "es" ? "es" : "en";
      safeStorage("set", "ecom.lang", state.lang);
      applyLang();
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const name of Object.keys(state.charts)) {
          const u = state.charts[name];
          u.setSize({ width: chartWidth(u.root.parentNode), height: 260 });
        }
      }, 100);
    });
    if (!window.uPlot) banner(t("chart_missing"));
    window.addEventListener("ecom:live", liveRefresh);
    applyLang();
    refresh();
  }

  setup();
})();
