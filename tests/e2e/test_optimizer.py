"""The optimizer (dag/optimize.c, dag/pushdown.c): column pruning and filter
pushdown change plans, never results.

One DAG holds a write per case; it runs twice, with the optimizer and with
MILLRACE_NO_OPTIMIZE=1, and every table must be the same multiset both
times and match DuckDB running the same SQL over the same files.  The
data has NULLs in every column (keys included), keys on one side only,
duplicate keys, a headerless CSV (pruned by field position) and a JSON
Lines file.  `explain` is checked for the pruned columns and for where
each condition went (and did not go: never into the NULL-extended side of
an outer join, never below a node another node also reads).
"""
import csv
import decimal
import json
import os
import random
import sqlite3
from collections import Counter

import duckdb
import pytest

from conftest import run_cli

PEOPLE = {"pk": "BIGINT", "id": "BIGINT", "name": "VARCHAR", "score": "DECIMAL(8,2)",
          "grp": "INTEGER", "note": "VARCHAR"}
ORDERS = {"oid": "BIGINT", "pid": "BIGINT", "amount": "DECIMAL(8,2)", "day": "DATE",
          "memo": "VARCHAR"}
WORDS = ["alpha", "Ωmega", "naïve", "a,b", 'say "hi"', "zeta", "b", "B"]

# Each case reads the files through reads of its own (%P, %O, %E), so
# that what it needs decides what they decode and which filters reach them.
READS = {
    "%P": '{op: read, format: csv, path: "${data}/people.csv", schema: {pk: int64, id: int64, '
          'name: string, score: "decimal(8,2)", grp: int32, note: string}}',
    "%O": '{op: read, format: csv, path: "${data}/orders.csv", csv: {header: false, '
          'delimiter: "|"}, schema: {oid: int64, pid: int64, amount: "decimal(8,2)", day: date, '
          'memo: string}}',
    "%E": '{op: read, format: jsonl, path: "${data}/events.jsonl", schema: {eid: int64, '
          'pid: int64, kind: string, payload: string}}',
}
NAMES = {"%P": "people", "%O": "orders", "%E": "events"}

CASES = {}


def case(name, nodes, sql):
    for ph, body in READS.items():
        if ph in nodes:
            nodes = f"  @_{NAMES[ph]}: {body}\n" + nodes.replace(ph, f"@_{NAMES[ph]}")
    CASES[name] = (nodes.replace("@", name), sql)


# joins of every kind, a filter on the left, on the right, and over both
for how in ("inner", "left", "right", "full", "semi", "anti"):
    right_cols = how not in ("semi", "anti")
    case(f"j_{how}",
         f"  @_j: {{op: join, left: %P, right: %O, how: {how}, "
         f"on: [{{left: id, right: pid}}], right_prefix: o_}}\n"
         f"  @_f: {{op: filter, input: @_j, where: \"grp >= 2 AND score > -100"
         + (" AND o_amount > 10 AND (o_memo IS NULL OR o_memo <> 'zeta')" if right_cols else "")
         + "\"}\n"
         f"  @_s: {{op: select, input: @_f, columns: {{pk: pk, name: name"
         + (", oid: o_oid, amount: o_amount" if right_cols else "") + "}}\n"
         "  @: {op: write, input: @_s, to: warehouse, table: @}\n",
         f"SELECT p.pk, p.name" + (", o.oid, o.amount" if right_cols else "")
         + f" FROM people p " + {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN",
                                   "full": "FULL JOIN", "semi": "SEMI JOIN",
                                   "anti": "ANTI JOIN"}[how]
         + " orders o ON p.id = o.pid WHERE p.grp >= 2 AND p.score > -100"
         + (" AND o.amount > 10 AND (o.memo IS NULL OR o.memo <> 'zeta')" if right_cols else ""))

# NULL handling: a test for the NULL-extended side stays above the join
case("outer_nulls",
     "  @_j: {op: join, left: %P, right: %O, how: left, on: [{left: id, right: pid}],\n"
     "        right_prefix: o_}\n"
     "  @_f: {op: filter, input: @_j, where: \"o_oid IS NULL AND pk < 300\"}\n"
     "  @: {op: write, input: @_f, to: warehouse, table: @}\n",
     "SELECT p.*, o.oid AS o_oid, o.pid AS o_pid, o.amount AS o_amount, o.day AS o_day, "
     "o.memo AS o_memo FROM people p LEFT JOIN orders o ON p.id = o.pid "
     "WHERE o.oid IS NULL AND p.pk < 300")
