#!/usr/bin/env python3
"""peer_kafka_python.py — the benchmark peer for bench/bench_kafka.sh: the seed project's approach
(producers/producer_py.py), a kafka-python producer sending JSON shopper events, written to be a
fair, well-configured peer: the same event fields and sizes as `ecom gen`, the same three topics
and key (user_id), the same acks=all and idempotence, batching with linger, and delivery checked
(flush, then every future's outcome counted).

    peer_kafka_python.py --brokers HOST:PORT --count N [--seed S]

Prints one line: "events N seconds S rate R bytes B failed F".
"""
import argparse
import json
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from kafka import KafkaProducer

CITIES = [("Quito", "Pichincha", -0.1807, -78.4678), ("Guayaquil", "Guayas", -2.1709, -79.9224),
          ("Cuenca", "Azuay", -2.9006, -79.0045), ("Ambato", "Tungurahua", -1.2491, -78.6168),
          ("Manta", "Manabí", -0.9677, -80.7089), ("Loja", "Loja", -3.9931, -79.2042)]
CATEGORIES = ["electronics", "home", "fashion", "sports", "beauty", "toys", "books", "grocery",
              "garden", "automotive"]
NAMES = ["Samsung Galaxy A54 128GB", "Licuadora Oster 600W", "Zapatillas Nike Revolution 6",
         "Camiseta Adidas Essentials", "Audífonos Sony WH-CH520", "Olla Arrocera Umco 1.8L"]
PAYMENTS = ["credit_card", "debit_card", "cash", "transfer", "paypal"]


def make_event(rng, now):
    """One event with the ecom schema's fields (docs/events.md), like the seed's generator."""
    user = "U%06d" % rng.randrange(100000)
    city, prov, lat, lon = rng.choice(CITIES)
    online = rng.random() < 0.6
    ev = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": None,
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000),
        "user_id": user,
        "session_id": "S%08d" % rng.randrange(10**8),
        "store_id": "ST%03d" % rng.randrange(1, 40),
        "store_type": "online" if online else "physical_store",
        "city": city, "province": prov,
        "location": {"lat": lat, "lon": lon},
    }
    if online:
        ev["device"] = rng.choice(["mobile", "desktop", "tablet"])
    pid, name, cat = "P%05d" % rng.randrange(400), rng.choice(NAMES), rng.choice(CATEGORIES)
    price = round(rng.uniform(2, 900), 2)
    r = rng.random()
    if r < 0.90:
        ev.update(event_type="page_view", product_id=pid, product_name=name, category=cat, price=price)
        topic = "page_views"
    elif r < 0.98:
        ev.update(event_type=rng.choice(["add_to_cart", "remove_from_cart"]), product_id=pid,
                  product_name=name, category=cat, price=price, quantity=rng.randint(1, 3))
        topic = "cart_events"
    else:
        q = rng.randint(1, 3)
        items = [{"product_id": pid, "product_name": name, "category": cat, "quantity": q,
                  "unit_price": price}]
        ev.update(event_type="purchase", order_id="O%010d" % rng.randrange(10**10), items=items,
                  total=round(q * price, 2), currency="USD", payment_method=rng.choice(PAYMENTS))
        topic = "orders"
    return topic, user, ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    producer = KafkaProducer(bootstrap_servers=a.brokers, acks="all", enable_idempotence=True,
                             linger_ms=5, batch_size=1 << 20, max_request_size=1 << 20,
                             buffer_memory=256 << 20, key_serializer=str.encode,
                             value_serializer=lambda v: json.dumps(v, separators=(",", ":")).encode())
    t = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)
    step = timedelta(milliseconds=7)
    futures = []
    nbytes = 0
    t0 = time.monotonic()
    for _ in range(a.count):
        t += step
        topic, key, ev = make_event(rng, t)
        futures.append(producer.send(topic, key=key, value=ev))
    producer.flush()
    failed = 0
    for f in futures:
        if f.failed():
            failed += 1
        else:
            nbytes += f.value.serialized_value_size
    secs = time.monotonic() - t0
    producer.close()
    print("events %d seconds %.3f rate %.0f bytes %d failed %d" % (a.count, secs, a.count / secs, nbytes, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
