"""spark_stream.py — the seed's engine on ecom's events, for bench/bench_spark.sh (never a test).

    spark-submit bench/spark_stream.py stream IN_DIR OUT_DIR   Structured Streaming
    spark-submit bench/spark_stream.py funnel IN_DIR OUT_DIR   the funnel join (Spark SQL)

`stream`: one Structured Streaming query over the NDJSON files of IN_DIR (a file a micro-batch,
trigger availableNow), with ecom's defaults: event time `timestamp`, a 2 minute watermark,
duplicates dropped by event_id within the watermark, 1 minute tumbling windows, append mode.
One aggregation computes both metrics: rows keyed (window, category) for category_activity
(views, adds, removes from page views and cart events; units_sold and revenue from the exploded
purchase items) and (window, '') for sales_per_minute (orders, items, revenue in cents).
Output: OUT_DIR/stream, Parquet (the file sink: exactly-once, like ecom's commit log).

`funnel`: the view -> cart -> purchase funnel of ecom (docs/stream.md): per (user, product) the
first view of each window is the anchor t0; carted if an add follows within 30 minutes, purchased
if such an add is followed by a purchase of the product within 60 minutes; counted per window.
It is a join of three streams whose anchors come out of an aggregation: Structured Streaming's
append mode cannot express the EXISTS over a window's first view, so this part runs as Spark SQL
(batch) on the same events, deduplicated the same way. Output: OUT_DIR/funnel, Parquet.
"""
import sys

from pyspark.sql import SparkSession, functions as F, types as T

mode, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
spark = (SparkSession.builder.appName(f"ecom-bench-{mode}")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.ui.enabled", "false")
         .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")

ITEM = T.StructType([T.StructField("product_id", T.StringType()), T.StructField("product_name", T.StringType()),
                     T.StructField("category", T.StringType()), T.StructField("quantity", T.LongType()),
                     T.StructField("unit_price", T.DoubleType())])
SCHEMA = T.StructType([T.StructField(n, t) for n, t in (
    ("event_id", T.StringType()), ("event_type", T.StringType()), ("timestamp", T.StringType()),
    ("user_id", T.StringType()), ("product_id", T.StringType()), ("category", T.StringType()),
    ("quantity", T.LongType()), ("total", T.DoubleType()), ("items", T.ArrayType(ITEM)))])


def typed(df):
    """Event time as a TIMESTAMP; lines that are not events (no type or time) are dropped."""
    return (df.withColumn("ts", F.to_timestamp("timestamp", "yyyy-MM-dd'T'HH:mm:ss.SSSX"))
              .where(F.col("event_type").isNotNull() & F.col("ts").isNotNull()))


def cents(c):
    return F.round(c * 100).cast("long")


def stream():
    ev = (typed(spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).json(src))
          .withWatermark("ts", "2 minutes").dropDuplicatesWithinWatermark(["event_id"]))
    z = F.lit(0).cast("long")
    cat = ev.where(F.col("event_type") != "purchase").select(
        "ts", "category", (F.col("event_type") == "page_view").cast("long").alias("views"),
        (F.col("event_type") == "add_to_cart").cast("long").alias("adds"),
        (F.col("event_type") == "remove_from_cart").cast("long").alias("removes"),
        z.alias("units"), z.alias("cents"), z.alias("orders"), z.alias("items"))
    buys = ev.where(F.col("event_type") == "purchase")
    lines = buys.select("ts", F.explode("items").alias("i")).select(
        "ts", F.col("i.category").alias("category"), z.alias("views"), z.alias("adds"), z.alias("removes"),
        F.col("i.quantity").alias("units"), (F.col("i.quantity") * cents(F.col("i.unit_price"))).alias("cents"),
        z.alias("orders"), z.alias("items"))
    orders = buys.select(
        "ts", F.lit("").alias("category"), z.alias("views"), z.alias("adds"), z.alias("removes"), z.alias("units"),
        cents(F.col("total")).alias("cents"), F.lit(1).cast("long").alias("orders"),
        F.aggregate("items", z, lambda acc, i: acc + i.quantity).alias("items"))
    agg = (cat.unionByName(lines).unionByName(orders)
           .groupBy(F.window("ts", "1 minute").alias("w"), "category")
           .agg(*[F.sum(c).alias(c) for c in ("views", "adds", "removes", "units", "cents", "orders", "items")])
           .select(F.col("w.start").alias("window_start"), "category", "views", "adds", "removes", "units",
                   "cents", "orders", "items"))
    q = (agg.writeStream.outputMode("append").format("parquet").option("path", f"{out}/stream")
         .option("checkpointLocation", f"{out}/_ckpt").trigger(availableNow=True).start())
    q.awaitTermination()


def funnel():
    typed(spark.read.schema(SCHEMA).json(src)).dropDuplicates(["event_id"]).createOrReplaceTempView("ev")
    spark.sql("""
        WITH v AS (SELECT user_id, product_id, window(ts, '1 minute').start AS wi, min(ts) AS t0 FROM ev
                   WHERE event_type = 'page_view' GROUP BY 1, 2, 3),
             a AS (SELECT user_id, product_id, ts FROM ev WHERE event_type = 'add_to_cart'),
             p AS (SELECT user_id, i.product_id, ts FROM ev LATERAL VIEW explode(items) t AS i
                   WHERE event_type = 'purchase'),
             va AS (SELECT v.wi, v.user_id, v.product_id, a.ts AS ta FROM v JOIN a
                    ON a.user_id = v.user_id AND a.product_id = v.product_id
                    AND a.ts BETWEEN v.t0 AND v.t0 + INTERVAL 30 MINUTES),
             vp AS (SELECT DISTINCT va.wi, va.user_id, va.product_id FROM va JOIN p
                    ON p.user_id = va.user_id AND p.product_id = va.product_id
                    AND p.ts BETWEEN va.ta AND va.ta + INTERVAL 60 MINUTES),
             c AS (SELECT v.wi, count(*) AS viewed FROM v GROUP BY 1),
             k AS (SELECT wi, count(DISTINCT user_id, product_id) AS carted FROM va GROUP BY 1),
             b AS (SELECT wi, count(*) AS purchased FROM vp GROUP BY 1)
        SELECT c.wi AS window_start, viewed, coalesce(carted, 0) AS carted, coalesce(purchased, 0) AS purchased
        FROM c LEFT JOIN k ON k.wi = c.wi LEFT JOIN b ON b.wi = c.wi""").write.parquet(f"{out}/funnel")


stream() if mode == "stream" else funnel()
spark.stop()