case("full_coalesce",
     "  @_j: {op: join, left: %P, right: %O, how: full, on: [{left: id, right: pid}],\n"
     "        right_prefix: o_}\n"
     "  @_f: {op: filter, input: @_j, where: \"coalesce(o_amount, 0) >= 0 AND coalesce(grp, 1) = 1\"}\n"
     "  @_s: {op: select, input: @_f, columns: {pk: pk, oid: o_oid}}\n"
     "  @: {op: write, input: @_s, to: warehouse, table: @}\n",
     "SELECT p.pk, o.oid FROM people p FULL JOIN orders o ON p.id = o.pid "
     "WHERE coalesce(o.amount, 0) >= 0 AND coalesce(p.grp, 1) = 1")
# filters over projects with renames (a computed column stops the push)
case("renames",
     "  @_p: {op: select, input: %P, columns: {key: pk, who: name, twice: score * 2, g: grp}}\n"
     "  @_d: {op: derive, input: @_p, columns: {label: \"coalesce(who, '?')\"}}\n"
     "  @_f: {op: filter, input: @_d, where: \"key % 3 = 0 AND who IS NOT NULL AND twice > 0 "
     "AND g BETWEEN 1 AND 4 AND CASE WHEN g = 2 AND key > 10 THEN true ELSE key > 5 END\"}\n"
     "  @: {op: write, input: @_f, to: warehouse, table: @}\n",
     "SELECT pk AS key, name AS who, score * 2 AS twice, grp AS g, coalesce(name, '?') AS label "
     "FROM people WHERE pk % 3 = 0 AND name IS NOT NULL AND score * 2 > 0 AND grp BETWEEN 1 AND 4 "
     "AND CASE WHEN grp = 2 AND pk > 10 THEN true ELSE pk > 5 END")
case("swap",
     "  @_p: {op: select, input: %P, columns: {pk: id, id: pk}}\n"
     "  @_f: {op: filter, input: @_p, where: \"id < 50 AND pk IS NOT NULL\"}\n"
     "  @: {op: write, input: @_f, to: warehouse, table: @}\n",
     "SELECT id AS pk, pk AS id FROM people WHERE pk < 50 AND id IS NOT NULL")
# quoted names with spaces and quotes, AND inside a string, an OR that
# must not split, a function call named like no column
case("quoting",
     "  @_p: {op: select, input: %P, columns: {\"my name\": name, \"say \\\"x\\\"\": pk, g: grp}}\n"
     "  @_f: {op: filter, input: @_p, where: "
     "\"\\\"my name\\\" <> 'x AND y' AND (g = 1 OR \\\"say \\\"\\\"x\\\"\\\"\\\" < 100) "
     "AND length(coalesce(\\\"my name\\\", '')) > 1\"}\n"
     "  @: {op: write, input: @_f, to: warehouse, table: @}\n",
     "SELECT name AS \"my name\", pk AS \"say \"\"x\"\"\", grp AS g FROM people "
     "WHERE name <> 'x AND y' AND (grp = 1 OR pk < 100) AND length(coalesce(name, '')) > 1")
# unions: the filter goes into every input
case("union",
     "  @_a: {op: select, input: %P, columns: {k: pk, v: score}}\n"
     "  @_b: {op: select, input: %O, columns: {k: oid, v: amount}}\n"
     "  @_u: {op: union, inputs: [@_a, @_b]}\n"
     "  @_f: {op: filter, input: @_u, where: \"v > 0 AND k % 2 = 1\"}\n"
     "  @: {op: write, input: @_f, to: warehouse, table: @}\n",
     "SELECT * FROM (SELECT pk AS k, score AS v FROM people UNION ALL "
     "SELECT oid, amount FROM orders) WHERE v > 0 AND k % 2 = 1")
