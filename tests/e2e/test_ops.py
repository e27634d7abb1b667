"""Every DAG op end to end: `millrace run` of DAGs over generated CSV files,
each write compared with DuckDB running the same query over the same files.

The data is made here with a seeded random generator: NULLs in every
column, negative and zero amounts, unicode and quote/comma-laden strings,
duplicate and heavily skewed join keys, keys present on one side only, and
an empty file.  Most writes share one DAG (one `millrace run`, so one
cluster start-up) and each test checks one of its tables: as a multiset, or
in order for sorts (the sort keys include a unique column, so the order is
total).  A second small DAG runs the optimised single-stage union of reads
with several executors.
"""
import csv
import decimal
import random
import sqlite3
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from conftest import run_cli

PEOPLE = {"pk": "BIGINT", "id": "BIGINT", "name": "VARCHAR", "score": "DECIMAL(8,2)",
          "grp": "INTEGER"}
ORDERS = {"oid": "BIGINT", "pid": "INTEGER", "amount": "DECIMAL(8,2)", "note": "VARCHAR"}
GROUPS = {"grp": "INTEGER", "gname": "VARCHAR"}
PEOPLE_YAML = "{pk: int64, id: int64, name: string, score: \"decimal(8,2)\", grp: int32}"
ORDERS_YAML = "{oid: int64, pid: int32, amount: \"decimal(8,2)\", note: string}"
GROUPS_YAML = "{grp: int32, gname: string}"
WORDS = ["alpha", "Ωmega", "naïve", "日本語", "a,b", 'say "hi"', "zeta", "Émile", "🙂 smile",
         "b", "B", "tab\there"]


def maybe(rng, v, p=0.12):
    return None if rng.random() < p else v


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


def make_data(d, seed=4):
    rng = random.Random(seed)

    def person(pk):
        # skewed: a third of the rows share id 1
        pid = 1 if rng.random() < 0.33 else rng.randint(-20, 60)
        score = decimal.Decimal(rng.randint(-50000, 50000)) / 100
        return [pk, maybe(rng, pid), maybe(rng, rng.choice(WORDS)), maybe(rng, score),
                maybe(rng, rng.randint(0, 6))]

    write_csv(d / "people.csv", list(PEOPLE), [person(pk) for pk in range(400)])
    write_csv(d / "people2.csv", ["grp", "score", "name", "id", "pk"],
              [list(reversed(person(pk))) for pk in range(1000, 1250)])
    write_csv(d / "empty.csv", list(PEOPLE), [])
    orders = []
    for oid in range(600):
        pid = 1 if rng.random() < 0.25 else rng.randint(-10, 90)
        amt = decimal.Decimal(rng.randint(-2000, 90000)) / 100
        orders.append([oid, maybe(rng, pid), maybe(rng, amt), maybe(rng, rng.choice(WORDS))])
    write_csv(d / "orders.csv", list(ORDERS), orders)
    write_csv(d / "groups.csv", list(GROUPS),
              [[g, f"group {g}"] for g in (0, 2, 3, 3, 5, 9)] + [[None, "nobody"]])


READS = f"""
  people: {{op: read, format: csv, path: "${{data}}/people.csv", schema: {PEOPLE_YAML}}}
  people2: {{op: read, format: csv, path: "${{data}}/people2.csv",
            schema: {{grp: int32, score: "decimal(8,2)", name: string, id: int64, pk: int64}}}}
  orders: {{op: read, format: csv, path: "${{data}}/orders.csv", schema: {ORDERS_YAML}}}
  groups: {{op: read, format: csv, path: "${{data}}/groups.csv", schema: {GROUPS_YAML}}}
  nobody: {{op: read, format: csv, path: "${{data}}/empty.csv", schema: {PEOPLE_YAML}}}
"""

# node id: (extra YAML nodes ending in a write to table <id>, DuckDB query, ordered)
CASES = {}


def case(name, nodes, sql, ordered=False):
    CASES[name] = (nodes, sql, ordered)


for how in ["inner", "left", "right", "full"]:
    case(f"join_{how}",
         f"  j_{how}: {{op: join, left: people, right: orders, on: [{{left: id, right: pid}}], how: {how}}}\n"
         f"  w_join_{how}: {{op: write, input: j_{how}, to: warehouse, table: join_{how}}}\n",
         f"SELECT p.*, o.* FROM people p {how.upper()} JOIN orders o ON p.id = o.pid")
