/* tables.js — the table cards built from the metric catalog (/api/catalog): their columns, order
 * and number formats come from the catalog's column types, their labels from i18n.js by column
 * name. A click on a column head sorts by it (again: the other way); "CSV" downloads the rows
 * the card shows, with the catalog's column names and the API's raw values (money in dollars
 * with 2 decimals, instants in UTC), so a spreadsheet gets the numbers, not their formatting. */
"use strict";
(function () {
  const ECOM = (window.ECOM = window.ECOM || {});
  const F = ECOM.fmt;
  const el = ECOM.el;
  const sorts = {};   // card id -> {col, dir: 1 | -1}: the user's order, kept across refreshes

  function catalogMetric(catalog, api) {
    for (const m of (catalog ? catalog.metrics : [])) {
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

  // The catalog's string columns whose values are a closed set the page translates (i18n.js's
  // v_ keys: "fashion" -> "Moda", "physical_store" -> "store"). Every other string (a product's
  // name, a city, a province, an id) is the data's own text, shown exactly as the API gives it:
  // a product called "none" or "books" is not "—" or "Libros". null is "—" (not known).
  const ENUMS = new Set(["category", "store_type", "device"]);
  function shownText(col, v) {
    if (v == null) return "—";
    return ENUMS.has(col.name) ? F.tv(v) : String(v);
  }

  function fmtCell(col, v) {
    if (col.type === "money") return [F.money(v), "num"];
    if (col.type === "int") return [F.int(v), "num"];
    if (col.type === "rate") return [F.pct(v), "num"];
    return [shownText(col, v), null];
  }

  // Rows in the user's order (numbers by value, text by its shown form in the page's locale).
  function sortedRows(card, cols, rows) {
    const s = sorts[card.id];
    if (!s) return rows;
    const col = s.col === "rank" ? { name: "rank", type: "int" } : cols.find((c) => c.name === s.col);
    if (!col) return rows;
    const text = col.type === "str";
    const coll = new Intl.Collator(F.locale());
    return rows.slice().sort((a, b) => {
      const x = a[col.name], y = b[col.name];
      const d = text ? coll.compare(shownText(col, x), shownText(col, y)) : (x == null ? -Infinity : x) - (y == null ? -Infinity : y);
      return d * s.dir;
    });
  }

  // One CSV field (RFC 4180 quoting; null, a value not known, is empty). A text a spreadsheet
  // would run as a formula (first character = + - @, tab or CR: "CSV injection") gets a leading
  // ' so it opens as the text it is; numbers are never changed.
  function csvField(v) {
    let s = v == null ? "" : String(v);
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  // CSV of the rows as shown (the user's order), the catalog's column names as the header.
  function toCsv(cm, cols, rows) {
    const names = (cm.rank ? ["rank"] : []).concat(cols.map((c) => c.name));
    const lines = [names.join(",")];
    for (const r of rows) lines.push(names.map((n) => csvField(r[n])).join(","));
    return lines.join("\r\n") + "\r\n";
  }

  function download(name, text) {
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    const a = el("a", { href: url, download: name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // Creates the card's section once (title, CSV button, table), before the health card.
  function ensureSection(card) {
    let table = document.getElementById(card.id);
    if (table) return table;
    const sec = ECOM.addSection(card.api, card.api, false);
    const btn = el("button", { type: "button", class: "csv", id: card.id + "-csv", "data-i18n": "csv" }, F.t("csv"));
    sec.head.appendChild(btn);
    const wrap = el("div", { class: card.scroll ? "scroll" : "hscroll" });
    table = el("table", { id: card.id });
    table.appendChild(el("thead"));
    table.appendChild(el("tbody"));
    wrap.appendChild(table);
    sec.body.appendChild(wrap);
    sec.body.appendChild(el("p", { class: "note", id: card.id + "-note" }));
    btn.addEventListener("click", () => {
      const st = table.ecomShown;
      if (st) download(card.api + ".csv", toCsv(st.cm, st.cols, st.rows));
    });
    return table;
  }

  function renderHead(card, table, cm, cols) {
    const head = el("tr");
    const s = sorts[card.id];
    const all = (cm.rank ? [{ name: "rank", type: "int" }] : []).concat(cols);
    for (const c of all) {
      const th = el("th", { "data-col": c.name, class: c.type === "str" ? "sortable" : "num sortable", tabindex: "0" },
        F.t(c.name));
      if (s && s.col === c.name) th.setAttribute("aria-sort", s.dir > 0 ? "ascending" : "descending");
      const flip = () => {
        const cur = sorts[card.id];
        // numbers sort largest first on the first click, text A..Z
        const first = c.type === "str" ? 1 : -1;
        sorts[card.id] = { col: c.name, dir: cur && cur.col === c.name ? -cur.dir : first };
        renderTable(card, table.ecomShown.a, table.ecomShown.catalog);
      };
      th.addEventListener("click", flip);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); flip(); } });
      head.appendChild(th);
    }
    const thead = table.querySelector("thead");
    thead.textContent = "";
    thead.appendChild(head);
  }

  // Draws card (from app.js's TABLE_CARDS) with answer a.
  function renderTable(card, a, catalog) {
    const cm = catalogMetric(catalog, card.api);
    if (!cm || !a) return;
    const table = ensureSection(card);
    const cols = cardColumns(cm.metric, !!cm.rank);
    const rows = sortedRows(card, cols, a.rows);
    table.ecomShown = { cm, cols, rows, a, catalog };
    renderHead(card, table, cm, cols);
    const tb = table.querySelector("tbody");
    tb.textContent = "";
    if (!rows.length) {
      const tr = el("tr");
      tr.appendChild(el("td", { colspan: String(cols.length + (cm.rank ? 1 : 0)), class: "empty" }, F.t("no_data")));
      tb.appendChild(tr);
    }
    for (const r of rows) {
      const tr = el("tr", { class: r.provisional ? "row prov" : "row", "data-provisional": String(!!r.provisional) });
      if (cm.rank) tr.appendChild(el("td", { class: "num" }, String(r.rank)));
      for (const c of cols) {
        const [text, cls] = fmtCell(c, r[c.name]);
        const td = el("td", cls ? { class: cls } : null, text);
        const why = F.unknown(a, c.name, r);   // "—" of a column the row's writer did not have
        if (why) { td.title = why; td.dataset.unknown = "true"; }
        tr.appendChild(td);
      }
      tb.appendChild(tr);
    }
    document.getElementById(card.id + "-csv").disabled = !rows.length;
    // the legend of a "—": which columns some rows do not know, and why
    const missing = cols.filter((c) => a.not_recorded && a.not_recorded[c.name]).map((c) => F.t(c.name));
    // minutes where the table differs from its witness (sales_per_minute, product_activity, ...): a lost file
    const disagree = F.disagree(a);
    const note = document.getElementById(card.id + "-note");
    note.textContent = [disagree, F.prov(a.provisional_windows, a.final_at),
      missing.length ? "— " + missing.join(", ") + ": " + F.t("not_recorded") : ""].filter((x) => x).join(" · ");
    note.dataset.disagree = String(a.disagree_windows || 0);
  }

  ECOM.tables = { renderTable, toCsv };
})();