# a node read by several: its readers' filters stay theirs, its write keeps all
case("shared",
     "  @_s: {op: filter, input: %O, where: \"amount IS NOT NULL\"}\n"
     "  @_f1: {op: filter, input: @_s, where: \"amount > 500\"}\n"
     "  @_f2: {op: filter, input: @_s, where: \"amount < 10\"}\n"
     "  @_a1: {op: aggregate, input: @_f1, aggregates: {n: count(*), s: sum(amount)}}\n"
     "  @_a2: {op: aggregate, input: @_f2, group_by: [pid], aggregates: {n: count(*)}}\n"
     "  @_j: {op: join, left: @_a2, right: @_s, on: [pid], right_prefix: r_}\n"
     "  @: {op: write, input: @_s, to: warehouse, table: @}\n"
     "  @_w1: {op: write, input: @_a1, to: warehouse, table: @_big}\n"
     "  @_w2: {op: write, input: @_j, to: warehouse, table: @_small}\n",
     "SELECT * FROM orders WHERE amount IS NOT NULL")
case("shared_big", "",
     "SELECT count(*) AS n, sum(amount) AS s FROM orders WHERE amount IS NOT NULL AND amount > 500")
case("shared_small", "",
     "SELECT a.pid, a.n, o.oid AS r_oid, o.amount AS r_amount, o.day AS r_day, "
     "o.memo AS r_memo FROM (SELECT pid, count(*) AS n FROM orders WHERE amount < 10 "
     "GROUP BY pid) a JOIN orders o ON a.pid = o.pid WHERE o.amount IS NOT NULL")
# aggregates: a filter on a group column goes below, one on an aggregate not
case("agg",
     "  @_a: {op: aggregate, input: %E, group_by: [pid, kind], aggregates: {n: count(*)}}\n"
     "  @_f: {op: filter, input: @_a, where: \"kind <> 'click' AND n > 1\"}\n"
     "  @: {op: write, input: @_f, to: warehouse, table: @}\n",
     "SELECT pid, kind, count(*) AS n FROM events GROUP BY pid, kind "
     "HAVING kind <> 'click' AND count(*) > 1")
# rows alone: a count over a read decodes one column
case("count_only",
     "  @_a: {op: aggregate, input: %O, aggregates: {n: count(*)}}\n"
     "  @: {op: write, input: @_a, to: warehouse, table: @}\n",
     "SELECT count(*) AS n FROM orders")
# JSON Lines and a headerless CSV, pruned and filtered, joined
case("jsonl_join",
     "  @_j: {op: join, left: %E, right: %O, on: [{left: pid, right: pid}], right_prefix: o_}\n"
     "  @_f: {op: filter, input: @_j, where: \"kind = 'view' AND o_day >= DATE '2024-03-01'\"}\n"
     "  @_a: {op: aggregate, input: @_f, group_by: [o_memo], aggregates: {n: count(*), m: max(eid)}}\n"
     "  @: {op: write, input: @_a, to: warehouse, table: @}\n",
     "SELECT o.memo AS o_memo, count(*) AS n, max(e.eid) AS m FROM events e JOIN orders o "
     "ON e.pid = o.pid WHERE e.kind = 'view' AND o.day >= DATE '2024-03-01' GROUP BY o.memo")
# a sort under the filter; a limit stops the push
case("sorted",
     "  @_s: {op: sort, input: %P, by: [pk desc]}\n"
     "  @_l: {op: limit, input: @_s, n: 40}\n"
     "  @_f: {op: filter, input: @_l, where: \"grp = 1\"}\n"
     "  @: {op: write, input: @_f, to: warehouse, table: @}\n",
     "SELECT * FROM (SELECT * FROM people ORDER BY pk DESC LIMIT 40) WHERE grp = 1")


def maybe(rng, v, p=0.1):
    return None if rng.random() < p else v


