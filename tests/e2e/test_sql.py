"""The sql op end to end.

Differential corpus: every tests/sql/diff/*.sql query runs as a sql node of
one DAG (each written to its own PostgreSQL warehouse table) and, as plain
SQL, on the same PostgreSQL server over the same rows; the answers are
compared row by row: as multisets, or in order when the query's first line
is "-- ordered" (those queries order by a total key); floats and averages
with a relative tolerance.  The data is TPC-H-shaped (region, nation,
customer, orders, lineitem, part) and TICKIT-shaped (users, category,
venue, event, sales), with NULLs in keys and values.

Golden corpus: every tests/sql/invalid/NAME.sql is put into a DAG as a
block scalar and `millrace validate` must print exactly NAME.err (the
file:line:column inside the query and the message).

Plans: a query and its hand-written nodes give the same `explain`, but for
the node names.  Chains: sql nodes read and feed derive, window, other sql
and write nodes.
"""
import csv
import decimal
import math
import random
import re
from pathlib import Path

import pytest

import pg
from conftest import ROOT, run_cli

CORPUS = ROOT / "tests" / "sql"

TABLES = {
    "region": [("r_regionkey", "int32", "int"), ("r_name", "string", "text")],
    "nation": [("n_nationkey", "int32", "int"), ("n_name", "string", "text"),
               ("n_regionkey", "int32", "int")],
    "customer": [("c_custkey", "int32", "int"), ("c_name", "string", "text"),
                 ("c_nationkey", "int32", "int"), ("c_acctbal", "decimal(12,2)", "numeric(12,2)"),
                 ("c_mktsegment", "string", "text")],
    "orders": [("o_orderkey", "int32", "int"), ("o_custkey", "int32", "int"),
               ("o_orderstatus", "string", "text"),
               ("o_totalprice", "decimal(12,2)", "numeric(12,2)"), ("o_orderdate", "date", "date"),
               ("o_orderpriority", "string", "text")],
    "lineitem": [("l_orderkey", "int32", "int"), ("l_linenumber", "int32", "int"),
                 ("l_partkey", "int32", "int"), ("l_quantity", "int64", "bigint"),
                 ("l_extendedprice", "decimal(12,2)", "numeric(12,2)"),
                 ("l_discount", "decimal(4,2)", "numeric(4,2)"), ("l_returnflag", "string", "text"),
                 ("l_shipdate", "date", "date")],
    "part": [("p_partkey", "int32", "int"), ("p_name", "string", "text"),
             ("p_brand", "string", "text"), ("p_size", "int32", "int"),
             ("p_retailprice", "float64", "double precision")],
    "users": [("userid", "int32", "int"), ("username", "string", "text"),
              ("city", "string", "text"), ("state", "string", "text"),
              ("likesports", "bool", "boolean")],
    "category": [("catid", "int32", "int"), ("catgroup", "string", "text"),
                 ("catname", "string", "text")],
    "venue": [("venueid", "int32", "int"), ("venuename", "string", "text"),
              ("venuecity", "string", "text"), ("venueseats", "int32", "int")],
    "event": [("eventid", "int32", "int"), ("venueid", "int32", "int"), ("catid", "int32", "int"),
              ("eventname", "string", "text"), ("starttime", "timestamp", "timestamp")],
    "sales": [("salesid", "int64", "bigint"), ("sellerid", "int32", "int"),
              ("buyerid", "int32", "int"), ("eventid", "int32", "int"),
              ("qtysold", "int32", "int"), ("pricepaid", "decimal(8,2)", "numeric(8,2)"),
              ("commission", "decimal(8,2)", "numeric(8,2)"), ("saletime", "timestamp", "timestamp")],
}

WORDS = ["red", "green", "blue", "steel", "ivory", "lemon", "coral", "plum", "navy", "sand"]
STATES = ["CA", "NY", "TX", "WA", "FL", None]


def maybe(rng, v, p=0.1):
    return None if rng.random() < p else v


def money(rng, lo, hi):
    return decimal.Decimal(rng.randint(lo * 100, hi * 100)) / 100


