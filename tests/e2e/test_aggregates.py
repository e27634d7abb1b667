"""The statistical and boolean aggregates against a real PostgreSQL.

Generated rows (NULLs scattered in every column, groups of one row, groups
whose values are all NULL, a few large groups) are aggregated by a millrace
job on two executors, so every group's partial states are merged after the
shuffle, and written into a PostgreSQL warehouse; the same rows, loaded
into a table of the same database, go through the same aggregates in SQL.
Floats agree within a relative 1e-9 (the partial states are merged in
another order than PostgreSQL adds the rows); everything else exactly.

millrace returns float64 for the variance and standard deviation of integer
and decimal input, where PostgreSQL returns numeric: the SQL side casts to
double precision.
"""
import json
import math
import random

import psycopg
import pytest

import pg
from conftest import run_cli

# name: (millrace aggregate, PostgreSQL expression or None when the same)
AGGS = {
    "var_i": ("variance(i)", "variance(i)::float8"),
    "var_samp_i": ("var_samp(i)", "var_samp(i)::float8"),
    "var_pop_i": ("var_pop(i)", "var_pop(i)::float8"),
    "sd_i": ("stddev(i)", "stddev(i)::float8"),
    "sd_samp_l": ("stddev_samp(l)", "stddev_samp(l)::float8"),
    "sd_pop_l": ("stddev_pop(l)", "stddev_pop(l)::float8"),
    "var_f": ("variance(f)", None),
    "var_pop_f": ("var_pop(f)", None),
    "sd_f": ("stddev(f)", None),
    "sd_pop_f": ("stddev_pop(f)", None),
    "var_d": ("variance(d)", "variance(d)::float8"),
    "sd_d": ("stddev(d)", "stddev(d)::float8"),
    "var_expr": ("var_samp(f * 2 + i)", None),
    "b_and": ("bool_and(b)", None),
    "b_or": ("bool_or(b)", None),
    "b_and_expr": ("bool_and(i > 10)", None),
    "b_or_expr": ("bool_or(f < 0)", None),
}

SCHEMA = {"id": ("int64", "bigint"), "g": ("int32", "integer"), "i": ("int32", "integer"),
          "l": ("int64", "bigint"), "f": ("float64", "double precision"),
          "d": ("decimal(9,2)", "numeric(9,2)"), "b": ("bool", "boolean")}


def rows():
    rnd = random.Random(1616)
    out = []

    def add(g, nulls):
        def maybe(v):
            return None if rnd.random() < nulls else v
        out.append({"id": len(out), "g": g, "i": maybe(rnd.randint(-50, 50)),
                    "l": maybe(rnd.randint(-10**12, 10**12)),
                    "f": maybe(rnd.uniform(-1e3, 1e3) if rnd.random() < 0.9 else 1e6 + rnd.random()),
                    "d": maybe(rnd.randint(-10**6, 10**6) / 100),
                    "b": maybe(rnd.random() < 0.7)})
    for g in range(40):          # one row each
        add(g, 0.2)
    for g in range(40, 50):      # all NULL
        for _ in range(rnd.randint(1, 4)):
            add(g, 1.0)
    for g in range(50, 60):      # two rows
        add(g, 0.1)
        add(g, 0.1)
    for _ in range(3000):        # larger groups
        add(rnd.randint(60, 90), 0.1)
    for _ in range(50):          # a constant group: variance exactly 0
        out.append({"id": len(out), "g": 99, "i": 7, "l": 7, "f": 0.5, "d": 1.25, "b": True})
    rnd.shuffle(out)
    for k, r in enumerate(out):
        r["id"] = k
    return out


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def run_job(tmp_path, dsn, data, aggs, table, having=None, executors=2):
    src = tmp_path / "in.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for r in data:
            f.write(json.dumps(r) + "\n")
    sch = "".join(f"      {c}: \"{t}\"\n" for c, (t, _) in SCHEMA.items())
    agg = "".join(f"      {n}: {json.dumps(e)}\n" for n, (e, _) in aggs.items())
    hv = f"    having: {json.dumps(having)}\n" if having else ""
    dag = tmp_path / "aggs.yaml"
    dag.write_text(
        "version: 1\nname: aggregates\n"
        'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'
        f"nodes:\n  src:\n    op: read\n    format: jsonl\n    path: {src}\n    schema:\n{sch}"
        f"  agg:\n    op: aggregate\n    input: src\n    group_by: [g]\n    aggregates:\n{agg}{hv}"
        f"  out:\n    op: write\n    input: agg\n    to: warehouse\n    table: {table}\n"
        "    mode: overwrite\n", encoding="utf-8")
    r = run_cli("run", dag, "--executors", executors, env={"MILLRACE_WAREHOUSE_DSN": dsn})
    assert r.returncode == 0, r.stdout + r.stderr