def make_data(d, seed=17):
    rng = random.Random(seed)
    with open(d / "people.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(list(PEOPLE))
        for pk in range(500):
            w.writerow(["" if v is None else v for v in (
                pk, maybe(rng, rng.randint(-5, 80)), maybe(rng, rng.choice(WORDS)),
                maybe(rng, decimal.Decimal(rng.randint(-50000, 50000)) / 100),
                maybe(rng, rng.randint(0, 5)), maybe(rng, rng.choice(WORDS)))])
    with open(d / "orders.csv", "w", encoding="utf-8") as f:
        for oid in range(700):
            row = (oid, maybe(rng, rng.randint(0, 100)),
                   maybe(rng, decimal.Decimal(rng.randint(-1000, 90000)) / 100),
                   maybe(rng, f"2024-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"),
                   maybe(rng, rng.choice(["zeta", "alpha", "b"])))
            f.write("|".join("" if v is None else str(v) for v in row) + "\n")
    with open(d / "events.jsonl", "w", encoding="utf-8") as f:
        for eid in range(900):
            ev = {"eid": eid, "pid": maybe(rng, rng.randint(0, 100)),
                  "kind": maybe(rng, rng.choice(["view", "click", "buy"])),
                  "payload": "x" * rng.randint(0, 30), "extra": {"nested": [1, 2]}}
            f.write(json.dumps(ev) + "\n")


def duck(d):
    con = duckdb.connect()
    spec = ", ".join(f"'{k}': '{v}'" for k, v in PEOPLE.items())
    con.execute(f"CREATE TABLE people AS SELECT * FROM read_csv('{d}/people.csv', header=true, "
                f"quote='\"', escape='\"', nullstr='', columns={{{spec}}})")
    spec = ", ".join(f"'{k}': '{v}'" for k, v in ORDERS.items())
    con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{d}/orders.csv', header=false, "
                f"delim='|', nullstr='', columns={{{spec}}})")
    con.execute(f"CREATE TABLE events AS SELECT eid, pid, kind, payload FROM read_json("
                f"'{d}/events.jsonl', format='newline_delimited', columns={{'eid': 'BIGINT', "
                f"'pid': 'BIGINT', 'kind': 'VARCHAR', 'payload': 'VARCHAR', 'extra': 'JSON'}})")
    return con


def norm(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, decimal.Decimal)):
        f = float(v)
        return int(f) if f == int(f) and abs(f) < 2**53 else round(f, 4)
    return str(v)


def rows(db, name):
    con = sqlite3.connect(db)
    cur = con.execute(f'SELECT * FROM "{name}"')
    cols = [c[0] for c in cur.description]
    got = [tuple(norm(v) for v in r) for r in cur.fetchall()]
    con.close()
    return cols, Counter(got)


