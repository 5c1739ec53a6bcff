/* map.js — the map view of the "sales by city" card: Ecuador's 24 provinces shaded by revenue,
 * one circle per city (area proportional to its revenue), the Galápagos in an inset, a tooltip
 * per shape; a Map / Table switch in the card's title (the choice is remembered).
 *
 * Hook: a card of app.js's registry (ECOM.registerCard), after the table cards; it draws
 * /api/sales_by_city's answer into the section tables.js made for it ([data-card=sales_by_city]),
 * formatting with ECOM.cardContext() { lang, t, fmtMoney, fmtInt, fmtPct, disagree, ... }.
 *
 * Data, all from the ecom server (no tile server, works offline):
 *   /map/ec_provinces.json   SVG paths of the provinces and the projection they were drawn with,
 *                            made at build time by scripts/dash_map.py from Natural Earth (public domain)
 *   /api/places              where the cities are (lat, lon), matched to the rows by (province, city)
 * Both are fetched once: at page load when the map is the chosen view, else when it is first shown.
 *
 * For tests, shapes carry their numbers: data-province / data-city, data-revenue (dollars, as
 * in the API), data-orders, each "" when not known (data-unknown "true"); the tooltip's
 * data-revenue is the hovered shape's. */
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const TEXT = {
    en: { map: "Map", table: "Table", revenue: "Revenue", orders: "Orders", no_sales: "no sales in this range",
      legend: "Circle area: revenue of the city (online orders count for the shopper's city). Shade: revenue of the province.",
      inset: "Galápagos (moved east)", source: "Boundaries: Natural Earth (public domain)",
      unplaced: "not on the map (no coordinates)",
      unknown: "Dotted outline, no shade: revenue not recorded there by the version that wrote some of these minutes." },
    es: { map: "Mapa", table: "Tabla", revenue: "Ingresos", orders: "Pedidos", no_sales: "sin ventas en este rango",
      legend: "Área del círculo: ingresos de la ciudad (los pedidos en línea cuentan para la ciudad del comprador). Tono: ingresos de la provincia.",
      inset: "Galápagos (desplazadas al este)", source: "Límites: Natural Earth (dominio público)",
      unplaced: "fuera del mapa (sin coordenadas)",
      unknown: "Contorno punteado, sin tono: ingresos no registrados ahí por la versión que escribió parte de estos minutos." },
  };
  const MAX_R = 34;   // px (in map units) of the city with the most revenue
  const state = { geo: null, places: null, loading: null, view: null, last: null };

  function txt(ctx, k) { return (TEXT[ctx.lang] || TEXT.en)[k]; }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
    return e;
  }

  function storedView() {
    try { return window.localStorage.getItem("ecom.cityView") === "table" ? "table" : "map"; } catch (e) { return "map"; }
  }
  function storeView(v) {
    state.view = v;
    try { window.localStorage.setItem("ecom.cityView", v); } catch (e) { /* this page only */ }
  }

  async function getJSON(path) {
    const r = await fetch(path, { credentials: "same-origin" });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  function load() {
    if (!state.loading)
      state.loading = Promise.all([getJSON("/map/ec_provinces.json"), getJSON("/api/places")]).then(([g, p]) => {
        state.geo = g;
        state.places = new Map(p.cities.map((c) => [c.province + "\u0000" + c.city, c]));
      });
    return state.loading;
  }

  // The projection of scripts/dash_map.py (read from the data, so the two cannot disagree).
  function project(g, lat, lon) {
    const p = g.projection;
    if (lon < p.inset_west_of) lon += p.inset_dlon;
    return [(lon - p.lon_min) * p.scale + p.margin, (p.lat_max - lat) * p.scale + p.margin];
  }

  // Sums the answer's rows (one per province, city, store type) per city and per province.
  // Money is summed in cents so the totals are exact, then given back in dollars as the API does.
  // A row whose writer did not record revenue or orders (an older ecom: the API's null) makes that
  // sum unknown: the sum of the other rows is no total, so it is shown nowhere (data-revenue "",
  // the tooltip "—", the circle drawn hollow at the smallest size, the province unshaded).
  function totals(rows) {
    const cities = new Map(), provinces = new Map();
    const add = (m, k, r, extra) => {
      const v = m.get(k) || Object.assign({ cents: 0, orders: 0, provisional: false, revenueUnknown: false,
        ordersUnknown: false }, extra);
      if (r.revenue == null) v.revenueUnknown = true;
      else v.cents += Math.round(r.revenue * 100);
      if (r.orders == null) v.ordersUnknown = true;
      else v.orders += r.orders;
      v.provisional = v.provisional || !!r.provisional;
      v.unknown = v.revenueUnknown || v.ordersUnknown;
      m.set(k, v);
    };
    for (const r of rows) {
      add(cities, r.province + "\u0000" + r.city, r, { province: r.province, city: r.city });
      add(provinces, r.province, r, { province: r.province });
    }
    return { cities, provinces };
  }

  // What a shape exposes: the API's sums, "" for a sum that is not known (never a 0).
  function dollars(v) { return !v ? "0" : v.revenueUnknown ? "" : String(v.cents / 100); }
  function orderCount(v) { return !v ? "0" : v.ordersUnknown ? "" : String(v.orders); }
  // Known revenue in cents for scaling, 0 when unknown (drawn at the smallest size).
  function knownCents(v) { return v && !v.revenueUnknown ? v.cents : 0; }

  // The Map / Table switch in the card's title and the map's box under it, made once.
  function ensureFrame(card, ctx) {
    const h2 = card.querySelector("h2");
    let sw = card.querySelector(".view-switch");
    if (!sw) {
      sw = document.createElement("span");
      sw.className = "view-switch";
      for (const v of ["map", "table"]) {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.view = v;
        b.addEventListener("click", () => {
          storeView(v);
          render(card, state.last.answer, state.last.ctx);
        });
        sw.appendChild(b);
      }
      h2.appendChild(sw);
    }
    for (const b of sw.querySelectorAll("button")) b.textContent = txt(ctx, b.dataset.view);
    let box = card.querySelector(".citymap");
    if (!box) {
      box = document.createElement("div");
      box.className = "citymap";
      h2.after(box);
    }
    return box;
  }

  function setView(card, v) {
    state.view = v;
    card.dataset.view = v;
    const table = card.querySelector("table").parentNode;
    table.hidden = v !== "table";
    card.querySelector(".citymap").hidden = v !== "map";
    for (const b of card.querySelectorAll(".view-switch button")) b.setAttribute("aria-pressed", String(b.dataset.view === v));
  }

  function tipText(ctx, name, v) {
    const rev = v && v.revenueUnknown ? "—" : ctx.fmtMoney(v ? v.cents / 100 : 0);
    const ord = v && v.ordersUnknown ? "—" : ctx.fmtInt(v ? v.orders : 0);
    return name + " · " + txt(ctx, "revenue") + " " + rev + " · " + txt(ctx, "orders") + " " + ord +
      (v && v.unknown ? " (" + ctx.t("not_recorded") + ")" : "");
  }

  // Shows the tooltip of shape e (a province path or a city circle) next to the pointer.
  function bindTip(box, tip, e, text, dollars) {
    const show = (ev) => {
      tip.textContent = text;
      tip.dataset.revenue = dollars;
      tip.hidden = false;
      const r = box.getBoundingClientRect();
      const x = ev && ev.clientX != null ? ev.clientX - r.left : e.getBoundingClientRect().left - r.left;
      const y = ev && ev.clientY != null ? ev.clientY - r.top : e.getBoundingClientRect().top - r.top;
      tip.style.left = Math.max(0, Math.min(x + 12, r.width - tip.offsetWidth)) + "px";
      tip.style.top = Math.max(0, y - tip.offsetHeight - 8) + "px";
    };
    e.addEventListener("pointerenter", show);
    e.addEventListener("pointermove", show);
    e.addEventListener("focus", () => show(null));
    e.addEventListener("pointerleave", () => { tip.hidden = true; });
    e.addEventListener("blur", () => { tip.hidden = true; });
    const title = svg("title");
    title.textContent = text;
    e.appendChild(title);
  }

  function drawProvinces(s, box, tip, g, tot, ctx) {
    let max = 0;
    for (const v of tot.provinces.values()) max = Math.max(max, knownCents(v));
    for (const p of g.provinces) {
      const v = tot.provinces.get(p.name);
      const share = v && max ? knownCents(v) / max : 0;
      const cls = "prov-shape" + (!v ? " prov-none" : v.revenueUnknown ? " prov-unknown" : "");
      const path = svg("path", { d: p.d, class: cls, "data-province": p.name, "data-revenue": dollars(v),
        "data-orders": orderCount(v), "data-unknown": String(!!(v && v.unknown)), tabindex: "0" });
      if (v && !v.revenueUnknown) path.setAttribute("fill", "rgba(37,99,235," + (0.12 + 0.68 * Math.sqrt(share)).toFixed(3) + ")");
      bindTip(box, tip, path, tipText(ctx, p.name, v), dollars(v));
      s.appendChild(path);
    }
  }

  // Circles, the largest first so a small city is never hidden under a big one.
  function drawCities(s, box, tip, g, tot, ctx) {
    let max = 0;
    for (const v of tot.cities.values()) max = Math.max(max, knownCents(v));
    const placed = [], unplaced = [];
    for (const [k, v] of tot.cities) (state.places.has(k) ? placed : unplaced).push(v);
    placed.sort((a, b) => knownCents(b) - knownCents(a));
    for (const v of placed) {
      const c = state.places.get(v.province + "\u0000" + v.city);
      const [x, y] = project(g, c.lat, c.lon);
      const r = max ? Math.max(2.5, MAX_R * Math.sqrt(knownCents(v) / max)) : 2.5;
      const dot = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1),
        class: "city-dot" + (v.provisional ? " prov" : "") + (v.revenueUnknown ? " unknown" : ""), "data-city": v.city,
        "data-province": v.province, "data-revenue": dollars(v), "data-orders": orderCount(v),
        "data-provisional": String(v.provisional), "data-unknown": String(v.unknown), tabindex: "0" });
      bindTip(box, tip, dot, tipText(ctx, v.city + " (" + v.province + ")", v), dollars(v));
      s.appendChild(dot);
    }
    return unplaced;
  }

  function draw(card, answer, ctx) {
    const box = ensureFrame(card, ctx);
    // a refresh with the same numbers keeps the drawing (and an open tooltip)
    const key = ctx.lang + JSON.stringify(answer.rows);
    if (box.dataset.key === key && box.firstChild) return;
    box.dataset.key = key;
    box.textContent = "";
    const g = state.geo;
    const s = svg("svg", { viewBox: "0 0 " + g.width + " " + g.height, class: "citymap-svg", role: "img",
      "aria-label": card.querySelector("h2").firstChild.textContent });
    const tip = document.createElement("div");
    tip.className = "map-tip";
    tip.hidden = true;
    if (g.inset.length) {
      const [x, y, w, h] = g.inset;
      s.appendChild(svg("rect", { x, y, width: w, height: h, class: "map-inset" }));
      const label = svg("text", { x: x + 4, y: y + h + 14, class: "map-inset-label" });
      label.textContent = txt(ctx, "inset");
      s.appendChild(label);
    }
    const tot = totals(answer.rows);
    drawProvinces(s, box, tip, g, tot, ctx);
    const unplaced = drawCities(s, box, tip, g, tot, ctx);
    box.appendChild(s);
    box.appendChild(tip);
    const note = document.createElement("p");
    note.className = "note map-note";
    let n = (answer.rows.length ? txt(ctx, "legend") : txt(ctx, "no_sales")) + " " + txt(ctx, "source") + ".";
    if ([...tot.cities.values()].some((v) => v.revenueUnknown)) n += " " + txt(ctx, "unknown");
    if (unplaced.length) n += " " + unplaced.map((v) => v.city).join(", ") + ": " + txt(ctx, "unplaced") + ".";
    // minutes whose orders differ from sales_per_minute's (a lost file): the circles are partial
    if (answer.disagree_windows) n += " " + ctx.disagree(answer) + ".";
    box.dataset.disagree = String(answer.disagree_windows || 0);
    note.textContent = n;
    box.appendChild(note);
    box.dataset.cities = String(tot.cities.size - unplaced.length);
    box.dataset.drawn = String(Number(box.dataset.drawn || 0) + 1);
  }

  async function render(card, answer, ctx) {
    if (!card || !answer) return;
    state.last = { answer, ctx };
    ensureFrame(card, ctx);
    setView(card, state.view || storedView());
    if (state.view !== "map") return;
    try {
      await load();
    } catch (e) {
      card.querySelector(".citymap").textContent = e.message;
      return;
    }
    if (state.last.answer === answer) draw(card, answer, ctx);
  }

  // The map is the card's default view: fetch its data now, alongside the page's first answers.
  if (storedView() === "map") load().catch(() => { /* render() shows the error */ });
  // Drawn into the sales_by_city table card's section (tables.js made it: registered earlier).
  window.ECOM.registerCard({ name: "map", apis: ["sales_by_city"], render: (d) =>
    render(document.querySelector("[data-card=sales_by_city]"), d.sales_by_city, window.ECOM.cardContext()) });
})();
