#!/usr/bin/env python3
"""Lands TICKIT data one day at a time, as a daily export would, for
dags/tickit_daily.yaml.

From the files scripts/gen_tickit.py made (--src), writes for each day from
--first to --last (dates of 2008, YYYY-MM-DD):

  OUT/sales/sales-YYYY-MM-DD.txt        the sales of that day (sales_pipe.txt's
                                        layout: pipe-delimited, no header)
  OUT/listings/listings-YYYY-MM-DD.txt  that day's listing changes: listings
                                        made that day, and price cuts (10%% off)
                                        of about one in forty listings made
                                        before it; the listing layout plus a
                                        last column, changed_at (when the
                                        change was made)

A listing may change on several days, so a run that loads several days'
files sees its key more than once; the DAG's upsert keeps the latest change
(dedupe on changed_at).  Each file is written under a hidden name and
renamed into place, so a run never sees half a file.  Deterministic: the
same source and days give the same files.
"""
import argparse
import datetime as dt
import os
from collections import defaultdict


def land(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default="data/tickit", help="gen_tickit.py's output folder")
    ap.add_argument("--out", default="data/tickit_daily", help="where the daily files land")
    ap.add_argument("--first", required=True, help="first day, YYYY-MM-DD")
    ap.add_argument("--last", help="last day (default: --first)")
    a = ap.parse_args()
    first = dt.date.fromisoformat(a.first)
    last = dt.date.fromisoformat(a.last or a.first)

    sales = defaultdict(list)
    with open(os.path.join(a.src, "sales_pipe.txt"), encoding="utf-8") as f:
        for line in f:
            day = line.rstrip("\n").split("|")[9][:10]
            sales[day].append(line)
    listings = []  # (day, fields)
    with open(os.path.join(a.src, "listings_pipe.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("|")
            listings.append((fields[7][:10], fields))

    day = first
    while day <= last:
        d = day.isoformat()
        land(os.path.join(a.out, "sales", "sales-%s.txt" % d), sales.get(d, []))
        out = []
        for ld, fields in listings:
            if ld == d:
                out.append("|".join(fields + [fields[7]]) + "\n")
            elif ld < d and (int(fields[0]) + day.toordinal()) % 40 == 0:
                price = int(round(float(fields[5]) * 90))  # cents, 10% off
                cut = fields[:5] + ["%d.%02d" % (price // 100, price % 100),
                                    "%d.%02d" % (price * int(fields[4]) // 100,
                                                 price * int(fields[4]) % 100),
                                    fields[7], "%s 23:00:00" % d]
                out.append("|".join(cut) + "\n")
        land(os.path.join(a.out, "listings", "listings-%s.txt" % d), out)
        print("tickit_days: %s: %d sales, %d listing changes" % (d, len(sales.get(d, [])),
                                                                len(out)))
        day += dt.timedelta(days=1)


if __name__ == "__main__":
    main()
