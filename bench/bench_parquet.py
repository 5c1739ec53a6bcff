"""Peer side of bench/bench_parquet.sh: pyarrow writes and reads the same rows (read from
the file ecom wrote, untimed) with the same codec, single-threaded; prints CPU seconds."""
import sys
import time

import pyarrow.parquet as pq

src, out, codec, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t = pq.read_table(src)
codec = None if codec == "none" else codec
w, r = [], []
for _ in range(runs):
    t0 = time.process_time()
    pq.write_table(t, out, compression=codec, use_dictionary=True, write_statistics=True)
    w.append(time.process_time() - t0)
    t0 = time.process_time()
    back = pq.read_table(out, use_threads=False)
    r.append(time.process_time() - t0)
    assert back.num_rows == t.num_rows
print("write_secs=" + ",".join("%.4f" % x for x in w) + " read_secs=" + ",".join("%.4f" % x for x in r))
