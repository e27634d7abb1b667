#!/usr/bin/env python3
"""Generate TICKIT sample data: the seven tables of the Amazon Redshift
TICKIT sample (users, venue, category, date, event, listing, sales) in the
sample's layout: pipe-delimited text files with no header.

Deterministic: the same --scale and --seed give byte-identical files.
Scale 1 has the sample's row counts (49,990 users, 8,798 events, 192,497
listings, 172,456 sales); other scales multiply users, events, listings and
sales. Timestamps are written as 'YYYY-MM-DD HH:MM:SS'.
"""
import argparse
import datetime as dt
import os
import random
import sys

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


def write(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write("|".join("" if v is None else str(v) for v in r))
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="scale factor (default 1)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--out", default="data/tickit", help="output folder")
    a = ap.parse_args()
    if a.scale <= 0:
        sys.exit("gen_tickit: --scale must be positive")
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    n_users = max(10, int(49990 * a.scale))
    n_events = max(5, int(8798 * a.scale))
    n_listings = max(10, int(192497 * a.scale))
    n_sales = max(10, int(172456 * a.scale))

    def yn():
        return rnd.choice(["t", "f", "f", None])

    users = []
    for uid in range(1, n_users + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        city, state = rnd.choice(CITIES)
        users.append((uid, f"{first[:3].upper()}{uid:05d}", first, last, city, state,
                      f"{first.lower()}.{uid}@example.com",
                      f"({rnd.randint(200, 999)}) {rnd.randint(200, 999)}-{rnd.randint(0, 9999):04d}",
                      *[yn() for _ in range(10)]))
    write(os.path.join(a.out, "allusers_pipe.txt"), users)

    venues = []
    for vid in range(1, 203):
        city, state = rnd.choice(CITIES)
        seats = rnd.choice([0, None, rnd.randint(1000, 80000)])
        venues.append((vid, f"{rnd.choice(WORDS)} {rnd.choice(['Arena', 'Stadium', 'Theatre', 'Hall'])} {vid}",
                       city, state, seats if seats is not None else None))
    write(os.path.join(a.out, "venue_pipe.txt"), venues)
    write(os.path.join(a.out, "category_pipe.txt"), CATEGORIES)

    start = dt.date(2008, 1, 1)
    dates = []
    holidays = {dt.date(2008, 1, 1), dt.date(2008, 7, 4), dt.date(2008, 12, 25), dt.date(2008, 11, 27)}
    for i in range(366):
        d = start + dt.timedelta(days=i)
        dates.append((1827 + i, d.isoformat(), d.strftime("%a").upper()[:3], d.isocalendar()[1],
                      d.strftime("%b").upper(), f"{(d.month - 1) // 3 + 1}", d.year,
                      "true" if d in holidays else "false"))
    write(os.path.join(a.out, "date2008_pipe.txt"), dates)

    events = []
    # A skewed popularity: some categories and events sell far more.
    cat_weights = [8, 3, 4, 5, 2, 9, 6, 3, 7, 2, 4]
    for eid in range(1, n_events + 1):
        catid = rnd.choices(range(1, 12), weights=cat_weights)[0]
        day = rnd.randrange(366)
        t = dt.datetime(2008, 1, 1) + dt.timedelta(days=day, hours=rnd.choice([14, 15, 19, 20]),
                                                   minutes=rnd.choice([0, 30]))
        events.append((eid, rnd.randint(1, 202), catid, 1827 + day,
                       f"{rnd.choice(WORDS)} {rnd.choice(WORDS)}", t.strftime("%Y-%m-%d %H:%M:%S")))
    write(os.path.join(a.out, "allevents_pipe.txt"), events)

    listings = []
    for lid in range(1, n_listings + 1):
        ev = events[int(rnd.paretovariate(1.2)) % n_events]
        numtickets = rnd.randint(1, 30)
        price = rnd.randint(2000, 250000) / 100
        day = max(0, ev[3] - 1827 - rnd.randint(0, 60))
        lt = dt.datetime(2008, 1, 1) + dt.timedelta(days=day, seconds=rnd.randrange(86400))
        listings.append((lid, rnd.randint(1, n_users), ev[0], 1827 + day, numtickets,
                         f"{price:.2f}", f"{price * numtickets:.2f}", lt.strftime("%Y-%m-%d %H:%M:%S")))
    write(os.path.join(a.out, "listings_pipe.txt"), listings)

    sales = []
    for sid in range(1, n_sales + 1):
        lst = listings[rnd.randrange(n_listings)]
        qty = rnd.randint(1, min(8, lst[4]))
        paid = round(float(lst[5]) * qty, 2)
        # most buyers buy now and then; a few hundred keen ones buy a lot
        if rnd.random() < 0.25:
            buyer = int(rnd.paretovariate(1.3) * 3) % max(1, n_users // 100) + 1
        else:
            buyer = rnd.randint(1, n_users)
        day = min(365, lst[3] - 1827 + rnd.randint(0, 30))
        st = dt.datetime(2008, 1, 1) + dt.timedelta(days=day, seconds=rnd.randrange(86400))
        sales.append((sid, lst[0], lst[1], buyer, lst[2], 1827 + day, qty, f"{paid:.2f}",
                      f"{paid * 0.15:.2f}", st.strftime("%Y-%m-%d %H:%M:%S")))
    write(os.path.join(a.out, "sales_pipe.txt"), sales)
    print(f"gen_tickit: wrote {n_users} users, {n_events} events, {n_listings} listings, "
          f"{n_sales} sales to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
