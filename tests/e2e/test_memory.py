"""Executor memory stays within the bound docs/spill.md states: a self-join
on a hot key (half the rows share one key, so no hash partitioning can
split it) runs on executors with a tiny --memory, the results equal
DuckDB's, and each executor's peak resident set (VmHWM, /proc) stays below
FACTOR x --memory + FIXED_MIB.  Before, the hot key's build side was held
in memory whole and every staged row stayed in SQLite's page cache: 95 MB
peaks for this input, growing with it."""
import csv
import os
import random
import re
import sqlite3
from collections import Counter

import duckdb

MEMORY = 2 * 1024 * 1024
SLOTS = 2
FACTOR, FIXED_MIB = 3, 40  # docs/spill.md, "What bounds an executor's memory"
ASAN_FIXED_MIB = 80  # AddressSanitizer's own shadow memory, redzones and allocator
ROWS = 400000

SCHEMA = '{id: int64, k: int64, s: string, amt: "decimal(10,2)", note: string}'
DAG = f"""version: 1
name: selfjoin
params: {{data: x, warehouse: x}}
warehouse: {{driver: sqlite, path: "${{warehouse}}"}}
nodes:
  a: {{op: read, format: csv, path: "${{data}}/facts.csv", schema: {SCHEMA}}}
  b: {{op: read, format: csv, path: "${{data}}/facts.csv", schema: {SCHEMA}}}
  few: {{op: filter, input: a, where: "id < 3 OR id = 7"}}
  j: {{op: join, left: few, right: b, on: [k], how: inner, right_prefix: r_}}
  w: {{op: write, input: j, to: warehouse, table: inner_j}}
  rj: {{op: join, left: few, right: b, on: [k], how: right, right_prefix: r_}}
  rjs: {{op: select, input: rj, columns: {{id: id, r_id: r_id, k: k}}}}
  w2: {{op: write, input: rjs, to: warehouse, table: right_j}}
"""


def make_data(d):
    rng = random.Random(11)
    with open(d / "facts.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "k", "s", "amt", "note"])
        for i in range(ROWS):
            k = 1 if i in (0, 1, 7) or rng.random() < 0.5 else rng.randint(2, 30000)
            w.writerow([i, k, f"w{rng.randint(0, 40)}", f"{rng.randint(-99999, 999999) / 100:.2f}",
                        f"note {rng.randint(0, 10**9):09d}"])


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))


def norm(v):
    if v is None or isinstance(v, str):
        return v
    f = float(v)
    return int(f) if f == int(f) else round(f, 2)


def rows(cur):
    return Counter(tuple(norm(v) for v in r) for r in cur.fetchall())


def sanitized(pid):
    """Whether the process runs under AddressSanitizer (scripts/test.sh's
    second pass), whose shadow memory and redzones RSS counts too."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def test_hot_key_self_join_rss_within_bound(cluster_factory, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    make_data(d)
    # under AddressSanitizer, freed memory would sit in its quarantine
    # (256 MB by default), which says nothing about millrace: switch it off
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "quarantine_size_mb=0"
    try:
        c = cluster_factory(executors=2, executor_args=("--memory", str(MEMORY), "--slots",
                                                        str(SLOTS), "--spill-dir", str(tmp_path)))
    finally:
        if saved is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = saved
    asan = sanitized(c.executors[0].pid)
    r = c.post("/v1/jobs", json={"dag": DAG, "params": {"data": "data", "warehouse": "wh.db"}})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"], timeout=300)
    assert done["state"] == "succeeded", done
    peaks = [peak_rss_kib(p.pid) for p in c.executors]
    print("peak RSS KiB", peaks)

    con = duckdb.connect()
    con.execute(f"CREATE TABLE f AS SELECT * FROM read_csv('{d / 'facts.csv'}', header=true, "
                "columns={'id': 'BIGINT', 'k': 'BIGINT', 's': 'VARCHAR', 'amt': 'DECIMAL(10,2)', "
                "'note': 'VARCHAR'})")
    con.execute("CREATE TABLE few AS SELECT * FROM f WHERE id < 3 OR id = 7")
    wh = sqlite3.connect(tmp_path / "wh.db")
    want = rows(con.execute("SELECT few.*, b.id, b.s, b.amt, b.note FROM few JOIN f b ON few.k = b.k"))
    assert sum(want.values()) > 4 * ROWS // 3  # the hot key really is joined
    assert rows(wh.execute("SELECT * FROM inner_j")) == want
    want = rows(con.execute("SELECT few.id, b.id, b.k FROM few RIGHT JOIN f b ON few.k = b.k"))
    assert rows(wh.execute("SELECT * FROM right_j")) == want

    logs = "".join(p.read_text() for p in tmp_path.glob("executor-*.log"))
    assert "operators spilled" in logs
    bound_kib = FACTOR * MEMORY // 1024 + (ASAN_FIXED_MIB if asan else FIXED_MIB) * 1024
    assert max(peaks) < bound_kib, f"peak RSS {peaks} KiB, bound {bound_kib} KiB"