def make_data(seed=20):
    rng = random.Random(seed)
    d = {}
    d["region"] = [[i, n] for i, n in enumerate(["AFRICA", "AMERICA", "ASIA", "EUROPE",
                                                 "MIDDLE EAST"])]
    d["nation"] = [[i, f"NATION{i:02d}", maybe(rng, i % 5, 0.08)] for i in range(25)]
    d["customer"] = [[i, f"Customer#{i:05d}", maybe(rng, rng.randrange(27), 0.1),
                      maybe(rng, money(rng, -999, 9999)),
                      maybe(rng, rng.choice(["AUTOMOBILE", "BUILDING", "FURNITURE",
                                             "MACHINERY", "HOUSEHOLD"]))]
                     for i in range(1, 301)]
    d["orders"] = [[i, maybe(rng, rng.randint(1, 320), 0.05), rng.choice("OFP"),
                    money(rng, 100, 50000),
                    f"199{rng.randint(2, 8)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    maybe(rng, rng.choice(["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT", "5-LOW"]))]
                   for i in range(1, 1501)]
    d["part"] = [[i, f"{rng.choice(WORDS)} {rng.choice(WORDS)}", f"Brand#{rng.randint(1, 5)}",
                  maybe(rng, rng.randint(1, 50)), round(rng.uniform(900, 2000), 2)]
                 for i in range(1, 201)]
    d["lineitem"] = [[o[0], ln, maybe(rng, rng.randint(1, 210), 0.05),
                      maybe(rng, rng.randint(1, 50)), money(rng, 900, 90000),
                      decimal.Decimal(rng.randint(0, 10)) / 100, rng.choice("ARN"),
                      f"199{rng.randint(2, 8)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"]
                     for o in d["orders"] for ln in range(1, rng.randint(1, 5) + 1)]
    d["users"] = [[i, f"user{i:04d}", maybe(rng, rng.choice(["Austin", "Boise", "Denver",
                                                             "Fresno", "Tampa"])),
                   rng.choice(STATES), maybe(rng, rng.random() < 0.5)] for i in range(1, 401)]
    d["category"] = [[i, rng.choice(["Sports", "Shows", "Concerts"]), f"cat{i}"]
                     for i in range(1, 12)]
    d["venue"] = [[i, f"Venue {i}", maybe(rng, rng.choice(["Austin", "Boise", "Denver"])),
                   maybe(rng, rng.choice([0, 5000, 12000, 40000, 70000]), 0.3)]
                  for i in range(1, 41)]
    d["event"] = [[i, maybe(rng, rng.randint(1, 45), 0.05), rng.randint(1, 11),
                   f"{rng.choice(WORDS).title()} {rng.choice(['Live', 'Tour', 'Cup', 'Show'])}",
                   f"2008-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                   f"{rng.randint(10, 22)}:{rng.choice(['00', '30'])}:00"]
                  for i in range(1, 301)]
    d["sales"] = [[i, rng.randint(1, 400), maybe(rng, rng.randint(1, 420), 0.07),
                   rng.randint(1, 310), rng.randint(1, 8), maybe(rng, money(rng, 20, 2000), 0.05),
                   money(rng, 1, 300),
                   f"2008-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                   f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"]
                  for i in range(1, 3001)]
    return d


def write_data(folder, data):
    for name, rows in data.items():
        with open(folder / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([c[0] for c in TABLES[name]])
            for r in rows:
                w.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v
                            for v in r])


def load_pg(dsn, data):
    import psycopg
    with psycopg.connect(dsn) as con:
        for name, cols in TABLES.items():
            con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, _, t in cols)})")
            with con.cursor() as cur:
                cur.executemany(f"INSERT INTO {name} VALUES ({', '.join(['%s'] * len(cols))})",
                                data[name])


def reads():
    out = []
    for name, cols in TABLES.items():
        schema = ", ".join(f'{c}: "{t}"' for c, t, _ in cols)
        out.append(f'  {name}: {{op: read, format: csv, path: "${{data}}/{name}.csv", '
                   f'schema: {{{schema}}}}}')
    return out


def block(text, indent=6):
    return "\n".join((" " * indent + l) if l.strip() else "" for l in text.rstrip().splitlines())


def corpus(folder):
    files = sorted((CORPUS / folder).glob("*.sql"))
    assert files, f"no queries in tests/sql/{folder}"
    return files


def norm(v):
    if isinstance(v, (float, decimal.Decimal)):
        return float(v)
    return v


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        # averages of decimals are decimal(38,6) here (docs/dag-format.md)
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def key(row):
    return tuple((v is None, str(type(v) is float and round(v, 6) or v)) for v in row)


def compare(name, got, want, ordered):
    got = [tuple(norm(v) for v in r) for r in got]
    want = [tuple(norm(v) for v in r) for r in want]
    assert len(got) == len(want), f"{name}: {len(got)} rows, PostgreSQL {len(want)}"
    if not ordered:
        got, want = sorted(got, key=key), sorted(want, key=key)
    for i, (g, w) in enumerate(zip(got, want)):
        assert len(g) == len(w) and all(same(x, y) for x, y in zip(g, w)), \
            f"{name}: row {i}: millrace {g}, PostgreSQL {w}"


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def pg_db(pg_server):
    with pg.database(pg_server) as dsn:
        yield dsn