def load(con, data):
    names = list(SCHEMA)
    con.execute("DROP TABLE IF EXISTS src")
    con.execute("CREATE TABLE src (" + ", ".join(
        f"{c} {pgt}" for c, (_, pgt) in SCHEMA.items()) + ")")
    with con.cursor().copy(f"COPY src ({', '.join(names)}) FROM STDIN") as cp:
        for row in data:
            cp.write_row([row[c] for c in names])


def diff(got, want, names):
    bad = {}
    assert sorted(got) == sorted(want)
    for k, name in enumerate(names):
        for g in sorted(want):
            if not same(got[g][k], want[g][k]):
                bad.setdefault(name, []).append((g, got[g][k], want[g][k]))
    return bad


def test_aggregates_match_postgres(tmp_path, pg_server):
    data = rows()
    run_job(tmp_path, pg_server, data, AGGS, "mr_aggs")
    with psycopg.connect(pg_server, autocommit=True) as con:
        load(con, data)
        sel = ", ".join(f"{p or e} AS {n}" for n, (e, p) in AGGS.items())
        want = {r[0]: r[1:] for r in con.execute(f"SELECT g, {sel} FROM src GROUP BY g")}
        got = {r[0]: r[1:] for r in con.execute(f"SELECT g, {', '.join(AGGS)} FROM mr_aggs")}
    assert len(want) == 92
    # the cases are there: NULL sample variance, zero variance, all-NULL bools
    assert any(v[0] is None for v in want.values()) and want[99][0] == 0
    assert any(v[AGGS_IDX("b_and")] is None for v in want.values())
    bad = diff(got, want, list(AGGS))
    assert not bad, "\n".join(f"{n}: {len(v)} groups differ, first {v[:3]}" for n, v in bad.items())


def AGGS_IDX(name):
    return list(AGGS).index(name)


HAVING_AGGS = {"n": ("count(*)", "count(*)"), "sd": ("stddev(f)", "stddev(f)"),
               "bo": ("bool_or(b)", "bool_or(b)"), "sl": ("sum(l)", "sum(l)")}


def test_having_matches_postgres(tmp_path, pg_server):
    """having filters the final groups on the aggregates' output columns
    (never on partial states: a group spread over both executors counts
    whole)."""
    data = rows()
    run_job(tmp_path, pg_server, data, HAVING_AGGS, "mr_having",
            having="n >= 2 and (sd > 560 or bo is null or not bo) and g <> 75")
    with psycopg.connect(pg_server, autocommit=True) as con:
        load(con, data)
        sel = ", ".join(p for _, p in HAVING_AGGS.values())
        want = {r[0]: r[1:] for r in con.execute(
            f"SELECT g, {sel} FROM src GROUP BY g HAVING count(*) >= 2 AND "
            "(stddev(f) > 560 OR bool_or(b) IS NULL OR NOT bool_or(b)) AND g <> 75")}
        got = {r[0]: r[1:] for r in con.execute(
            f"SELECT g, {', '.join(HAVING_AGGS)} FROM mr_having")}
    # some groups pass, some do not, on each condition
    assert 5 <= len(want) <= 80, len(want)
    assert not diff(got, want, list(HAVING_AGGS))


def test_string_agg_matches_postgres(tmp_path, pg_server):
    """string_agg's order is unspecified: each group's parts are compared as
    multisets; the separators hold a quote and several characters."""
    data = rows()
    aggs = {"si": ("string_agg(cast(i as string), ', ')", "string_agg(i::text, ', ')"),
            "sq": ("string_agg(cast(d as string) || 'x', ' '' ')", "string_agg(d::text || 'x', ' '' ')")}
    run_job(tmp_path, pg_server, data, aggs, "mr_string_agg")
    with psycopg.connect(pg_server, autocommit=True) as con:
        load(con, data)
        sel = ", ".join(p for _, p in aggs.values())
        want = {r[0]: r[1:] for r in con.execute(f"SELECT g, {sel} FROM src GROUP BY g")}
        got = {r[0]: r[1:] for r in con.execute(f"SELECT g, si, sq FROM mr_string_agg")}
    assert sorted(got) == sorted(want)
    assert any(v[0] is None for v in want.values())
    for g in want:
        for k, sep in enumerate([", ", " ' "]):
            w, v = want[g][k], got[g][k]
            if w is None or v is None:
                assert w is None and v is None, (g, v, w)
            else:
                assert sorted(v.split(sep)) == sorted(w.split(sep)), (g, v, w)