case("join_semi",
     "  j_semi: {op: join, left: people, right: orders, on: [{left: id, right: pid}], how: semi}\n"
     "  w_join_semi: {op: write, input: j_semi, to: warehouse, table: join_semi}\n",
     "SELECT * FROM people p WHERE EXISTS (SELECT 1 FROM orders o WHERE o.pid = p.id)")
case("join_anti",
     "  j_anti: {op: join, left: people, right: orders, on: [{left: id, right: pid}], how: anti}\n"
     "  w_join_anti: {op: write, input: j_anti, to: warehouse, table: join_anti}\n",
     "SELECT * FROM people p WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.pid = p.id)")
# USING key (same name on both sides, int32): it appears once, coalesced in a full join
case("join_using_full",
     "  j_using: {op: join, left: people, right: groups, on: [grp], how: full}\n"
     "  w_join_using_full: {op: write, input: j_using, to: warehouse, table: join_using_full}\n",
     "SELECT p.pk, p.id, p.name, p.score, COALESCE(p.grp, g.grp) AS grp, g.gname "
     "FROM people p FULL JOIN groups g ON p.grp = g.grp")
# a self join of a shared node, with right_prefix; an empty right side
case("join_prefix",
     "  j_prefix: {op: join, left: people2, right: people2, on: [pk], right_prefix: r_}\n"
     "  w_join_prefix: {op: write, input: j_prefix, to: warehouse, table: join_prefix}\n",
     "SELECT a.grp, a.score, a.name, a.id, a.pk, b.grp AS r_grp, b.score AS r_score, "
     "b.name AS r_name, b.id AS r_id FROM people2 a JOIN people2 b ON a.pk = b.pk")
case("join_empty",
     "  j_empty: {op: join, left: orders, right: nobody, on: [{left: pid, right: id}], how: left}\n"
     "  w_join_empty: {op: write, input: j_empty, to: warehouse, table: join_empty}\n",
     "SELECT o.*, n.* FROM orders o LEFT JOIN nobody n ON o.pid = n.id")
case("union_reads",
     "  u_reads: {op: union, inputs: [people, people2, nobody]}\n"
     "  w_union_reads: {op: write, input: u_reads, to: warehouse, table: union_reads}\n",
     "SELECT * FROM people UNION ALL BY NAME SELECT * FROM people2")
case("union_aggs",
     "  a1: {op: aggregate, input: people, group_by: [grp], aggregates: {n: count(*)}}\n"
     "  a2: {op: aggregate, input: orders, aggregates: {n: count(*)}}\n"
     "  a2g: {op: derive, input: a2, columns: {grp: CAST(-1 AS int32)}}\n"
     "  u_aggs: {op: union, inputs: [a1, a2g]}\n"
     "  w_union_aggs: {op: write, input: u_aggs, to: warehouse, table: union_aggs}\n",
     "SELECT grp, count(*) AS n FROM people GROUP BY grp "
     "UNION ALL SELECT -1, count(*) FROM orders")
case("union_mixed",
     "  a3: {op: aggregate, input: people, group_by: [id], aggregates: {grp: max(grp)}}\n"
     "  g3: {op: select, input: groups, columns: {id: CAST(grp AS int64), grp: grp}}\n"
     "  u_mixed: {op: union, inputs: [g3, a3]}\n"
     "  w_union_mixed: {op: write, input: u_mixed, to: warehouse, table: union_mixed}\n",
     "SELECT CAST(grp AS BIGINT) AS id, grp FROM groups "
     "UNION ALL SELECT id, max(grp) FROM people GROUP BY id")
case("union_distinct",
     "  s1: {op: select, input: people, columns: {grp: grp, name: name}}\n"
     "  s2: {op: select, input: people2, columns: {name: name, grp: grp}}\n"
     "  u_dist: {op: union, inputs: [s1, s2], distinct: true}\n"
     "  w_union_distinct: {op: write, input: u_dist, to: warehouse, table: union_distinct}\n",
     "SELECT grp, name FROM people UNION SELECT grp, name FROM people2")
case("distinct_cols",
     "  d_cols: {op: distinct, input: people, columns: [name, grp]}\n"
     "  w_distinct_cols: {op: write, input: d_cols, to: warehouse, table: distinct_cols}\n",
     "SELECT DISTINCT name, grp FROM people")
