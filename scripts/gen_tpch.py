#!/usr/bin/env python3
"""Generate a TPC-H-like orders and lineitem pair as delimited text.

Not the TPC-H dbgen (its text is not reproduced and the data is not meant
for audited results), but the same shape: the columns, types, key structure
and value distributions of TPC-H's ORDERS and LINEITEM, so the classic
queries (Q1's scan and group-by, Q3's join) behave as on the real thing.

  orders.csv    o_orderkey|o_custkey|o_orderstatus|o_totalprice|o_orderdate|
                o_orderpriority|o_clerk|o_shippriority|o_comment
  lineitem.csv  l_orderkey|l_partkey|l_suppkey|l_linenumber|l_quantity|
                l_extendedprice|l_discount|l_tax|l_returnflag|l_linestatus|
                l_shipdate|l_commitdate|l_receiptdate|l_shipinstruct|
                l_shipmode|l_comment

Scale factor 1 is 1,500,000 orders and about 6,000,000 line items (1 to 7
per order), about 170 MB and 750 MB of text. Keys are TPC-H's sparse order
keys; l_extendedprice = l_quantity x the part's TPC-H retail price;
o_totalprice = sum of extendedprice x (1 + tax) x (1 - discount) over the
order's lines (rounded to cents); ship, commit and receipt dates follow the
order date as in TPC-H, with returnflag and linestatus derived from them
against 1995-06-17; o_orderstatus is F, O or P from the lines' statuses.
Decimals are written with two fraction digits, dates as YYYY-MM-DD.

Deterministic: the same --scale and --seed give byte-identical files, however
many worker processes (--jobs) make them: the orders are cut into fixed
chunks, each drawn from its own seeded generator (the seed, the chunk
number), and written in order.

  python3 scripts/gen_tpch.py --scale 1 --out data/tpch [--delimiter ,] [--header]
"""
import argparse
import datetime as dt
import multiprocessing
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_text import Rows, digits, vocab  # noqa: E402

ORDERS_PER_CHUNK = 40_000
EPOCH = dt.date(1970, 1, 1)
START = (dt.date(1992, 1, 1) - EPOCH).days
END = (dt.date(1998, 12, 31) - EPOCH).days
CURRENT = (dt.date(1995, 6, 17) - EPOCH).days

ORDER_COLUMNS = ["o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice", "o_orderdate",
                 "o_orderpriority", "o_clerk", "o_shippriority", "o_comment"]
LINEITEM_COLUMNS = ["l_orderkey", "l_partkey", "l_suppkey", "l_linenumber", "l_quantity",
                    "l_extendedprice", "l_discount", "l_tax", "l_returnflag", "l_linestatus",
                    "l_shipdate", "l_commitdate", "l_receiptdate", "l_shipinstruct", "l_shipmode",
                    "l_comment"]

PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
INSTRUCTS = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"]
MODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]
WORDS = ["furiously", "sly", "careful", "blithe", "quick", "fluffy", "slow", "quiet", "ruthless",
         "thin", "close", "dogged", "daring", "brave", "stealthy", "permanent", "enticing", "idle",
         "busy", "regular", "final", "ironic", "even", "bold", "silent", "express", "pending",
         "special", "unusual", "packages", "requests", "accounts", "deposits", "foxes", "ideas",
         "theodolites", "pinto", "beans", "instructions", "dependencies", "excuses", "platelets",
         "asymptotes", "courts", "dolphins", "multipliers", "sauternes", "warthogs", "frets",
         "dinos", "attainments", "somas", "Tiresias", "patterns", "forges", "braids", "hockey",
         "players", "frays", "warhorses", "dugouts", "notornis", "epitaphs", "pearls", "tithes",
         "waters", "orbits", "gifts", "sheaves", "depths", "sentiments", "decoys", "realms",
         "pains", "grouches", "escapades", "sleep", "wake", "are", "cajole", "haggle", "nag",
         "use", "boost", "affix", "detect", "integrate", "maintain", "nod", "was", "lose", "sublate",
         "solve", "thrash", "promise", "engage", "hinder", "print", "x-ray", "breach", "eat",
         "grow", "impress", "mold", "poach", "serve", "run", "dazzle", "snooze", "doze", "unwind",
         "kindle", "play", "hang", "believe", "doubt", "above", "according", "across", "after",
         "against", "along", "alongside", "among", "around", "at", "atop", "before", "behind",
         "beneath", "beside", "besides", "between", "beyond", "by", "despite", "during", "except",
         "for", "from", "inside", "instead", "into", "near", "of", "on", "outside", "over", "past",
         "since", "through", "throughout", "to", "toward", "under", "until", "up", "upon",
         "without", "with", "within"]
