/* shop.js — two cards of "more of the shop", drawn from answers app.js already fetched:
 *   - Cart abandonment (/api/funnel: carted, abandoned, abandonment_rate; /api/category_activity:
 *     adds and removes summed over the categories), each number as the catalog defines it
 *     (docs/stream.md: abandoned = carted pairs not bought within the funnel horizon).
 *   - Revenue by channel and by device (/api/sales_by_channel summed per store type and per
 *     device): horizontal share bars with revenue, orders and average ticket.
 * Hook: two cards of app.js's registry (ECOM.registerCard), formatting with ECOM.cardContext().
 * For tests, numbers are in data-* attributes (data-value on the figures, data-revenue /
 * data-orders on the bars, dollars as in the API). */
"use strict";
(function () {
  const TEXT = {
    en: { cart: "Cart abandonment", adds: "add_to_cart events", removes: "remove_from_cart events", carted: "Carted (funnel)",
      abandoned: "Abandoned", rate: "Abandonment rate", by_channel: "Revenue by channel and device",
      channel: "Channel", device: "Device", no_data: "No data in this range",
      cart_note: "As in the funnel: of the products viewed in a window, those added to the cart within the stream's view-to-cart time (carted) and not bought within its cart-to-purchase time after the add (abandoned); a product viewed in several windows counts in each. Final once the funnel horizon has passed." },
    es: { cart: "Abandono de carrito", adds: "Eventos add_to_cart", removes: "Eventos remove_from_cart", carted: "Añadidos (embudo)",
      abandoned: "Abandonados", rate: "Tasa de abandono", by_channel: "Ingresos por canal y dispositivo",
      channel: "Canal", device: "Dispositivo", no_data: "Sin datos en este rango",
      cart_note: "Como en el embudo: de los productos vistos en una ventana, los añadidos al carrito dentro del plazo vista-carrito del stream (añadidos) y no comprados dentro de su plazo carrito-compra (abandonados); un producto visto en varias ventanas cuenta en cada una. Final cuando pasa el horizonte del embudo." },
  };
  function txt(ctx, k) { return (TEXT[ctx.lang] || TEXT.en)[k]; }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  // The card's section (made once, before the health card) with its title in the current language.
  function card(id, title) {
    let sec = document.querySelector('[data-card="' + id + '"]');
    if (!sec) {
      sec = el("section", { class: "card", "data-card": id });
      sec.appendChild(el("h2"));
      sec.appendChild(el("div", { class: "shop-body" }));
      document.getElementById("health").closest("section").before(sec);
    }
    sec.querySelector("h2").textContent = title;
    const body = sec.querySelector(".shop-body");
    body.textContent = "";
    return body;
  }

  // One figure; why (ctx.unknown) non-empty: the number is not known, shown "—" with why as its
  // tooltip (never a 0 the writer of those minutes did not record).
  function figure(body, label, text, value, key, why) {
    const row = el("div", { class: "shop-fig", "data-fig": key });
    row.appendChild(el("span", { class: "shop-fig-label" }, label));
    const v = el("span", { class: "shop-fig-value", "data-value": value == null || why ? "" : String(value),
      "data-unknown": why ? "true" : "false" }, why ? "—" : text);
    if (why) v.title = why;
    row.appendChild(v);
    body.appendChild(row);
    return !!why;
  }

  function drawCart(d, ctx) {
    const f = d.funnel, cats = d.category_activity;
    if (!f || !cats) return;
    const body = card("cart_abandonment", txt(ctx, "cart"));
    let adds = 0, removes = 0;
    for (const r of cats.rows) { adds += r.adds; removes += r.removes; }
    // a category row without adds (an older writer) makes the sum no total: the API counts them
    const catWhy = (k) => (cats.not_recorded && cats.not_recorded[k] ? ctx.t("not_recorded") : "");
    let unk = figure(body, txt(ctx, "adds"), ctx.fmtInt(adds), adds, "adds", catWhy("adds"));
    unk = figure(body, txt(ctx, "removes"), ctx.fmtInt(removes), removes, "removes", catWhy("removes")) || unk;
    for (const [k, fmt] of [["carted", ctx.fmtInt], ["abandoned", ctx.fmtInt], ["abandonment_rate", ctx.fmtPct]])
      unk = figure(body, txt(ctx, k === "abandonment_rate" ? "rate" : k), fmt(f[k]), f[k], k,
        ctx.unknown(f, k) || ctx.funnelMissing(f.missing_windows)) || unk;
    if (unk) body.appendChild(el("p", { class: "note", "data-legend": "unknown" },
      "— " + (ctx.funnelMissing(f.missing_windows) || ctx.t("not_recorded"))));
    const note = el("p", { class: "note" }, txt(ctx, "cart_note"));
    if (f.provisional_windows) note.dataset.provisional = "true";
    body.appendChild(note);
  }

  // Sums rows per one key column, in cents (exact), sorted by revenue.
  function sumBy(rows, key) {
    const m = new Map();
    for (const r of rows) {
      const v = m.get(r[key]) || { name: r[key], cents: 0, orders: 0, unknown: false };
      v.cents += Math.round(r.revenue * 100);
      v.orders += r.orders;
      v.unknown = v.unknown || r.revenue == null || r.orders == null;   // a sum with a part unknown
      m.set(r[key], v);
    }
    return [...m.values()].sort((a, b) => b.cents - a.cents || (a.name < b.name ? -1 : 1));
  }

  function bars(body, ctx, title, key, groups) {
    body.appendChild(el("h3", { class: "shop-sub" }, title));
    const total = groups.reduce((s, g) => s + g.cents, 0);
    for (const g of groups) {
      const row = el("div", { class: "shop-bar", "data-key": key, "data-name": g.name,
        "data-revenue": String(g.cents / 100), "data-orders": String(g.orders) });
      const name = ctx.t("v_" + g.name) === "v_" + g.name ? g.name : ctx.t("v_" + g.name);
      row.appendChild(el("span", { class: "shop-bar-label" }, name));
      const track = el("span", { class: "shop-bar-track" });
      const fill = el("span", { class: "shop-bar-fill" });
      fill.style.width = (total ? (100 * g.cents) / total : 0).toFixed(1) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      const avg = g.orders ? g.cents / g.orders / 100 : null;
      const num = el("span", { class: "shop-bar-num" }, g.unknown ? "—" : ctx.fmtMoney(g.cents / 100) + " · " +
        ctx.fmtInt(g.orders) + " · " + ctx.t("avg_ticket") + " " + ctx.fmtMoney(avg));
      if (g.unknown) { num.title = ctx.t("not_recorded"); row.dataset.unknown = "true"; fill.style.width = "0%"; }
      row.appendChild(num);
      body.appendChild(row);
    }
  }

  function drawChannels(d, ctx) {
    const a = d.sales_by_channel;
    if (!a) return;
    const body = card("revenue_by_channel", txt(ctx, "by_channel"));
    if (!a.rows.length) {
      body.appendChild(el("p", { class: "note" }, txt(ctx, "no_data")));
      return;
    }
    bars(body, ctx, txt(ctx, "channel"), "store_type", sumBy(a.rows, "store_type"));
    bars(body, ctx, txt(ctx, "device"), "device", sumBy(a.rows, "device"));
  }

  const ctx = () => window.ECOM.cardContext();
  window.ECOM.registerCard({ name: "cart", apis: ["category_activity", "funnel"], render: (d) => drawCart(d, ctx()) });
  window.ECOM.registerCard({ name: "channels", apis: ["sales_by_channel"], render: (d) => drawChannels(d, ctx()) });
})();
