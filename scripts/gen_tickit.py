#!/usr/bin/env python3
"""Generate TICKIT sample data: the seven tables of the Amazon Redshift
TICKIT sample (users, venue, category, date, event, listing, sales) in the
sample's layout: pipe-delimited text files with no header.

Deterministic: the same --scale and --seed give byte-identical files (with
the same numpy release: values are drawn from numpy's PCG64 generator).
Scale 1 has the sample's row counts (49,990 users, 8,798 events, 192,497
listings, 172,456 sales); other scales multiply users, events, listings and
sales. Timestamps are written as 'YYYY-MM-DD HH:MM:SS', prices with two
fraction digits, empty fields are NULLs.

Distributions: events' categories are skewed (some genres sell far more),
listings pick events with a Pareto popularity, a quarter of the sales go to a
few hundred keen buyers (Pareto again), the rest to any user; listings come
up to 60 days before their event and sales up to 30 days after the listing.

Rows are made a column at a time with numpy (scripts/gen_text.py), so large
scales are quick: scale 10 (1.7 million sales, 290 MB) takes about ten
seconds of CPU.
"""
import argparse
import datetime as dt
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_text import Rows, digits, vocab  # noqa: E402

CATEGORIES = [
    (1, "Sports", "MLB", "Major League Baseball"),
    (2, "Sports", "NHL", "National Hockey League"),
    (3, "Sports", "NFL", "National Football League"),
    (4, "Sports", "NBA", "National Basketball Association"),
    (5, "Sports", "MLS", "Major League Soccer"),
    (6, "Shows", "Musicals", "Musical theatre"),
    (7, "Shows", "Plays", "All non-musical theatre"),
    (8, "Shows", "Opera", "All opera and light opera"),
    (9, "Concerts", "Pop", "All rock and pop music concerts"),
    (10, "Concerts", "Jazz", "All jazz singers and bands"),
    (11, "Concerts", "Classical", "All symphony, concerto, and choir concerts"),
]
FIRST = ["Rafael", "Vladimir", "Lars", "Barry", "Reagan", "Tamekah", "Hilary", "Kay", "Zoé",
         "Björn", "Aiko", "Mateo", "Ines", "Noor", "Kwame", "Olga", "Priya", "Sven", "Li", "Ana"]
LAST = ["Taylor", "Humphrey", "Ratliff", "Roy", "Hodge", "Juarez", "Decker", "Hooper", "Müller",
        "Søren", "Tanaka", "García", "Okafor", "Ivanova", "Patel", "Chen", "O'Brien", "Silva"]
CITIES = [("Kent", "WA"), ("Augusta", "ME"), ("Lima", "OH"), ("Austin", "TX"), ("Salem", "OR"),
          ("Reno", "NV"), ("Boise", "ID"), ("Tampa", "FL"), ("Dover", "DE"), ("Provo", "UT"),
          ("New York City", "NY"), ("San Francisco", "CA"), ("Chicago", "IL"), ("Denver", "CO")]
WORDS = ["Night", "Phantom", "Opera", "Blues", "Symphony", "Kings", "Giants", "Echo", "River",
         "Summer", "Jazz", "Rock", "Stars", "Hamlet", "Carmen", "Wicked", "Fever", "Dream"]


CHUNK = 200_000
DAY0 = dt.date(2008, 1, 1)
DATEID0 = 1827


