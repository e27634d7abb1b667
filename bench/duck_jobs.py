#!/usr/bin/env python3
"""duck_jobs.py - the benchmark's jobs on DuckDB: the same operations as
millrace's DAGs, in SQL, over the same CSV files.

  duck_jobs.py JOB --data DIR --out DIR [--threads N]

JOB is q1, join, sort, tickit or load. Results land in a fresh DuckDB
database file OUT/duck.db (tables named as millrace's warehouse tables), the
sort's rows in OUT/sorted.csv (CSV with a header, as millrace's file
writer). Prints one JSON line: {"seconds": time from connect to the last
statement's end, the database closed}.
"""
import argparse
import json
import os
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import (JOIN_ORDERDATE, LINEITEM, ORDERS, Q1_SHIPDATE, TICKIT,  # noqa: E402
                    duck_columns)


def src(data, table, delim="|"):
    name, cols = table
    return (f"read_csv('{os.path.join(data, name)}', delim='{delim}', header=false, "
            f"quote='', escape='', columns={duck_columns(cols)})")


def q1(con, data, out):
    con.execute(f"""
        CREATE TABLE q1 AS
        SELECT l_returnflag, l_linestatus,
               sum(l_quantity) AS sum_qty,
               sum(l_extendedprice) AS sum_base_price,
               sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
               sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
               avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price,
               avg(l_discount) AS avg_disc, count(*) AS count_order
        FROM {src(data, LINEITEM)}
        WHERE l_shipdate <= DATE '{Q1_SHIPDATE}'
        GROUP BY l_returnflag, l_linestatus""")


def join(con, data, out):
    con.execute(f"""
        CREATE TABLE revenue AS
        SELECT o_orderpriority, l_shipmode,
               sum(l_extendedprice * (1 - l_discount)) AS revenue,
               count(*) AS lines, avg(l_quantity) AS avg_qty
        FROM {src(data, LINEITEM)} l
        JOIN (SELECT * FROM {src(data, ORDERS)} WHERE o_orderdate < DATE '{JOIN_ORDERDATE}') o
          ON l.l_orderkey = o.o_orderkey
        GROUP BY o_orderpriority, l_shipmode""")


def sort(con, data, out):
    con.execute(f"""
        COPY (SELECT * FROM {src(data, ORDERS)} ORDER BY o_totalprice DESC, o_orderkey)
        TO '{os.path.join(out, "sorted.csv")}' (HEADER, DELIMITER ',')""")


def tickit(con, data, out):
    def t(name):
        return src(data, TICKIT[name])
    con.execute(f"""CREATE TABLE users AS
        SELECT * REPLACE (lower(trim(email)) AS email), firstname || ' ' || lastname AS fullname
        FROM {t('users')}""")
    con.execute(f"CREATE TABLE venue AS SELECT * REPLACE (nullif(venueseats, 0) AS venueseats) "
                f"FROM {t('venue')}")
    con.execute(f"CREATE TABLE category AS SELECT * FROM {t('category')}")
    con.execute(f'CREATE TABLE "date" AS SELECT * FROM {t("date")}')
    con.execute(f"CREATE TABLE event AS SELECT * FROM {t('event')}")
    con.execute(f"CREATE TABLE sales AS SELECT * FROM {t('sales')} "
                f"WHERE pricepaid > 0 AND qtysold > 0")
    con.execute("""CREATE TABLE buyer_tickets AS
        SELECT buyerid, sum(qtysold) AS tickets, sum(pricepaid) AS spent, count(*) AS purchases
        FROM sales GROUP BY buyerid""")
    con.execute("""CREATE TABLE genre_sales AS
        SELECT c.catgroup, c.catname, sum(s.qtysold) AS tickets, sum(s.pricepaid) AS revenue,
               count(DISTINCT s.eventid) AS events
        FROM sales s JOIN event e ON s.eventid = e.eventid JOIN category c ON e.catid = c.catid
        GROUP BY c.catgroup, c.catname""")
    con.execute("""CREATE VIEW top_buyers AS
        SELECT b.buyerid, u.fullname, u.city, b.tickets, b.spent
        FROM buyer_tickets b JOIN users u ON u.userid = b.buyerid
        ORDER BY b.tickets DESC, b.buyerid LIMIT 10""")
    con.execute("""CREATE VIEW top_genres AS
        SELECT catname AS genre, catgroup, tickets, revenue, events
        FROM genre_sales ORDER BY tickets DESC, catname LIMIT 5""")
    # the example prints both answers, as `millrace run` + post_sql's views do
    con.execute("SELECT * FROM top_buyers").fetchall()
    con.execute("SELECT * FROM top_genres").fetchall()


def load(con, data, out):
    con.execute(f"CREATE TABLE lineitem AS SELECT * FROM {src(data, LINEITEM)}")


JOBS = {"q1": q1, "join": join, "sort": sort, "tickit": tickit, "load": load}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("job", choices=sorted(JOBS))
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    db = os.path.join(a.out, "duck.db")
    for p in (db, db + ".wal"):
        if os.path.exists(p):
            os.remove(p)
    t0 = time.perf_counter()
    con = duckdb.connect(db, config={"threads": a.threads})
    JOBS[a.job](con, a.data, a.out)
    con.close()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