def test_sql_corpus_matches_postgres(tmp_path, pg_db):
    files = corpus("diff")
    assert len(files) >= 60
    data = make_data()
    write_data(tmp_path, data)
    lines = ["version: 1", "name: sql_corpus", "params: {data: x}",
             'warehouse: {driver: postgres, dsn: "${env:MILLRACE_WAREHOUSE_DSN}"}', "nodes:"]
    lines += reads()
    for f in files:
        q = "q" + f.stem
        lines += [f"  {q}:", "    op: sql", "    query: |", block(f.read_text()),
                  f"  w_{q}: {{op: write, input: {q}, to: warehouse, table: r_{q}, "
                  "mode: overwrite}"]
    dag = tmp_path / "corpus.yaml"
    dag.write_text("\n".join(lines) + "\n")
    env = {"MILLRACE_WAREHOUSE_DSN": pg_db}
    r = run_cli("validate", dag, "--param", f"data={tmp_path}", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("run", dag, "--param", f"data={tmp_path}", env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    load_pg(pg_db, data)
    nonempty = 0
    for f in files:
        text = f.read_text()
        want = pg.query(pg_db, text)
        got = pg.query(pg_db, f"SELECT * FROM r_q{f.stem}")
        compare(f.name, got, want, text.startswith("-- ordered"))
        nonempty += bool(want)
    assert nonempty >= len(files) - 3, "most queries should return rows"


def golden_dag(query):
    """A DAG with query as its one sql node; every read also feeds a write
    of its own, so the query's errors are the only ones."""
    return "\n".join(["version: 1", "name: bad", "params: {data: x}", "nodes:"] + reads() +
                     ["  q:", "    op: sql", "    query: |", block(query),
                      "  w: {op: write, input: q, to: csv, path: out}"] +
                     [f"  keep_{t}: {{op: write, input: {t}, to: csv, path: {t}_out}}"
                      for t in TABLES]) + "\n"


def golden_run(tmp_path, query):
    write_data(tmp_path, {t: [] for t in TABLES})
    dag = tmp_path / "bad.yaml"
    dag.write_text(golden_dag(query))
    r = run_cli("validate", dag, "--param", f"data={tmp_path}")
    return r, [l.replace(str(dag), "bad.yaml") for l in r.stderr.splitlines()
               if l.startswith(str(dag))]


def test_sql_errors_golden(tmp_path):
    files = corpus("invalid")
    assert len(files) >= 20
    for f in files:
        r, got = golden_run(tmp_path, f.read_text())
        assert r.returncode == 2, f"{f.name}: {r.stdout}{r.stderr}"
        want = f.with_suffix(".err").read_text().splitlines()
        assert got == want, f"{f.name}:\n" + "\n".join(got)


def plan_lines(text):
    """explain's stages with node names left out (a sql node's steps are
    named <id>.<n>, hand-written ones as their author chose)."""
    out = []
    for l in text.splitlines():
        if l.startswith(("job ", "warehouse:", "partitions:")):
            continue
        out.append(re.sub(r"(join|filter|aggregate|project|sort|limit|distinct|union|window"
                          r"|write|shuffle read)( [a-z][a-z0-9_.]*)", r"\1", l))
    return out


PLAN_QUERY = """SELECT e.eventname, sum(s.pricepaid) AS revenue, count(*) AS n
FROM sales s JOIN event e ON s.eventid = e.eventid
WHERE s.qtysold > 1
GROUP BY e.eventname
HAVING count(*) > 1
ORDER BY revenue DESC, e.eventname
LIMIT 10"""

PLAN_NODES = """  j: {op: join, left: sales, right: event, on: [eventid]}
  f: {op: filter, input: j, where: "qtysold > 1"}
  a:
    op: aggregate
    input: f
    group_by: [eventname]
    aggregates: {_a1: sum(pricepaid), _a2: count(*)}
    having: _a2 > 1
  p: {op: select, input: a, columns: {eventname: eventname, revenue: _a1, n: _a2}}
  s: {op: sort, input: p, by: [revenue desc, eventname]}
  top: {op: limit, input: s, n: 10}"""

PLAN_UNION = """WITH paid AS (SELECT buyerid AS userid, pricepaid FROM sales WHERE pricepaid > 100)
SELECT userid FROM paid UNION ALL SELECT userid FROM users"""

PLAN_UNION_NODES = """  paid: {op: filter, input: sales, where: "pricepaid > 100"}
  paid_cols: {op: select, input: paid, columns: {userid: buyerid, pricepaid: pricepaid}}
  a: {op: select, input: paid_cols, columns: {userid: userid}}
  b: {op: select, input: users, columns: {userid: userid}}
  top: {op: union, inputs: [a, b], distinct: false}"""


PLAN_DIRECT = """SELECT eventid, sum(pricepaid) AS revenue, count(*) AS n
FROM sales GROUP BY eventid HAVING count(*) > 2"""

PLAN_DIRECT_NODES = """  top:
    op: aggregate
    input: sales
    group_by: [eventid]
    aggregates: {revenue: sum(pricepaid), n: count(*)}
    having: n > 2"""


@pytest.mark.parametrize("query,nodes", [(PLAN_QUERY, PLAN_NODES),
                                         (PLAN_UNION, PLAN_UNION_NODES),
                                         (PLAN_DIRECT, PLAN_DIRECT_NODES)])
def test_sql_plan_is_the_hand_written_plan(tmp_path, query, nodes):
    write_data(tmp_path, {t: [] for t in TABLES})
    head = ["version: 1", "name: plan", "params: {data: x}", "nodes:"] + reads()
    keep = [f"  keep_{t}: {{op: write, input: {t}, to: csv, path: {t}_out}}" for t in TABLES]
    tail = ["  w: {op: write, input: top, to: csv, path: out}"] + keep
    a, b = tmp_path / "sql.yaml", tmp_path / "nodes.yaml"
    a.write_text("\n".join(head + ["  top:", "    op: sql", "    query: |", block(query)] +
                           tail) + "\n")
    b.write_text("\n".join(head + [nodes] + tail) + "\n")
    ra = run_cli("explain", a, "--param", f"data={tmp_path}")
    rb = run_cli("explain", b, "--param", f"data={tmp_path}")
    assert ra.returncode == 0, ra.stderr
    assert rb.returncode == 0, rb.stderr
    assert plan_lines(ra.stdout) == plan_lines(rb.stdout), ra.stdout + "\n----\n" + rb.stdout


CHAIN = """  d: {op: derive, input: orders, columns: {yr: "date_part('year', o_orderdate)"}}
  s1:
    op: sql
    inputs: [d]
    query: |
      SELECT yr, o_orderstatus, count(*) AS n, sum(o_totalprice) AS total
      FROM d GROUP BY yr, o_orderstatus
  s2:
    op: sql
    query: SELECT yr, sum(n) AS n, max(total) AS top FROM s1 WHERE o_orderstatus <> 'P' GROUP BY yr
  w: {op: window, input: s2, order_by: [yr], columns: {run: sum(n)}}
  s3:
    op: sql
    query: |
      SELECT w.yr, w.n, w.run, w.top, c.nc
      FROM w JOIN (SELECT yr, count(*) AS nc FROM d WHERE o_custkey IS NULL GROUP BY yr) c
        ON w.yr = c.yr
  save: {op: write, input: s3, to: warehouse, table: chain_out, mode: overwrite}"""

CHAIN_PG = """WITH d AS (SELECT *, extract(year FROM o_orderdate) AS yr FROM orders),
     s2 AS (SELECT yr, sum(c) AS n, max(total) AS top FROM
              (SELECT yr, o_orderstatus, count(*) AS c, sum(o_totalprice) AS total
               FROM d GROUP BY yr, o_orderstatus) s1
            WHERE o_orderstatus <> 'P' GROUP BY yr)
SELECT s2.yr, s2.n, sum(s2.n) OVER (ORDER BY s2.yr), s2.top, c.nc
FROM s2 JOIN (SELECT yr, count(*) AS nc FROM d WHERE o_custkey IS NULL GROUP BY yr) c
  ON s2.yr = c.yr"""


def test_sql_nodes_feed_and_are_fed_by_other_nodes(tmp_path, pg_db):
    """A derive feeds a sql node, which feeds another sql node, a window
    node and (with the derive again) a third sql node that a write saves."""
    data = make_data(seed=5)
    write_data(tmp_path, data)
    dag = tmp_path / "chain.yaml"
    dag.write_text("\n".join(["version: 1", "name: chain", "params: {data: x}",
                              'warehouse: {driver: postgres, dsn: "${env:MILLRACE_WAREHOUSE_DSN}"}',
                              "nodes:"] + [l for l in reads() if "orders" in l] + [CHAIN]) + "\n")
    env = {"MILLRACE_WAREHOUSE_DSN": pg_db}
    r = run_cli("explain", dag, "--param", f"data={tmp_path}", env=env)
    assert r.returncode == 0, r.stderr
    assert "window w (order by yr: run)" in r.stdout, r.stdout
    r = run_cli("run", dag, "--param", f"data={tmp_path}", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    load_pg(pg_db, data)
    want = pg.query(pg_db, CHAIN_PG)
    got = pg.query(pg_db, "SELECT * FROM chain_out")
    assert len(want) >= 5
    compare("chain", got, want, False)
