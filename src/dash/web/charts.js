/* charts.js — the two uPlot charts: sales per minute (a time axis) and activity per category
 * (grouped bars), with a tooltip listing every series at the hovered x, axis titles with units,
 * and colours from the theme (style.css's custom properties).
 *
 * The time chart tells the truth about time: its x scale is exactly the answer's [from, to) (or
 * the user's zoom inside it), a minute no table has is a gap (a null point, never a line across
 * it) while a minute the API says had no order is a 0 (withQuietMinutes), and a minute
 * that is not a whole final minute is a series of its own, drawn apart (dashed, hollow points):
 * the open (provisional) minute, and the partial minute the data begins in (apart(), the one
 * rule).
 *
 * For tests, each chart box carries data-points (the answer's rows), data-zeros (quiet minutes
 * drawn as 0, withQuietMinutes), data-missing (minutes without sales data, drawn as none),
 * data-last (the latest window_start), data-gaps, data-open,
 * data-partial, data-x-min / data-x-max (the x scale, epoch seconds) and data-x-labels (the x
 * axis' labels, JSON). ECOM.charts.get(name) returns the uPlot instance. */
"use strict";
(function () {
  const ECOM = (window.ECOM = window.ECOM || {});
  const F = ECOM.fmt;
  const charts = {};        // uPlot instances by name
  // The sales chart's current view ({from, to, zoom, onZoom}) and whether we are the ones
  // rescaling it (a refresh, not a user's drag): its hooks read these, not a stale closure.
  let salesView = null, salesApplying = false;
  const HEIGHT = 260;

  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function chartWidth(box) { return Math.max(240, box.clientWidth); }

  // Axis styling from the theme, so a dark page gets light labels and faint grid lines.
  function axisBase() {
    return { stroke: css("--muted"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line"), width: 1 } };
  }

  // A tooltip: a box beside the cursor listing rows(u, idx) = [[label, text, colour]...].
  function tooltipPlugin(name, rows) {
    let tip = null;
    return {
      hooks: {
        init: (u) => {
          tip = ECOM.el("div", { class: "tooltip", id: "tip-" + name });
          tip.hidden = true;
          u.over.appendChild(tip);
          u.over.addEventListener("mouseleave", () => { tip.hidden = true; });
        },
        setCursor: (u) => {
          const idx = u.cursor.idx;
          const list = idx == null ? null : rows(u, idx);
          if (!list || !list.length) { tip.hidden = true; return; }
          tip.textContent = "";
          for (const [label, text, colour] of list) {
            const line = ECOM.el("div", { class: "tip-row" });
            if (colour) {
              const sw = ECOM.el("span", { class: "tip-swatch" });
              sw.style.background = colour;
              line.appendChild(sw);
            }
            line.appendChild(document.createTextNode(label + (text == null ? "" : ": ")));
            if (text != null) line.appendChild(ECOM.el("b", null, text));
            tip.appendChild(line);
          }
          tip.hidden = false;
          const w = tip.offsetWidth, ow = u.over.clientWidth;
          const left = u.cursor.left + 14 + w > ow ? Math.max(0, u.cursor.left - w - 14) : u.cursor.left + 14;
          tip.style.left = left + "px";
          tip.style.top = Math.max(0, Math.min(u.cursor.top, u.over.clientHeight - tip.offsetHeight)) + "px";
        },
      },
    };
  }

  // After every redraw: the x scale and labels as data-* (for tests and readers of the DOM).
  function exposePlugin(box) {
    return { hooks: { draw: (u) => {
      box.dataset.xMin = String(u.scales.x.min);
      box.dataset.xMax = String(u.scales.x.max);
      box.dataset.xLabels = JSON.stringify(u.axes[0]._values || []);
    } } };
  }

  // Creates or updates chart name in box. opts() builds fresh options (labels follow the
  // language, colours the theme); key says when they changed so the chart is rebuilt.
  function draw(name, box, key, opts, data) {
    if (!window.uPlot) {
      if (!box.textContent) box.textContent = F.t("chart_missing");
      return null;
    }
    const c = charts[name];
    if (c && c.ecomKey === key) {
      c.setData(data);
      return c;
    }
    if (c) c.destroy();
    box.textContent = "";
    const o = opts();
    o.plugins = (o.plugins || []).concat([exposePlugin(box)]);
    const u = new window.uPlot(Object.assign({ width: chartWidth(box), height: HEIGHT }, o), data, box);
    u.ecomKey = key;
    charts[name] = u;
    return u;
  }

  // The one rule for a minute drawn apart: it is open (provisional: still filling), or partial
  // (the data begins inside it: the stream started during that minute, so it holds only the part
  // after the start; or an `ecom run` stopped inside it, so it holds only the part before the
  // stop; the API's partial and partial_why). Either is not a whole final minute to compare.
  function apart(r) { return r.final === false || r.partial === true; }
  const PARTIAL_WHY = { start: "partial_minute", stop: "partial_minute_stop", start_stop: "partial_minute_start_stop" };
  function apartLabel(r) {
    return r.final === false ? F.t("open_minute") : F.t(PARTIAL_WHY[r.partial_why] || "partial_minute");
  }

  // The minutes the answer has no row for, from the API (engine's gaps: sales_per_minute has a
  // row only for a minute with orders). A quiet one (a.no_orders: category_activity recorded it
  // with no unit sold) is a known 0 (revenue 0, no average ticket), final or open as the API
  // says; a missing one (a.missing: the other tables recorded it, its sales row was lost or
  // never published) is no number: a break in the line whose tooltip says "No data" and why,
  // never a $0. A minute no table has stays a plain gap.
  function withQuietMinutes(a) {
    const zeros = (a.no_orders || []).map((f) => ({
      window_start: f.window_start, window_end: f.window_end, orders: 0, items: 0, revenue: 0, avg_ticket: null,
      final: f.final, partial: f.partial === true, partial_why: f.partial_why, no_orders: true }));
    const lost = (a.missing || []).map((f) => ({
      window_start: f.window_start, window_end: f.window_end, orders: null, items: null, revenue: null, avg_ticket: null,
      final: true, missing: f }));
    if (!zeros.length && !lost.length) return a.rows;
    return a.rows.concat(zeros, lost).sort((x, y) => Date.parse(x.window_start) - Date.parse(y.window_start));
  }

  // Windows of the answer (and its quiet minutes, withQuietMinutes) as x/y arrays: a null point
  // after every window whose successor does not start where it ends (uPlot breaks the line
  // there), and the minutes drawn apart (apart()) in series of their own.
  function salesSeries(a) {
    const xs = [], rev = [], tk = [], orev = [], otk = [];
    let gaps = 0, open = 0, partial = 0;
    const rows = withQuietMinutes(a);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i], x = Date.parse(r.window_start) / 1000, fin = !apart(r);
      xs.push(x);
      rev.push(fin ? r.revenue : null);
      tk.push(fin ? r.avg_ticket : null);
      orev.push(fin ? null : r.revenue);
      otk.push(fin ? null : r.avg_ticket);
      if (r.final === false) open++;
      if (r.partial === true) partial++;
      const end = Date.parse(r.window_end) / 1000;
      const next = i + 1 < rows.length ? Date.parse(rows[i + 1].window_start) / 1000 : null;
      if (next != null && next > end) {
        xs.push(end); rev.push(null); tk.push(null); orev.push(null); otk.push(null);
        gaps++;
      }
    }
    const missing = (a.missing || []).length;
    return { data: [xs, rev, tk, orev, otk], gaps, open, partial, rows, missing,
      zeros: rows.length - a.rows.length - missing };
  }

  // Indices of points with no neighbour (a minute between two gaps, or the only one): a line
  // needs two points, so uPlot would draw nothing there; these get a dot. null when none.
  function isolated(u, sidx, show) {
    if (show) return null;   // uPlot already draws every point (few of them)
    const d = u.data[sidx], out = [];
    for (let i = 0; i < d.length; i++)
      if (d[i] != null && (i === 0 || d[i - 1] == null) && (i + 1 === d.length || d[i + 1] == null)) out.push(i);
    return out.length ? out : null;
  }

  // The sales chart. view: {from, to, zoom, onZoom(min|null, max|null)} in epoch seconds.
  function drawSales(box, a, view, key) {
    const s = salesSeries(a);
    box.dataset.zeros = String(s.zeros);
    box.dataset.missing = String(s.missing);
    box.dataset.points = String(a.rows.length);
    box.dataset.last = a.rows.length ? a.rows[a.rows.length - 1].window_start : "";
    box.dataset.gaps = String(s.gaps);
    box.dataset.open = String(s.open);
    box.dataset.partial = String(s.partial);
    const blue = css("--blue"), amber = css("--amber");
    salesView = view;
    salesApplying = true;
    const u = draw("sales", box, key + "|" + (box.clientWidth < 560), () => ({
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3), F.zone()),
      scales: {
        // uPlot asks this on every rescale: a refresh of ours spans the range, a drag keeps
        // the user's [mn, mx]
        x: { time: true, range: (u, mn, mx) => (salesApplying || mn == null ? [salesView.from, salesView.to] : [mn, mx]) },
        usd: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) * 1.1)] },
        tk: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) * 1.2)] },
      },
      legend: { show: false },
      // a double click shows the whole range again (uPlot's own would zoom to the data's extent)
      cursor: { drag: { x: true, y: false }, points: { size: 7 }, bind: { dblclick: () => () => null } },
      series: [
        {},
        { label: F.t("revenue"), scale: "usd", stroke: blue, width: 2, fill: css("--blue-fill"), spanGaps: false,
          points: { filter: isolated } },
        { label: F.t("avg_ticket"), scale: "tk", stroke: amber, width: 2, dash: [6, 4], spanGaps: false,
          points: { filter: isolated } },
        { label: F.t("revenue") + " (" + F.t("apart_minute") + ")", scale: "usd", stroke: blue, width: 2,
          dash: [2, 3], points: { show: true, size: 8, fill: css("--card"), stroke: blue, width: 2 } },
        { label: F.t("avg_ticket") + " (" + F.t("apart_minute") + ")", scale: "tk", stroke: amber, width: 2,
          dash: [2, 3], points: { show: true, size: 8, fill: css("--card"), stroke: amber, width: 2 } },
      ],
      axes: [
        Object.assign(axisBase(), { space: box.clientWidth < 560 ? 45 : 70, size: 52, label: F.t("time") + " (" + F.offsetName(view.to * 1000) + ")",
          labelSize: 18, values: (u, splits) => F.axisTimes(splits) }),
        Object.assign(axisBase(), { scale: "usd", label: F.t("revenue") + " (USD/min)", labelSize: 18,
          values: (u, vals) => vals.map(F.moneyShort), size: 60 }),
        Object.assign(axisBase(), { scale: "tk", side: 1, grid: { show: false }, label: F.t("avg_ticket") + " (USD)",
          labelSize: 18, values: (u, vals) => vals.map(F.moneyShort), size: 60 }),
      ],
      hooks: {
        setScale: [(u, k) => {
          if (k !== "x" || salesApplying) return;
          const full = u.scales.x.min <= salesView.from && u.scales.x.max >= salesView.to;
          salesView.onZoom(full ? null : u.scales.x.min, full ? null : u.scales.x.max);
        }],
      },
      plugins: [tooltipPlugin("sales", (u, idx) => salesTip(u, idx))],
    }), s.data);
    if (u && !u.ecomDbl) {
      u.ecomDbl = true;
      u.over.addEventListener("dblclick", () => unzoomSales());
    }
    if (u) {
      u.ecomRows = s.rows;
      // Keep the user's zoom across refreshes: setData rescaled x to [from, to]; re-apply it.
      u.setScale("x", view.zoom ? { min: view.zoom[0], max: view.zoom[1] } : { min: view.from, max: view.to });
    }
    salesApplying = false;
  }

  // Back to the whole range (the unzoom button, a double click).
  function unzoomSales() {
    const u = charts.sales;
    if (!u || !salesView) return;
    salesApplying = true;
    u.setScale("x", { min: salesView.from, max: salesView.to });
    salesApplying = false;
    salesView.onZoom(null, null);
  }

  // Tooltip of the sales chart: the hovered window's time and every series (final or open).
  function salesTip(u, idx) {
    const x = u.data[0][idx];
    const r = (u.ecomRows || []).find((w) => Date.parse(w.window_start) / 1000 === x);
    const head = [F.day(x * 1000) + " " + F.hm(x * 1000), null, null];
    if (!r) return [head, [F.t("no_data_short"), null, null]];
    if (r.missing) return [head, [F.t("no_data_short"), null, null], [F.missingWhy(r.missing), null, null]];
    const out = [head,
      [F.t("revenue"), F.money(r.revenue), css("--blue")],
      [F.t("avg_ticket"), F.money(r.avg_ticket), css("--amber")],
      [F.t("orders"), F.int(r.orders), null],
      [apart(r) ? apartLabel(r) : F.t("final"), null, null]];
    if (r.not_recorded && r.not_recorded.length) out.push(["— " + F.t("not_recorded"), null, null]);
    if (r.no_orders) out.push([F.t("no_orders_minute"), null, null]);
    return out;
  }

  // Grouped bars on one numeric x axis: category i owns slots 4i..4i+3 (views, adds, units, gap).
  // Views use the left axis, adds and units the right one (they are ~10x smaller: on one linear
  // axis they were invisible).
  function drawCategories(box, a, key) {
    const cats = a.rows.slice(0, 12);
    box.dataset.points = String(cats.length);
    box.dataset.categories = JSON.stringify(cats.map((c) => F.tv(c.category)));
    const xs = [], v = [], ad = [], p = [];
    cats.forEach((c, i) => {
      for (let k = 0; k < 4; k++) {
        xs.push(i * 4 + k);
        v.push(k === 0 ? c.views : null);
        ad.push(k === 1 ? c.adds : null);
        p.push(k === 2 ? c.units_sold : null);
      }
    });
    const phone = box.clientWidth < 560;
    const bars = () => (window.uPlot.paths.bars ? window.uPlot.paths.bars({ size: [0.9, 40], align: 0 }) : null);
    const blue = css("--blue"), amber = css("--amber"), green = css("--green");
    const u = draw("category", box, key + "|" + phone, () => ({
      scales: { x: { time: false, range: () => [-1, Math.max(3, cats.length * 4 - 1)] },
        y: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) * 1.1)] },
        y2: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) * 1.1)] } },
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      series: [
        {},
        { label: F.t("views"), scale: "y", stroke: blue, fill: css("--blue-bar"), paths: bars(), points: { show: false } },
        { label: F.t("adds"), scale: "y2", stroke: amber, fill: css("--amber-bar"), paths: bars(), points: { show: false } },
        { label: F.t("purchases"), scale: "y2", stroke: green, fill: css("--green-bar"), paths: bars(), points: { show: false } },
      ],
      axes: [
        // On a phone the names stand at an angle instead of being cut to a few letters.
        Object.assign(axisBase(), { splits: () => cats.map((c, i) => i * 4 + 1), grid: { show: false },
          values: (u, sp) => sp.map((s) => F.tv((cats[(s - 1) / 4] || {}).category || "")),
          rotate: phone ? -60 : 0, size: phone ? 110 : 40, gap: 4 }),
        Object.assign(axisBase(), { scale: "y", label: F.t("views") + " (" + F.t("unit_events") + ")", labelSize: 18,
          values: (u, vals) => vals.map(F.intShort), size: 52 }),
        Object.assign(axisBase(), { scale: "y2", side: 1, grid: { show: false }, labelSize: 18,
          label: F.t("axis_small") + " (" + F.t("unit_count") + ")",
          values: (u, vals) => vals.map(F.intShort), size: 52 }),
      ],
      plugins: [tooltipPlugin("category", (u, idx) => {
        const c = cats[Math.floor(u.data[0][idx] / 4)];
        if (!c) return null;
        return [[F.tv(c.category), null, null], [F.t("views"), F.int(c.views), blue],
          [F.t("adds"), F.int(c.adds), amber], [F.t("purchases"), F.int(c.units_sold), green]];
      })],
    }), [xs, v, ad, p]);
    return u;
  }

  function resize() {
    for (const name of Object.keys(charts)) {
      const u = charts[name];
      u.setSize({ width: chartWidth(u.root.parentNode), height: HEIGHT });
    }
  }

  ECOM.charts = { drawSales, drawCategories, unzoomSales, resize, get: (name) => charts[name] };
})();
