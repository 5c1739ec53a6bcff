/* fmt.js — the page's words and formats: labels (i18n.js) in the chosen language, numbers in its
 * locale, and every instant in the chosen time zone (the header's selector). Nothing here knows
 * the page's layout; app.js, charts.js and tables.js format through ECOM.fmt only, so a time
 * zone or language switch changes every axis, tooltip and date at once.
 *
 * ECOM.fmt.prefs is the one place the language and the zone live ({lang, tz}); app.js sets it.
 * Also ECOM.el, the DOM helper every file uses. */
"use strict";
(function () {
  const ECOM = (window.ECOM = window.ECOM || {});
  const I18N = window.ECOM_I18N;
  const prefs = { lang: "en", tz: "browser" };

  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; }
  }
  // The IANA zone in force ("browser" resolves to the viewer's own).
  function zone() { return prefs.tz === "browser" ? browserZone() : prefs.tz; }
  function t(key) { return (I18N[prefs.lang] && I18N[prefs.lang][key]) || I18N.en[key] || key; }
  // A value of the data (a category, a channel): its translation, else snake_case made readable.
  function tv(v) {
    if (v == null || v === "") return "—";
    const k = "v_" + v;
    const s = t(k);
    if (s !== k) return s;
    return /^[a-z0-9_]+$/.test(v) ? (v.charAt(0).toUpperCase() + v.slice(1)).replace(/_/g, " ") : String(v);
  }
  function locale() { return t("locale"); }

  // Intl formatters are costly to build: one per (options, language, zone).
  const cache = new Map();
  function dtf(opts) {
    const key = prefs.lang + "|" + zone() + "|" + JSON.stringify(opts);
    let f = cache.get(key);
    if (!f) {
      const o = Object.assign({ timeZone: zone() }, opts);
      if (t("hour_cycle") !== "hour_cycle" && t("hour_cycle") && (o.timeStyle || o.hour)) o.hourCycle = t("hour_cycle");
      f = new Intl.DateTimeFormat(locale(), o);
      cache.set(key, f);
    }
    return f;
  }

  function money(v) {
    if (v == null) return "—";
    return new Intl.NumberFormat(locale(), { style: "currency", currency: "USD" }).format(v);
  }
  function moneyShort(v) {
    return new Intl.NumberFormat(locale(), { style: "currency", currency: "USD", notation: "compact",
      maximumFractionDigits: 1 }).format(v);
  }
  function int(v) { return v == null ? "—" : new Intl.NumberFormat(locale()).format(v); }
  function intShort(v) {
    return v == null ? "—" : new Intl.NumberFormat(locale(), { notation: "compact", maximumFractionDigits: 1 }).format(v);
  }
  function pct(r) {
    return r == null ? "—" : new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(r);
  }
  function num(v, digits) {
    return v == null ? "—" : new Intl.NumberFormat(locale(), { maximumFractionDigits: digits || 0 }).format(v);
  }
  // Date and time (es: 24/11/26 10:31:00, day first; en: 11/24/26, 10:31:00 AM).
  function time(iso) {
    if (!iso) return "—";
    return dtf({ dateStyle: "short", timeStyle: "medium" }).format(new Date(iso));
  }
  function clock(ms) { return dtf({ timeStyle: "medium" }).format(new Date(ms)); }
  function hm(ms) { return dtf({ hour: "2-digit", minute: "2-digit" }).format(new Date(ms)); }
  function day(ms) { return dtf({ day: "numeric", month: "short" }).format(new Date(ms)); }
  function dayKey(ms) { return dtf({ year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms)); }
  // "UTC−05:00" for the zone at instant ms.
  function offsetName(ms) {
    const p = dtf({ timeZoneName: "longOffset" }).formatToParts(new Date(ms || Date.now()));
    const z = p.find((x) => x.type === "timeZoneName");
    return z ? z.value.replace("GMT", "UTC").replace(/^UTC$/, "UTC±00:00") : "";
  }

  // Labels of a time axis: HH:MM at every split, the day under the first split and under each
  // split that starts a new day, so a 24 h range reads "23:00 / 00:00 25 nov" in the viewer's zone.
  function axisTimes(splits) {
    let prev = null;
    return splits.map((s) => {
      const ms = s * 1000, k = dayKey(ms);
      const label = k !== prev ? hm(ms) + "\n" + day(ms) : hm(ms);
      prev = k;
      return label;
    });
  }

  // The wall-clock fields of instant ms in the zone.
  function wall(ms) {
    const f = dtf({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23" });
    const o = {};
    for (const p of f.formatToParts(new Date(ms))) o[p.type] = p.value;
    return o;
  }
  function offsetMs(ms) {
    const w = wall(ms);
    return Date.UTC(+w.year, +w.month - 1, +w.day, +w.hour % 24, +w.minute, +w.second) - Math.floor(ms / 1000) * 1000;
  }
  // "2026-11-24T10:30" (a datetime-local input) read in the zone -> ms since the epoch, or NaN.
  function parseWall(s) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(s || "");
    if (!m) return NaN;
    const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    let ms = guess - offsetMs(guess);
    ms = guess - offsetMs(ms);   // a second pass lands on the right side of a DST change
    return ms;
  }
  // ms -> "2026-11-24T10:30" in the zone (for a datetime-local input).
  function toWall(ms) {
    const w = wall(ms);
    return w.year + "-" + w.month + "-" + w.day + "T" + (w.hour === "24" ? "00" : w.hour) + ":" + w.minute;
  }

  // "provisional (3 open windows) · final at 10:32:00" or "" when every number is final.
  function prov(n, finalAt) {
    if (!n) return "";
    let s = t("provisional") + " (" + n + " " + t(n === 1 ? "open_window" : "open_windows") + ")";
    if (finalAt) s += " · " + t("final_at") + " " + clock(Date.parse(finalAt));
    return s;
  }

  // Why a number is not shown (the page then shows "—" with this as its tooltip), or "" when it
  // is known. The API says which columns are not known (docs/dashboard.md "Columns a file does
  // not have"): a row's not_recorded lists them; an answer's not_recorded counts, per column, the
  // rows (windows) that lack it, out of total (the answer's windows). A dash never shows 0 there.
  function unknown(a, col, row, total) {
    if (row) return row.not_recorded && row.not_recorded.includes(col) ? t("not_recorded") : "";
    const n = a && a.not_recorded ? a.not_recorded[col] || 0 : 0;
    if (!n) return "";
    const m = total == null ? a.windows : total;
    return m != null && n < m ? t("not_recorded_part").replace("{n}", n).replace("{m}", m) : t("not_recorded");
  }

  // Why a minute of sales_per_minute has no number (an answer's "missing" entry: its why and,
  // for units_sold, how many units category_activity counts in it).
  function missingWhy(m) {
    return t("missing_" + m.why).replace("{u}", m.units_sold);
  }

  // Why the funnel's totals are not shown (funnel_missing_windows of /api/summary, missing_windows
  // of /api/funnel: minutes category_activity counts views in have no funnel row, a lost file),
  // or "" when none are missing.
  function funnelMissing(n) {
    return n > 0 ? t("funnel_missing").replace("{n}", n) : "";
  }

  // Why a keyed table's totals are partial: the minutes of the range it disagrees with its
  // witness table on (an answer's disagree_windows / disagree_with), or "" when none.
  function disagree(a) {
    return a && a.disagree_windows ? t("disagree").replace("{n}", a.disagree_windows).replace("{t}", a.disagree_with) : "";
  }

  // Seconds as "42 s", "5 min 3 s", "9 h 32 min", "3 d 4 h" (units are the same in EN and ES).
  // A negative age (data stamped after the clock it is measured by: a producer's clock ahead)
  // says so, "5 min 3 s ahead of the dashboard's clock", never a reassuring "0 s"; within a
  // second either way is 0 s.
  function age(sec) {
    if (sec == null) return "—";
    if (sec <= -1) return t("ahead").replace("{a}", age(-sec));
    const s = Math.max(0, Math.round(sec));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  // The page's one DOM helper: <tag attrs>text</tag> (text as text, never as HTML).
  ECOM.el = function (tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  };

  ECOM.fmt = { prefs, zone, browserZone, t, tv, locale, money, moneyShort, int, intShort, pct, num, time, clock,
    hm, day, offsetName, axisTimes, parseWall, toWall, age, prov, unknown, missingWhy, disagree, funnelMissing };
})();