def write(path, rows):
    """Small tables: Python tuples, None for NULL."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write("|".join("" if v is None else str(v) for v in r))
            f.write("\n")


def write_chunks(path, n, build):
    """Large tables: build(lo, hi) gives the Rows of records [lo, hi)."""
    with open(path, "wb") as f:
        for lo in range(0, n, CHUNK):
            f.write(build(lo, min(n, lo + CHUNK)).tobytes())


DATES = vocab((DAY0 + dt.timedelta(days=d)).isoformat() for d in range(400))


def timestamp(day, seconds):
    """'YYYY-MM-DD HH:MM:SS' pieces for add_concat: days since 2008-01-01 and
    seconds into the day."""
    mat, lens = DATES
    return ((mat[day], lens[day]), " ", digits(seconds // 3600, 2), ":",
            digits(seconds // 60 % 60, 2), ":", digits(seconds % 60, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="scale factor (default 1)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--out", default="data/tickit", help="output folder")
    a = ap.parse_args()
    if a.scale <= 0:
        sys.exit("gen_tickit: --scale must be positive")
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    n_users = max(10, int(49990 * a.scale))
    n_events = max(5, int(8798 * a.scale))
    n_listings = max(10, int(192497 * a.scale))
    n_sales = max(10, int(172456 * a.scale))

    # ---- users ----
    first = rng.integers(0, len(FIRST), n_users)
    last = rng.integers(0, len(LAST), n_users)
    city = rng.integers(0, len(CITIES), n_users)
    phone = rng.integers([200, 200, 0], [1000, 1000, 10000], (n_users, 3))
    likes = rng.integers(0, 4, (n_users, 10))
    yn = vocab(["t", "f", "f", None])
    firsts, lasts = vocab(FIRST), vocab(LAST)
    prefixes = vocab(f[:3].upper() for f in FIRST)
    lowers = vocab(f.lower() + "." for f in FIRST)
    cities, states = vocab(c for c, _ in CITIES), vocab(s for _, s in CITIES)

    def users(lo, hi):
        r = Rows(hi - lo)
        uid = np.arange(lo + 1, hi + 1)
        f = first[lo:hi]
        r.add_int(uid)
        r.add_concat((prefixes[0][f], prefixes[1][f]), digits(uid, 5))
        r.add_lookup(firsts, f)
        r.add_lookup(lasts, last[lo:hi])
        r.add_lookup(cities, city[lo:hi])
        r.add_lookup(states, city[lo:hi])
        r.add_concat((lowers[0][f], lowers[1][f]), digits(uid), "@example.com")
        p = phone[lo:hi]
        r.add_concat("(", digits(p[:, 0]), ") ", digits(p[:, 1]), "-", digits(p[:, 2], 4))
        for k in range(10):
            r.add_lookup(yn, likes[lo:hi, k])
        return r
    write_chunks(os.path.join(a.out, "allusers_pipe.txt"), n_users, users)

    # ---- the small tables ----
    venues = []
    for vid in range(1, 203):
        c = int(rng.integers(len(CITIES)))
        kind = int(rng.integers(3))
        seats = [0, None, int(rng.integers(1000, 80001))][kind]
        name = f"{WORDS[int(rng.integers(len(WORDS)))]} {['Arena', 'Stadium', 'Theatre', 'Hall'][int(rng.integers(4))]} {vid}"
        venues.append((vid, name, CITIES[c][0], CITIES[c][1], seats))
    write(os.path.join(a.out, "venue_pipe.txt"), venues)
    write(os.path.join(a.out, "category_pipe.txt"), CATEGORIES)

    dates = []
    holidays = {dt.date(2008, 1, 1), dt.date(2008, 7, 4), dt.date(2008, 12, 25), dt.date(2008, 11, 27)}
    for i in range(366):
        d = DAY0 + dt.timedelta(days=i)
        dates.append((DATEID0 + i, d.isoformat(), d.strftime("%a").upper()[:3], d.isocalendar()[1],
                      d.strftime("%b").upper(), f"{(d.month - 1) // 3 + 1}", d.year,
                      "true" if d in holidays else "false"))
    write(os.path.join(a.out, "date2008_pipe.txt"), dates)

    # ---- events: a skewed popularity, some categories sell far more ----
    cat_weights = np.array([8, 3, 4, 5, 2, 9, 6, 3, 7, 2, 4], dtype=np.float64)
    ev_cat = rng.choice(11, n_events, p=cat_weights / cat_weights.sum()) + 1
    ev_day = rng.integers(0, 366, n_events)
    ev_secs = (rng.choice([14, 15, 19, 20], n_events) * 3600 + rng.choice([0, 30], n_events) * 60)
    ev_venue = rng.integers(1, 203, n_events)
    ev_name = rng.integers(0, len(WORDS), (n_events, 2))
    words = vocab(WORDS)

    def events(lo, hi):
        r = Rows(hi - lo)
        r.add_int(np.arange(lo + 1, hi + 1))
        r.add_int(ev_venue[lo:hi])
        r.add_int(ev_cat[lo:hi])
        r.add_int(DATEID0 + ev_day[lo:hi])
        w = ev_name[lo:hi]
        r.add_concat((words[0][w[:, 0]], words[1][w[:, 0]]), " ", (words[0][w[:, 1]], words[1][w[:, 1]]))
        r.add_concat(*timestamp(ev_day[lo:hi], ev_secs[lo:hi]))
        return r
    write_chunks(os.path.join(a.out, "allevents_pipe.txt"), n_events, events)

    # ---- listings: popular events (Pareto) listed up to 60 days ahead ----
    li_event = (rng.pareto(1.2, n_listings) + 1).astype(np.int64) % n_events
    li_seller = rng.integers(1, n_users + 1, n_listings)
    li_tickets = rng.integers(1, 31, n_listings)
    li_price = rng.integers(2000, 250001, n_listings)  # cents
    li_day = np.maximum(0, ev_day[li_event] - rng.integers(0, 61, n_listings))
    li_secs = rng.integers(0, 86400, n_listings)

    def listings(lo, hi):
        r = Rows(hi - lo)
        r.add_int(np.arange(lo + 1, hi + 1))
        r.add_int(li_seller[lo:hi])
        r.add_int(li_event[lo:hi] + 1)
        r.add_int(DATEID0 + li_day[lo:hi])
        r.add_int(li_tickets[lo:hi])
        r.add_decimal(li_price[lo:hi])
        r.add_decimal(li_price[lo:hi] * li_tickets[lo:hi])
        r.add_concat(*timestamp(li_day[lo:hi], li_secs[lo:hi]))
        return r
    write_chunks(os.path.join(a.out, "listings_pipe.txt"), n_listings, listings)

    # ---- sales: most buyers buy now and then; a few hundred keen ones buy a lot ----
    sa_list = rng.integers(0, n_listings, n_sales)
    sa_qty = 1 + (rng.random(n_sales) * np.minimum(8, li_tickets[sa_list])).astype(np.int64)
    sa_paid = li_price[sa_list] * sa_qty
    keen = rng.random(n_sales) < 0.25
    keen_buyer = ((rng.pareto(1.3, n_sales) + 1) * 3).astype(np.int64) % max(1, n_users // 100) + 1
    sa_buyer = np.where(keen, keen_buyer, rng.integers(1, n_users + 1, n_sales))
    sa_day = np.minimum(365, li_day[sa_list] + rng.integers(0, 31, n_sales))
    sa_secs = rng.integers(0, 86400, n_sales)

    def sales(lo, hi):
        r = Rows(hi - lo)
        lst = sa_list[lo:hi]
        paid = sa_paid[lo:hi]
        r.add_int(np.arange(lo + 1, hi + 1))
        r.add_int(lst + 1)
        r.add_int(li_seller[lst])
        r.add_int(sa_buyer[lo:hi])
        r.add_int(li_event[lst] + 1)
        r.add_int(DATEID0 + sa_day[lo:hi])
        r.add_int(sa_qty[lo:hi])
        r.add_decimal(paid)
        r.add_decimal((paid * 15 + 50) // 100)
        r.add_concat(*timestamp(sa_day[lo:hi], sa_secs[lo:hi]))
        return r
    write_chunks(os.path.join(a.out, "sales_pipe.txt"), n_sales, sales)
    print(f"gen_tickit: wrote {n_users} users, {n_events} events, {n_listings} listings, "
          f"{n_sales} sales to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