case("distinct_all",
     "  d_sel: {op: select, input: orders, columns: {pid: pid, pos: amount > 0}}\n"
     "  d_all: {op: distinct, input: d_sel}\n"
     "  w_distinct_all: {op: write, input: d_all, to: warehouse, table: distinct_all}\n",
     "SELECT DISTINCT pid, amount > 0 AS pos FROM orders")
case("sort_desc",
     "  sorted_d: {op: sort, input: people, by: [score desc nulls last, pk]}\n"
     "  w_sort_desc: {op: write, input: sorted_d, to: warehouse, table: sort_desc}\n",
     "SELECT * FROM people ORDER BY score DESC NULLS LAST, pk", ordered=True)
case("sort_asc",
     "  sorted_a: {op: sort, input: people, by: [name nulls first, grp desc, pk asc]}\n"
     "  w_sort_asc: {op: write, input: sorted_a, to: warehouse, table: sort_asc}\n",
     # DuckDB puts NULLs last by default; PostgreSQL (and millrace) first for desc
     "SELECT * FROM people ORDER BY name NULLS FIRST, grp DESC NULLS FIRST, pk ASC", ordered=True)
case("sort_agg",
     "  per_grp: {op: aggregate, input: orders, group_by: [pid], aggregates: {total: sum(amount)}}\n"
     "  sorted_g: {op: sort, input: per_grp, by: [total desc, pid nulls first]}\n"
     "  w_sort_agg: {op: write, input: sorted_g, to: warehouse, table: sort_agg}\n",
     "SELECT pid, sum(amount) AS total FROM orders GROUP BY pid "
     "ORDER BY total DESC NULLS FIRST, pid NULLS FIRST", ordered=True)
case("top_n",
     "  by_amount: {op: sort, input: orders, by: [amount desc nulls last, oid]}\n"
     "  top5: {op: limit, input: by_amount, n: 5}\n"
     "  w_top_n: {op: write, input: top5, to: warehouse, table: top_n}\n",
     "SELECT * FROM orders ORDER BY amount DESC NULLS LAST, oid LIMIT 5", ordered=True)
case("top_n_filtered",
     "  by_pk: {op: sort, input: people, by: [pk desc]}\n"
     "  top7: {op: limit, input: by_pk, n: 7}\n"
     "  neg7: {op: filter, input: top7, where: score < 0 OR score IS NULL}\n"
     "  w_top_n_filtered: {op: write, input: neg7, to: warehouse, table: top_n_filtered}\n",
     "SELECT * FROM (SELECT * FROM people ORDER BY pk DESC LIMIT 7) "
     "WHERE score < 0 OR score IS NULL ORDER BY pk DESC", ordered=True)
case("fanout",
     "  paid: {op: filter, input: orders, where: amount > 0 AND pid IS NOT NULL}\n"
     "  by_pid: {op: aggregate, input: paid, group_by: [pid], aggregates: {n: count(*), s: sum(amount)}}\n"
     "  by_note: {op: aggregate, input: paid, group_by: [note], aggregates: {m: max(amount)}}\n"
     "  w_fanout: {op: write, input: by_pid, to: warehouse, table: fanout}\n"
     "  w_fanout2: {op: write, input: by_note, to: warehouse, table: fanout2}\n",
     "SELECT pid, count(*) AS n, sum(amount) AS s FROM orders "
     "WHERE amount > 0 AND pid IS NOT NULL GROUP BY pid")
case("fanout2", "",
     "SELECT note, max(amount) AS m FROM orders WHERE amount > 0 AND pid IS NOT NULL GROUP BY note")
case("exprs",
     "  sel: {op: select, input: people, columns: {pk: pk, label: \"coalesce(trim(name), '?') || '#' || CAST(grp AS string)\",\n"
     "        half: score / 2, neg: \"CASE WHEN score < 0 THEN true ELSE false END\"}}\n"
     "  der: {op: derive, input: sel, columns: {pk: pk * 10, big: abs(half) > 100}}\n"
     "  drp: {op: drop, input: der, columns: [half]}\n"
     "  w_exprs: {op: write, input: drp, to: warehouse, table: exprs}\n",
     "SELECT pk * 10 AS pk, coalesce(trim(name), '?') || '#' || CAST(grp AS VARCHAR) AS label, "
     "CASE WHEN score < 0 THEN true ELSE false END AS neg, abs(score / 2) > 100 AS big "
     "FROM people")