@pytest.fixture(scope="module")
def opt_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("opt")
    make_data(d)
    dag = d / "opt.yaml"
    dag.write_text("version: 1\nname: opt\nparams: {data: x, warehouse: x}\n"
                   "warehouse: {driver: sqlite, path: \"${warehouse}\"}\nnodes:\n"
                   + "".join(c[0] for c in CASES.values()))
    out = {}
    for mode in ("on", "off"):
        env = dict(os.environ)
        env.pop("MILLRACE_NO_OPTIMIZE", None)
        if mode == "off":
            env["MILLRACE_NO_OPTIMIZE"] = "1"
        else:
            # the explain checks below place filters by stage, which needs
            # shuffled joins; the unoptimized run broadcasts the small sides
            # (test_broadcast.py covers broadcast joins themselves)
            env["MILLRACE_BROADCAST_THRESHOLD"] = "0"
        db = d / f"wh_{mode}.db"
        r = run_cli("run", dag, "--executors", 2, "--param", f"data={d}", "--param",
                    f"warehouse={db}", timeout=240, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        x = run_cli("explain", dag, "--param", f"data={d}", "--param", f"warehouse={db}",
                    env=env)
        assert x.returncode == 0, x.stderr
        out[mode] = (db, x.stdout)
    con = duck(d)
    yield d, dag, out, con
    con.close()


@pytest.mark.parametrize("name", list(CASES))
def test_same_results_with_and_without_optimizer(opt_run, name):
    d, dag, out, con = opt_run
    cols_on, on = rows(out["on"][0], name)
    cols_off, off = rows(out["off"][0], name)
    assert cols_on == cols_off
    assert on == off
    cur = con.execute(CASES[name][1])
    want_cols = [c[0] for c in cur.description]
    want = Counter(tuple(norm(v) for v in r) for r in cur.fetchall())
    assert cols_on == want_cols
    assert on == want, (f"only in millrace: {list((on - want).items())[:5]}; "
                        f"only in duckdb: {list((want - on).items())[:5]}")


def test_cases_are_not_trivial(opt_run):
    d, dag, out, con = opt_run
    for name in CASES:
        if name not in ("count_only", "shared_big"):
            assert sum(rows(out["on"][0], name)[1].values()) > 2, name
    # the outer join's NULL test keeps rows that only the NULL side makes
    assert sum(rows(out["on"][0], "outer_nulls")[1].values()) > 20


def stage_lines(text):
    return [ln for ln in text.splitlines() if ln.startswith("stage ")]


def test_explain_shows_pruned_columns_and_pushed_filters(opt_run):
    d, dag, out, con = opt_run
    on, off = out["on"][1], out["off"][1]
    assert "columns [" not in off and "pushed down" not in off
    lines = stage_lines(on)

    def stage_of(node):
        hits = [ln for ln in lines if f" {node} " in ln]
        assert hits, node
        return hits[0]

    # a count decodes one column of the headerless file's five
    assert "read count_only_orders (csv) columns [oid] of 5 ->" in on
    # a semi join reads only the key of its right side
    assert "read j_semi_orders (csv) columns [pid] of 5" in on
    # the JSONL scan keeps what the join and its filter read; the filter runs in it
    assert "read jsonl_join_events (jsonl) columns [eid, pid, kind] of 4 where " \
           "(\"kind\" = 'view') (pushed down)" in on
    # inner join: each side's conditions reach its scan (the right's
    # through its prefix), nothing stays above the join
    assert "read j_inner_people (csv) columns [pk, id, name, score, grp] of 6 where " \
           "(\"grp\" >= 2) AND (\"score\" > -100) (pushed down)" in on
    assert "read j_inner_orders (csv) columns [oid, pid, amount, memo] of 5 where " \
           "(\"amount\" > 10) AND (\"memo\" IS NULL OR \"memo\" <> 'zeta') (pushed down)" in on
    assert "filter j_inner_f" not in on
    # left join: the left side's go down, the NULL-extended right's stay
    assert "read j_left_people (csv) columns [pk, id, name, score, grp] of 6 where" in on
    assert "where" not in stage_of("j_left_orders")
    assert "filter j_left_f" in stage_of("j_left_j")
    # right join: the other way round; full join: nothing moves
    assert "where" not in stage_of("j_right_people")
    assert "read j_right_orders (csv) columns [oid, pid, amount, memo] of 5 where" in on
    assert "where" not in stage_of("j_full_people") and "where" not in stage_of("j_full_orders")
    assert "filter j_full_f" in stage_of("j_full_j")
    assert "filter full_coalesce_f" in stage_of("full_coalesce_j")
    # IS NULL on the NULL-extended side stays after the join; pk < 300 goes down
    assert "filter outer_nulls_f" in stage_of("outer_nulls_j")
    assert "read outer_nulls_people (csv) where (\"pk\" < 300) (pushed down)" in on
    # renamed through the select ("key" is pk, "who" is name, "g" is grp);
    # "twice" is computed, so its condition stops right after the select
    assert "read renames_people (csv) columns [pk, name, score, grp] of 6 where " \
           "(\"pk\" % 3 = 0) AND (\"name\" IS NOT NULL) AND (\"grp\" BETWEEN 1 AND 4) AND " \
           "(CASE WHEN \"grp\" = 2 AND \"pk\" > 10 THEN true ELSE \"pk\" > 5 END) " \
           "(pushed down) -> project renames_p -> filter renames_f (pushed down: " \
           "(\"twice\" > 0)) -> project renames_d" in on
    # the swap: the select's id is the file's pk
    assert "read swap_people (csv) columns [pk, id] of 6 where (\"pk\" < 50) AND " \
           "(\"id\" IS NOT NULL) (pushed down)" in on
    # quoted names renamed back; 'x AND y' and the OR stay whole terms
    assert "read quoting_people (csv) columns [pk, name, grp] of 6 where (\"name\" <> 'x AND y') " \
           "AND (\"grp\" = 1 OR \"pk\" < 100) AND (length(coalesce(\"name\", '')) > 1) " \
           "(pushed down)" in on
    # a union: into every input
    assert "read union_people (csv) columns [pk, score] of 6 where (\"score\" > 0) AND " \
           "(\"pk\" % 2 = 1) (pushed down)" in on
    assert "read union_orders (csv) columns [oid, amount] of 5 where (\"amount\" > 0) AND " \
           "(\"oid\" % 2 = 1) (pushed down)" in on
    # an aggregate: the group column's condition goes below, the count's not
    assert "read agg_events (jsonl) columns [pid, kind] of 4 where (\"kind\" <> 'click')" in on
    assert "final aggregate agg_a -> filter agg_f ->" in on
    # a shared node: its own filter reaches its scan, its readers' do not
    assert "read shared_orders (csv) where (amount IS NOT NULL) (pushed down)" in on
    assert "filter shared_f1" in on and "filter shared_f2" in on
    # the limit stops the push
    assert "top 40 -> filter sorted_f" in on


def test_writes_keep_every_column(opt_run):
    d, dag, out, con = opt_run
    cols, _ = rows(out["on"][0], "shared")
    assert cols == list(ORDERS)
    cols, _ = rows(out["on"][0], "outer_nulls")
    assert cols == list(PEOPLE) + ["o_" + c for c in ORDERS]


def test_unused_bad_column_and_used_bad_column(tmp_path):
    """A column no node reads is not converted, so a bad value there is not
    an error (as in DuckDB's projection pushdown); one in a column a node
    reads still fails the job with its file and line."""
    (tmp_path / "t.csv").write_text("a,b,c\n1,x,2\n2,not-a-number,3\n3,y,oops\n")
    dag = tmp_path / "t.yaml"
    dag.write_text(
        "version: 1\nname: t\nparams: {col: a}\nwarehouse: {driver: sqlite, path: wh.db}\nnodes:\n"
        "  t: {op: read, format: csv, path: t.csv, schema: {a: int32, b: int32, c: int32}}\n"
        "  s: {op: select, input: t, columns: {v: \"${col}\"}}\n"
        "  w: {op: write, input: s, to: warehouse, table: t, mode: overwrite}\n")
    r = run_cli("run", dag, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(rows(tmp_path / "wh.db", "t")[1]) == [(1,), (2,), (3,)]
    r = run_cli("run", dag, "--param", "col=c", cwd=tmp_path)
    assert r.returncode != 0
    assert "t.csv:4" in r.stdout + r.stderr and "'c'" in r.stdout + r.stderr


def test_parquet_row_groups_skipped_by_statistics(tmp_path):
    """Row groups whose min/max cannot satisfy a pushed-down condition
    (col op constant, BETWEEN, IN) are not read; the job's stats count
    them, and the results still match DuckDB over the same files (one
    written with statistics, one without)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime
    n = 1000
    k = list(range(n))
    tab = pa.table({
        "k": pa.array(k, pa.int64()),
        "name": pa.array([f"n{i // 100:02d}-{i % 7}" if i % 13 else None for i in k], pa.string()),
        "d": pa.array([datetime.date(2024, 1, 1) + datetime.timedelta(days=i // 10) for i in k],
                      pa.date32()),
        "v": pa.array([i * 3 % 17 for i in k], pa.int32()),
    })
    pq.write_table(tab, tmp_path / "stats.parquet", row_group_size=100)
    pq.write_table(tab, tmp_path / "nostats.parquet", row_group_size=100, write_statistics=False)
    meta = pq.ParquetFile(tmp_path / "stats.parquet").metadata
    assert meta.num_row_groups == 10
    assert meta.row_group(3).column(0).statistics.min == 300
    conds = {
        "between": ("k BETWEEN 250 AND 349 AND v > 3", 8),        # groups 2 and 3
        "cmp": ("d >= DATE '2024-03-20' AND k <> 5", 7),          # day 79+: rows 790.., groups 7-9
        "in_str": ("name IN ('n04-1', 'n07-3')", 8),              # groups 4 and 7
        "flipped": ("120 > k", 8),                                 # groups 0 and 1
    }
    nodes = ""
    for f in ("stats", "nostats"):
        for name, (cond, _) in conds.items():
            nodes += (f"  {f}_{name}_r: {{op: read, format: parquet, path: {f}.parquet, "
                      f"schema: {{k: int64, name: string, d: date, v: int32}}}}\n"
                      f"  {f}_{name}_f: {{op: filter, input: {f}_{name}_r, where: \"{cond}\"}}\n"
                      f"  {f}_{name}: {{op: write, input: {f}_{name}_f, to: warehouse, "
                      f"table: {f}_{name}}}\n")
    dag = tmp_path / "pq.yaml"
    dag.write_text("version: 1\nname: pq\nwarehouse: {driver: sqlite, path: wh.db}\nnodes:\n"
                   + nodes)
    x = run_cli("explain", dag, cwd=tmp_path)
    assert "read stats_between_r (parquet) where (k BETWEEN 250 AND 349) AND (v > 3) " \
           "(pushed down)" in x.stdout, x.stdout
    r = run_cli("run", dag, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # only the files with statistics skip: 8 + 7 + 8 + 8
    assert "Parquet row groups skipped by statistics: 31" in r.stdout, r.stdout
    con = duckdb.connect()
    for f in ("stats", "nostats"):
        for name, (cond, _) in conds.items():
            want = Counter(tuple(norm(v) for v in row) for row in con.execute(
                f"SELECT * FROM read_parquet('{tmp_path}/{f}.parquet') WHERE {cond}").fetchall())
            cols, got = rows(tmp_path / "wh.db", f"{f}_{name}")
            assert cols == ["k", "name", "d", "v"]
            assert got == want and sum(got.values()) > 0, (f, name)
    # each condition alone, on the file with statistics, skips what it says
    for name, (cond, skipped) in conds.items():
        one = tmp_path / f"one_{name}.yaml"
        one.write_text(
            "version: 1\nname: one\nwarehouse: {driver: sqlite, path: one.db}\nnodes:\n"
            "  r: {op: read, format: parquet, path: stats.parquet, "
            "schema: {k: int64, name: string, d: date, v: int32}}\n"
            f"  f: {{op: filter, input: r, where: \"{cond}\"}}\n"
            "  w: {op: write, input: f, to: warehouse, table: t, mode: overwrite}\n")
        r = run_cli("run", one, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"Parquet row groups skipped by statistics: {skipped}\n" in r.stdout, (name, r.stdout)


def test_incremental_column_read_keeps_its_watermark(tmp_path):
    """An incremental column read whose column nothing else uses keeps it
    for the watermark (pruning), and a pushed-down filter runs after the
    watermark, which still sees every row read (docs/bookmarks.md)."""
    data = tmp_path / "in"
    data.mkdir()

    def add(name, lo, hi):
        with open(data / name, "w") as f:
            f.write("seq,v,note\n")
            for i in range(lo, hi):
                f.write(f"{i},{i * 7 % 11},n{i}\n")

    add("a.csv", 1, 40)
    dag = tmp_path / "inc.yaml"
    dag.write_text(
        "version: 1\nname: inc\nwarehouse: {driver: sqlite, path: wh.db}\nnodes:\n"
        "  r: {op: read, format: csv, path: in, incremental: {column: seq},\n"
        "      schema: {seq: int64, v: int32, note: string}}\n"
        "  f: {op: filter, input: r, where: v > 5}\n"
        "  s: {op: select, input: f, columns: {note: note}}\n"
        "  w: {op: write, input: s, to: warehouse, table: notes, mode: append}\n")
    x = run_cli("explain", dag, cwd=tmp_path)
    assert "read r (csv, rows above the watermark of seq) where (v > 5) (pushed down)" \
        in x.stdout, x.stdout
    r = run_cli("run", dag, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    add("b.csv", 30, 70)  # 30..39 are at or below the watermark (39): not loaded
    r = run_cli("run", dag, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    got = Counter(rows(tmp_path / "wh.db", "notes")[1])
    want = Counter((f"n{i}",) for i in list(range(1, 40)) + list(range(40, 70)) if i * 7 % 11 > 5)
    assert got == want
