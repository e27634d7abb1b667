#!/usr/bin/env python3
"""spark_jobs.py - the benchmark's jobs on PySpark in local mode: the same
operations as millrace's DAGs, with the DataFrame API, over the same CSV
files with the same types.

  spark_jobs.py JOB --data DIR --out DIR [--cores N]

JOB is q1, join, sort or tickit. Spark runs as local[N] (default: every
core), 8 shuffle partitions (millrace's default partition count; Spark's 200
would only add overhead at this size), adaptive execution on (the default),
the UI off. Each result is written as Parquet under OUT/<table> (Spark's
usual sink, standing in for the warehouse table); the sort's rows as CSV with
a header under OUT/sorted (one part file per range partition, in order).
Prints one JSON line: {"seconds": time of the job alone, the session already
up; "startup": seconds to start the session (the JVM)}.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import (JOIN_ORDERDATE, LIKES, LINEITEM, ORDERS, Q1_SHIPDATE, TICKIT,  # noqa: E402
                    spark_ddl)


def read(spark, data, table, bool_as_string=False):
    name, cols = table
    return (spark.read.option("sep", "|").option("header", "false").option("quote", "")
            .option("mode", "FAILFAST")
            .schema(spark_ddl(cols, bool_as_string)).csv(os.path.join(data, name)))


def q1(spark, F, data, out):
    li = read(spark, data, LINEITEM)
    price = F.col("l_extendedprice")
    disc = price * (F.lit(1) - F.col("l_discount"))
    (li.where(F.col("l_shipdate") <= F.lit(Q1_SHIPDATE).cast("date"))
       .groupBy("l_returnflag", "l_linestatus")
       .agg(F.sum("l_quantity").alias("sum_qty"), F.sum(price).alias("sum_base_price"),
            F.sum(disc).alias("sum_disc_price"),
            F.sum(disc * (F.lit(1) + F.col("l_tax"))).alias("sum_charge"),
            F.avg("l_quantity").alias("avg_qty"), F.avg(price).alias("avg_price"),
            F.avg("l_discount").alias("avg_disc"), F.count(F.lit(1)).alias("count_order"))
       .write.mode("overwrite").parquet(os.path.join(out, "q1")))


def join(spark, F, data, out):
    li = read(spark, data, LINEITEM)
    orders = read(spark, data, ORDERS).where(F.col("o_orderdate") < F.lit(JOIN_ORDERDATE).cast("date"))
    (li.join(orders, li.l_orderkey == orders.o_orderkey)
       .groupBy("o_orderpriority", "l_shipmode")
       .agg(F.sum(F.col("l_extendedprice") * (F.lit(1) - F.col("l_discount"))).alias("revenue"),
            F.count(F.lit(1)).alias("lines"), F.avg("l_quantity").alias("avg_qty"))
       .write.mode("overwrite").parquet(os.path.join(out, "revenue")))


def sort(spark, F, data, out):
    (read(spark, data, ORDERS).orderBy(F.col("o_totalprice").desc(), F.col("o_orderkey"))
       .write.mode("overwrite").option("header", "true").csv(os.path.join(out, "sorted")))


def tickit(spark, F, data, out):
    def t(name, **kw):
        return read(spark, data, TICKIT[name], **kw)

    def save(df, name):
        df.write.mode("overwrite").parquet(os.path.join(out, name))

    tf = {"t": True, "true": True, "f": False, "false": False}

    def as_bool(c):
        m = F.create_map(*[x for k, v in tf.items() for x in (F.lit(k), F.lit(v))])
        return m[F.lower(F.col(c))].alias(c)
    raw = t("users", bool_as_string=True)
    users = raw.select(*[as_bool(c) if c in LIKES else F.col(c) for c in raw.columns])
    users = (users.withColumn("email", F.lower(F.trim("email")))
                  .withColumn("fullname", F.concat_ws(" ", "firstname", "lastname")))
    venue = t("venue").withColumn("venueseats", F.expr("nullif(venueseats, 0)"))
    category = t("category")
    draw = t("date", bool_as_string=True)
    date = draw.select(*[as_bool(c) if c == "holiday" else F.col(c) for c in draw.columns])
    event = t("event")
    sales = t("sales").where((F.col("pricepaid") > 0) & (F.col("qtysold") > 0)).cache()
    by_buyer = sales.groupBy("buyerid").agg(F.sum("qtysold").alias("tickets"),
                                            F.sum("pricepaid").alias("spent"),
                                            F.count(F.lit(1)).alias("purchases"))
    ev = event.select("eventid", F.col("catid").alias("event_catid"))
    by_genre = (sales.join(ev, "eventid").join(category, F.col("event_catid") == F.col("catid"))
                .groupBy("catgroup", "catname")
                .agg(F.sum("qtysold").alias("tickets"), F.sum("pricepaid").alias("revenue"),
                     F.countDistinct("eventid").alias("events")))
    for df, name in ((users, "users"), (venue, "venue"), (category, "category"), (date, "date"),
                     (event, "event"), (sales, "sales"), (by_buyer, "buyer_tickets"),
                     (by_genre, "genre_sales")):
        save(df, name)
    # the two answers, as post_sql's views give them
    bt = spark.read.parquet(os.path.join(out, "buyer_tickets"))
    us = spark.read.parquet(os.path.join(out, "users"))
    (bt.join(us, bt.buyerid == us.userid).orderBy(F.col("tickets").desc(), "buyerid").limit(10)
       .select("buyerid", "fullname", "city", "tickets", "spent").collect())
    (spark.read.parquet(os.path.join(out, "genre_sales"))
       .orderBy(F.col("tickets").desc(), "catname").limit(5).collect())


JOBS = {"q1": q1, "join": join, "sort": sort, "tickit": tickit}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("job", choices=sorted(JOBS))
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--memory", default="4g", help="driver memory (default 4g)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession, functions as F
    spark = (SparkSession.builder.master(f"local[{a.cores}]").appName(f"bench_{a.job}")
             .config("spark.sql.shuffle.partitions", "8")
             .config("spark.driver.memory", a.memory)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    t1 = time.perf_counter()
    JOBS[a.job](spark, F, a.data, a.out)
    t2 = time.perf_counter()
    spark.stop()
    print(json.dumps({"seconds": t2 - t1, "startup": t1 - t0}))


if __name__ == "__main__":
    main()