def duck_csv(path, cols):
    """A DuckDB read_csv call for one of the generated files."""
    spec = ", ".join(f"'{k}': '{v}'" for k, v in cols.items())
    return (f"read_csv('{path}', header=true, delim=',', quote='\"', escape='\"', "
            f"nullstr='', columns={{{spec}}})")


def norm(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, decimal.Decimal)):
        f = float(v)
        return int(f) if f == int(f) and abs(f) < 2**53 else round(f, 4)
    return v


def norm_rows(rows):
    return [tuple(norm(v) for v in r) for r in rows]


@pytest.fixture(scope="module")
def ops_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ops")
    make_data(d)
    nodes = READS + "".join(c[0] for c in CASES.values())
    dag = d / "ops.yaml"
    dag.write_text("version: 1\nname: ops\nparams: {data: x, warehouse: x}\n"
                   "warehouse: {driver: sqlite, path: \"${warehouse}\"}\nnodes:\n" + nodes)
    db = d / "wh.db"
    r = run_cli("run", dag, "--executors", 2, "--param", f"data={d}", "--param",
                f"warehouse={db}", timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    con = duckdb.connect()
    people2 = {"grp": "INTEGER", "score": "DECIMAL(8,2)", "name": "VARCHAR", "id": "BIGINT",
               "pk": "BIGINT"}
    for name, file, cols in [("people", "people", PEOPLE), ("people2", "people2", people2),
                             ("orders", "orders", ORDERS), ("groups", "groups", GROUPS),
                             ("nobody", "empty", PEOPLE)]:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {duck_csv(d / (file + '.csv'), cols)}")
    yield d, db, con, r.stdout
    con.close()


def table(db, name):
    con = sqlite3.connect(db)
    cur = con.execute(f'SELECT * FROM "{name}"')
    cols = [c[0] for c in cur.description]
    rows = cur.fetchall()
    con.close()
    return cols, rows


@pytest.mark.parametrize("name", list(CASES))
def test_op_matches_duckdb(ops_run, name):
    d, db, con, _ = ops_run
    _, sql, ordered = CASES[name]
    cur = con.execute(sql)
    want_cols = [c[0] for c in cur.description]
    want = norm_rows(cur.fetchall())
    cols, got = table(db, name)
    got = norm_rows(got)
    assert cols == want_cols
    if ordered:
        assert got == want
    else:
        assert Counter(got) == Counter(want), (
            f"only in millrace: {list((Counter(got) - Counter(want)).items())[:5]}; "
            f"only in duckdb: {list((Counter(want) - Counter(got)).items())[:5]}")


def test_data_has_the_hard_cases(ops_run):
    """The generated data really holds what the suite claims to cover."""
    d, db, con, _ = ops_run
    nulls, ones, negs = con.execute(
        "SELECT count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE id = 1), "
        "count(*) FILTER (WHERE score < 0) FROM people").fetchone()
    assert nulls > 10 and ones > 80 and negs > 50
    assert con.execute("SELECT count(*) FROM nobody").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM people WHERE name = '日本語'").fetchone()[0] > 0
    assert len(table(db, "join_anti")[1]) > 10  # ids present on the left only
    assert len(table(db, "join_right")[1]) > len(table(db, "join_inner")[1])


def test_limit_without_sort(tmp_path):
    """A limit alone keeps some n rows of its input (any n: no order)."""
    make_data(tmp_path)
    dag = tmp_path / "lim.yaml"
    dag.write_text(
        "version: 1\nname: lim\nparams: {data: x}\n"
        "warehouse: {driver: sqlite, path: wh.db}\nnodes:\n"
        f"  orders: {{op: read, format: csv, path: \"${{data}}/orders.csv\", schema: {ORDERS_YAML}}}\n"
        "  pos: {op: filter, input: orders, where: amount > 0}\n"
        "  l7: {op: limit, input: pos, n: 7}\n"
        "  w1: {op: write, input: l7, to: warehouse, table: l7}\n"
        "  l0: {op: limit, input: orders, n: 0}\n"
        "  w2: {op: write, input: l0, to: warehouse, table: l0}\n"
        "  u: {op: union, inputs: [orders, orders]}\n"
        "  lbig: {op: limit, input: u, n: 100000}\n"
        "  w3: {op: write, input: lbig, to: warehouse, table: lbig}\n")
    r = run_cli("run", dag, "--executors", 2, "--param", f"data={tmp_path}")
    assert r.returncode == 0, r.stdout + r.stderr
    db = tmp_path / "wh.db"
    con = duckdb.connect()
    src = con.execute(f"SELECT * FROM {duck_csv(tmp_path / 'orders.csv', ORDERS)}").fetchall()
    src = Counter(norm_rows(src))
    got = Counter(norm_rows(table(db, "l7")[1]))
    assert sum(got.values()) == 7
    assert all(src[r] >= n for r, n in got.items())
    assert all(r[2] is not None and r[2] > 0 for r in got)
    assert table(db, "l0")[1] == []
    doubled = Counter({r: 2 * n for r, n in src.items()})
    assert Counter(norm_rows(table(db, "lbig")[1])) == doubled


def test_schema_inferred_union(tmp_path):
    """Reads without a schema (inferred at compile time from the first file)
    unioned in one scan stage, with 3 executors and several files."""
    make_data(tmp_path)
    (tmp_path / "parts").mkdir()
    rng = random.Random(9)
    for i in range(3):
        write_csv(tmp_path / "parts" / f"p{i}.csv", ["k", "v"],
                  [[rng.randint(-5, 5), rng.choice(WORDS)] for _ in range(50)])
    dag = tmp_path / "inf.yaml"
    dag.write_text(
        "version: 1\nname: inf\nwarehouse: {driver: sqlite, path: wh.db}\nnodes:\n"
        "  a: {op: read, format: csv, path: parts}\n"
        "  b: {op: read, format: csv, path: \"parts/p*.csv\"}\n"
        "  fa: {op: filter, input: a, where: k >= 0}\n"
        "  u: {op: union, inputs: [fa, b]}\n"
        "  w: {op: write, input: u, to: warehouse, table: u}\n")
    x = run_cli("explain", dag, cwd=tmp_path)
    assert x.returncode == 0, x.stderr
    # the filter runs inside a's scan (filter pushdown, dag/pushdown.c)
    assert "union u <- [read a (csv) where (k >= 0) (pushed down), read b (csv)]" in x.stdout, x.stdout
    r = run_cli("run", dag, "--executors", 3, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    con = duckdb.connect()
    want = con.execute(
        f"SELECT * FROM read_csv('{tmp_path}/parts/*.csv', header=true) WHERE k >= 0 "
        f"UNION ALL SELECT * FROM read_csv('{tmp_path}/parts/*.csv', header=true)").fetchall()
    assert Counter(norm_rows(table(tmp_path / "wh.db", "u")[1])) == Counter(norm_rows(want))


def test_tickit_top_events_example(tickit_data, tmp_path):
    """dags/tickit_top_events.yaml (aggregate, join, sort + limit) matches
    DuckDB, in order."""
    from conftest import ROOT
    db = tmp_path / "wh.db"
    r = run_cli("run", ROOT / "dags" / "tickit_top_events.yaml", "--executors", 2,
                "--param", f"data={tickit_data}", "--param", f"warehouse={db}")
    assert r.returncode == 0, r.stdout + r.stderr
    con = duckdb.connect()
    sales = ("read_csv('{}', delim='|', header=false, columns={{'salesid': 'INTEGER', "
             "'listid': 'INTEGER', 'sellerid': 'INTEGER', 'buyerid': 'INTEGER', "
             "'eventid': 'INTEGER', 'dateid': 'INTEGER', 'qtysold': 'INTEGER', "
             "'pricepaid': 'DECIMAL(8,2)', 'commission': 'DECIMAL(8,2)', "
             "'saletime': 'TIMESTAMP'}})").format(tickit_data / "sales_pipe.txt")
    events = ("read_csv('{}', delim='|', header=false, quote='', columns={{'eventid': 'INTEGER', "
              "'venueid': 'INTEGER', 'catid': 'INTEGER', 'dateid': 'INTEGER', "
              "'eventname': 'VARCHAR', 'starttime': 'TIMESTAMP'}})"
              ).format(tickit_data / "allevents_pipe.txt")
    want = con.execute(
        f"SELECT s.eventid, e.eventname, s.revenue, s.tickets FROM "
        f"(SELECT eventid, sum(pricepaid) AS revenue, sum(qtysold) AS tickets FROM {sales} "
        f"GROUP BY eventid) s JOIN {events} e USING (eventid) "
        f"ORDER BY revenue DESC NULLS FIRST, eventid LIMIT 10").fetchall()
    assert len(want) == 10
    assert norm_rows(table(db, "top_events")[1]) == norm_rows(want)
