#!/usr/bin/env python3
"""peer_gen.py — the benchmark peer for `ecom gen`: a small Python shopper generator in the
style of the seed's producer (random choices, dicts, stdlib json.dumps), writing comparable
NDJSON events (same fields, same mix: ~91% page views, ~6% adds, ~2% removals, ~1% purchases).

    peer_gen.py N OUT          write N events to OUT (e.g. /dev/null); prints events/s
    peer_gen.py --parse FILE   json.loads every line of FILE; prints lines/s
"""
import json
import random
import sys
import time
import uuid

CITIES = [("Quito", "Pichincha", -0.1807, -78.4678), ("Guayaquil", "Guayas", -2.1709, -79.9224),
          ("Cuenca", "Azuay", -2.9001, -79.0059), ("Santo Domingo", "Santo Domingo de los Tsáchilas", -0.2542, -79.1719),
          ("Ambato", "Tungurahua", -1.2491, -78.6168), ("Manta", "Manabí", -0.9677, -80.7089)]
PRODUCTS = [("P%04d" % i, "Product %d 128GB" % i, "electronics", round(random.uniform(5, 900), 2)) for i in range(1, 330)]


def event(rng, t, cart):
    city, prov, lat, lon = rng.choice(CITIES)
    online = rng.random() < 0.7
    e = {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "event_type": "page_view",
         "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int(t * 1000 % 1000),
         "user_id": "U%06d" % rng.randrange(10000), "session_id": "S%012x" % rng.getrandbits(48),
         "store_id": "ST000" if online else "ST%03d" % rng.randrange(1, 34),
         "store_type": "online" if online else "physical_store", "city": city, "province": prov,
         "location": {"lat": lat, "lon": lon}}
    if online:
        e["device"] = rng.choice(("mobile", "desktop", "tablet"))
    u = rng.random()
    pid, name, cat, price = rng.choice(PRODUCTS)
    if u < 0.01 and cart:
        items = [{"product_id": p[0], "product_name": p[1], "category": p[2], "quantity": 1, "unit_price": p[3]}
                 for p in cart]
        e.update(event_type="purchase", order_id="O%012x" % rng.getrandbits(48), items=items,
                 total=round(sum(p[3] for p in cart), 2), currency="USD", payment_method="credit_card")
        cart.clear()
    else:
        e.update(product_id=pid, product_name=name, category=cat, price=price)
        if u < 0.09:
            e["event_type"] = "add_to_cart" if u >= 0.03 else "remove_from_cart"
            e["quantity"] = 1
            cart.append((pid, name, cat, price))
            del cart[:-5]
    return e


def main():
    if sys.argv[1] == "--parse":
        lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
        t0 = time.perf_counter()
        for line in lines:
            json.loads(line)
        print("%.0f" % (len(lines) / (time.perf_counter() - t0)))
        return
    n, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(1)
    cart = []
    t = 1795597200.0
    t0 = time.perf_counter()
    with open(out, "w", encoding="utf-8") as f:
        for _ in range(n):
            t += rng.expovariate(100)
            f.write(json.dumps(event(rng, t, cart), separators=(",", ":"), ensure_ascii=False) + "\n")
    print("%.0f" % (n / (time.perf_counter() - t0)))


if __name__ == "__main__":
    main()