N_COMMENTS = 8192


def comments(seed, tag, lo, hi):
    """A vocabulary of N_COMMENTS pseudo-sentences of lo..hi characters."""
    rng = np.random.default_rng([seed, tag, 999_999])
    out = []
    for _ in range(N_COMMENTS):
        target = int(rng.integers(lo, hi + 1))
        words = []
        while len(" ".join(words)) < target:
            words.append(WORDS[int(rng.integers(len(WORDS)))])
        out.append(" ".join(words)[:target].rstrip())
    return vocab(out)


class Tables:
    """The lookup tables every chunk shares (built once per process)."""

    def __init__(self, seed, scale):
        self.scale = scale
        self.dates = vocab((EPOCH + dt.timedelta(days=d)).isoformat() for d in range(START, END + 200))
        self.priorities = vocab(PRIORITIES)
        self.instructs = vocab(INSTRUCTS)
        self.modes = vocab(MODES)
        self.flags = vocab(["R", "A", "N"])
        self.status = vocab(["F", "O", "P"])
        self.linestatus = vocab(["F", "O"])
        self.o_comments = comments(seed, 1, 19, 78)
        self.l_comments = comments(seed, 2, 10, 43)


def chunk(args):
    """Orders [first, first + count) and their line items, as text."""
    seed, scale, index, first, count, delim, tables = args
    t = tables
    rng = np.random.default_rng([seed, index])
    i = np.arange(first, first + count, dtype=np.int64)
    okey = (i // 8) * 32 + (i % 8) + 1
    n_cust = max(10, int(150_000 * scale))
    n_part = max(10, int(200_000 * scale))
    n_supp = max(10, int(10_000 * scale))
    n_clerk = max(10, int(1_000 * scale))
    custkey = rng.integers(1, n_cust + 1, count)
    odate = rng.integers(START, END - 151 + 1, count)
    nlines = rng.integers(1, 8, count)

    # line items: each order's lines follow it
    n = int(nlines.sum())
    order_of = np.repeat(np.arange(count), nlines)
    starts = np.cumsum(nlines) - nlines
    linenumber = np.arange(n) - np.repeat(starts, nlines) + 1
    partkey = rng.integers(1, n_part + 1, n)
    suppkey = rng.integers(1, n_supp + 1, n)
    qty = rng.integers(1, 51, n)
    retail = 90_000 + (partkey // 10) % 20_001 + 100 * (partkey % 1_000)  # cents
    extprice = qty * retail
    disc = rng.integers(0, 11, n)
    tax = rng.integers(0, 9, n)
    ld = odate[order_of]
    shipdate = ld + rng.integers(1, 122, n)
    commitdate = ld + rng.integers(30, 91, n)
    receiptdate = shipdate + rng.integers(1, 31, n)
    flag = np.where(receiptdate <= CURRENT, rng.integers(0, 2, n), 2)  # R or A, else N
    lstatus = (shipdate > CURRENT).astype(np.int64)  # 0 F, 1 O
    instr = rng.integers(0, len(INSTRUCTS), n)
    mode = rng.integers(0, len(MODES), n)
    lcomment = rng.integers(0, N_COMMENTS, n)

    # orders: total price and status from their lines
    charge = extprice * (100 + tax) * (100 - disc)  # cents x 10^4
    # float64 sums of integers below 2**53 are exact (an order's is below 1e12)
    total = np.rint(np.bincount(order_of, weights=charge, minlength=count)).astype(np.int64)
    total = (total + 5_000) // 10_000
    n_open = np.bincount(order_of, weights=lstatus, minlength=count).astype(np.int64)
    ostatus = np.where(n_open == 0, 0, np.where(n_open == nlines, 1, 2))
    prio = rng.integers(0, len(PRIORITIES), count)
    clerk = rng.integers(1, n_clerk + 1, count)
    ocomment = rng.integers(0, N_COMMENTS, count)

    o = Rows(count)
    o.add_int(okey)
    o.add_int(custkey)
    o.add_lookup(t.status, ostatus)
    o.add_decimal(total)
    o.add_lookup(t.dates, odate - START)
    o.add_lookup(t.priorities, prio)
    o.add_concat("Clerk#", digits(clerk, min_width=9))
    o.add_int(np.zeros(count, dtype=np.int64))
    o.add_lookup(t.o_comments, ocomment)

    li = Rows(n)
    li.add_int(okey[order_of])
    li.add_int(partkey)
    li.add_int(suppkey)
    li.add_int(linenumber)
    li.add_decimal(qty * 100)
    li.add_decimal(extprice)
    li.add_decimal(disc)
    li.add_decimal(tax)
    li.add_lookup(t.flags, flag)
    li.add_lookup(t.linestatus, lstatus)
    li.add_lookup(t.dates, shipdate - START)
    li.add_lookup(t.dates, commitdate - START)
    li.add_lookup(t.dates, receiptdate - START)
    li.add_lookup(t.instructs, instr)
    li.add_lookup(t.modes, mode)
    li.add_lookup(t.l_comments, lcomment)
    return o.tobytes(delim), li.tobytes(delim), n


_TABLES = None


def _init(seed, scale):
    global _TABLES
    _TABLES = Tables(seed, scale)


def _chunk_in_worker(args):
    return chunk(args + (_TABLES,))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="scale factor (default 1: 1.5M orders)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--out", default="data/tpch", help="output folder (default data/tpch)")
    ap.add_argument("--delimiter", default="|", help="field delimiter, one byte (default |)")
    ap.add_argument("--header", action="store_true", help="write a header line")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="worker processes (default: every core); the output does not depend on it")
    a = ap.parse_args()
    if a.scale <= 0:
        sys.exit("gen_tpch: --scale must be positive")
    delim = a.delimiter.encode()
    if len(delim) != 1 or delim in b"\n\r0123456789.-#":
        sys.exit(f"gen_tpch: --delimiter must be one byte that no value holds, not {a.delimiter!r}")
    n_orders = max(10, int(1_500_000 * a.scale))
    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    work = [(a.seed, a.scale, k, first, min(ORDERS_PER_CHUNK, n_orders - first), delim)
            for k, first in enumerate(range(0, n_orders, ORDERS_PER_CHUNK))]
    opath, lpath = os.path.join(a.out, "orders.csv"), os.path.join(a.out, "lineitem.csv")
    n_lines = 0
    with open(opath + ".tmp", "wb") as of, open(lpath + ".tmp", "wb") as lf:
        if a.header:
            of.write(delim.join(c.encode() for c in ORDER_COLUMNS) + b"\n")
            lf.write(delim.join(c.encode() for c in LINEITEM_COLUMNS) + b"\n")
        if a.jobs > 1 and len(work) > 1:
            with multiprocessing.Pool(a.jobs, initializer=_init, initargs=(a.seed, a.scale)) as pool:
                for ob, lb, n in pool.imap(_chunk_in_worker, work):
                    of.write(ob)
                    lf.write(lb)
                    n_lines += n
        else:
            tables = Tables(a.seed, a.scale)
            for w in work:
                ob, lb, n = chunk(w + (tables,))
                of.write(ob)
                lf.write(lb)
                n_lines += n
    os.replace(opath + ".tmp", opath)
    os.replace(lpath + ".tmp", lpath)
    size = os.path.getsize(opath) + os.path.getsize(lpath)
    sec = time.perf_counter() - t0
    print(f"gen_tpch: wrote {n_orders:,} orders and {n_lines:,} line items "
          f"({size / 1e6:,.0f} MB) to {a.out} in {sec:.1f} s ({size / 1e6 / sec:,.0f} MB/s)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
