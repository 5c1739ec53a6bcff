/* live.js — push: subscribes to the dashboard's Server-Sent Events (GET /api/stream, fed by the
 * stream without polling) and tells the page that the numbers changed, with an "ecom:live"
 * event on window (detail: the event's JSON: seq, epoch, newest_event_at, stream_error).
 * app.js refreshes on it. EventSource reconnects by itself after an error. */
"use strict";
(function () {
  if (!window.EventSource) return;
  const es = new EventSource("/api/stream");
  es.onmessage = (m) => {
    let d = null;
    try { d = JSON.parse(m.data); } catch (e) { return; }
    window.dispatchEvent(new CustomEvent("ecom:live", { detail: d }));
  };
})();
