"""dash_fake_status — a stand-in for `ecom stream --listen`'s GET /status (schema 2) for the page
tests: open windows of sales_per_minute, funnel and product_activity for the current minute,
funnel final 90 minutes later; and a broker outage (lag null, kafka_connected false; with
--kafka-ok a healthy broker). Prints "listening http://127.0.0.1:PORT" once it listens; runs
until killed.

  dash_fake_status.py [--at 2026-11-24T11:30:00Z]   # the open windows' minute (default: now), and
      # then one open category_activity row (home_appliances) too, for the page's time tests
"""
import argparse
import datetime as dt
import http.server
import json


AT = None   # --at: a fixed minute instead of now
KAFKA_OK = False   # --kafka-ok: a healthy broker instead of the outage


def body():
    clock = AT or dt.datetime.now(dt.timezone.utc)   # the newest event and the last progress: just now
    now = clock.replace(second=0, microsecond=0)
    f = lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    w = {"window_start": f(now), "window_end": f(now + dt.timedelta(minutes=1))}
    return {"schema": 2, "input": "kafka", "layout": "single", "epoch": 3, "uptime_s": 20.0, "events_per_s": 50.0,
            "watermark": f(now), "newest_event_at": f(clock), "window_s": 60, "lateness_s": 10, "funnel_horizon_s": 5400,
            "counters": {"records": 900, "page_view": 800, "add_to_cart": 60, "remove_from_cart": 10, "purchase": 30,
                         "duplicates": 0, "late": 1, "corrections": 0, "rejected": 2, "blank": 0, "epochs": 3,
                         "files_committed": 0, "storage_errors": 0, "kafka_errors": 0},
            "state_entries": 10, "partitions": [], "lag": 0 if KAFKA_OK else None,
            "kafka_connected": KAFKA_OK, "last_progress_at": f(clock),  # by default a broker outage: lag unknown
            "open_windows": {
                "sales_per_minute": [dict(w, final_at=w["window_end"], orders=30, items=41, revenue=5123.45,
                                          avg_ticket=170.78)],
                "funnel": [dict(w, final_at=f(now + dt.timedelta(minutes=91)), viewed=700, carted=50, purchased=12,
                                view_to_cart_rate=50 / 700, cart_to_purchase_rate=12 / 50,
                                view_to_purchase_rate=12 / 700, abandoned=38, abandonment_rate=38 / 50)],
                "product_activity": [dict(w, final_at=w["window_end"], product_id="P0001", product_name="Fresh item",
                                          category="fashion", views=80, adds=3, units_sold=2, revenue=99.98)],
                "category_activity": [dict(w, final_at=w["window_end"], category="home_appliances", views=40, adds=5,
                                           removes=1, units_sold=2, revenue=300.00)] if AT else [],
                "sales_by_city": [], "sales_by_channel": []}}


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = json.dumps(body()).encode() if self.path == "/status" else b"{}"
        self.send_response(200 if self.path == "/status" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--at")
    ap.add_argument("--kafka-ok", action="store_true")
    args = ap.parse_args()
    at, KAFKA_OK = args.at, args.kafka_ok
    if at:
        AT = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    print("listening http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()
