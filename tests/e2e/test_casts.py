"""Casts that PostgreSQL defines by its own rules, compared with a real
PostgreSQL: float64 to decimal (the float is first rounded to 15
significant digits, as float8 -> numeric does, so 0.1 + 0.2 gives
0.30000000000000000 and 2.675 gives 2.68), and text to float64 where the
text is out of range (an error, NULL under try_cast).

Rows are read by a millrace job that computes each expression and writes
into a PostgreSQL warehouse; the same rows go through the same expressions
in SQL in the same database.  PostgreSQL has no try_cast: the SQL side uses
a function that turns the cast's error into NULL.
"""
import json
import random

import psycopg
import pytest

import pg
from conftest import run_cli

TRY = """CREATE FUNCTION try_f8(t text) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN RETURN t::float8; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE FUNCTION try_dec(x float8, p int, s int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE r numeric;
BEGIN EXECUTE format('SELECT $1::numeric(%s,%s)', p, s) INTO r USING x; RETURN r;
EXCEPTION WHEN others THEN RETURN NULL; END $$"""

# name: (millrace expression, PostgreSQL expression)
FUNCS = {
    "d2": ("try_cast(f AS decimal(18,2))", "try_dec(f, 18, 2)"),
    "d0": ("try_cast(f AS decimal(18,0))", "try_dec(f, 18, 0)"),
    "d6": ("try_cast(f AS decimal(12,6))", "try_dec(f, 12, 6)"),
    "d17": ("try_cast(f + g AS decimal(18,17))", "try_dec(f + g, 18, 17)"),
    "d10": ("try_cast(f * g AS decimal(18,10))", "try_dec(f * g, 18, 10)"),
    "t": ("try_cast(s AS float64)", "try_f8(s)"),
}

FLOATS = [0.1, 0.2, 2.675, 1.005, -2.675, 0.30000000000000004, 1e-7, 1e-300, 123456789.125,
          0.5, 1.5, 2.5, -0.5, 1e15 + 0.3, 9.999999999999999e17, 1e18, 1e19, -1e19,
          0.015, 0.045, 1.0000000000000002, 33.333333333333336, 1e-20, 0.0, -0.0]
TEXTS = ["1e400", "-1e400", "1e-400", "-1e-400", "4e-320", "1e308", "1.5", "0e-500", "1e-5",
         "abc", "", " 2"]


def rows():
    rnd = random.Random(3)
    out = []
    for i in range(600):
        f = FLOATS[i] if i < len(FLOATS) else rnd.choice([
            rnd.uniform(-1e6, 1e6), rnd.uniform(-1, 1), round(rnd.uniform(-1e4, 1e4), 3),
            rnd.uniform(-1e-3, 1e-3), rnd.randint(-10**6, 10**6) + 0.005])
        g = FLOATS[(i + 1) % len(FLOATS)] if i < len(FLOATS) else rnd.uniform(-10, 10)
        s = TEXTS[i % len(TEXTS)] if i < 3 * len(TEXTS) else repr(rnd.uniform(-1e300, 1e300))
        out.append({"id": i, "f": None if i % 101 == 100 else f, "g": g, "s": s})
    return out


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def db(pg_server):
    with pg.database(pg_server) as dsn:
        yield dsn


def test_casts_match_postgres(tmp_path, db):
    data = rows()
    src = tmp_path / "in.jsonl"
    with open(src, "w") as f:
        for r in data:
            f.write(json.dumps(r) + "\n")
    cols = "".join(f"      {n}: {json.dumps(e)}\n" for n, (e, _) in FUNCS.items())
    dag = tmp_path / "casts.yaml"
    dag.write_text(
        "version: 1\nname: casts\n"
        'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'
        f"nodes:\n  src:\n    op: read\n    format: jsonl\n    path: {src}\n"
        "    schema: {id: int64, f: float64, g: float64, s: string}\n"
        f"  calc:\n    op: select\n    input: src\n    columns:\n      id: id\n{cols}"
        "  out:\n    op: write\n    input: calc\n    to: warehouse\n    table: mr_out\n"
        "    mode: overwrite\n")
    r = run_cli("run", dag, "--executors", 2, env={"MILLRACE_WAREHOUSE_DSN": db})
    assert r.returncode == 0, r.stdout + r.stderr
    with psycopg.connect(db, autocommit=True) as con:
        con.execute(TRY)
        con.execute("CREATE TABLE src (id bigint, f float8, g float8, s text)")
        with con.cursor().copy("COPY src (id, f, g, s) FROM STDIN") as cp:
            for row in data:
                cp.write_row([row["id"], row["f"], row["g"], row["s"]])
        sel = ", ".join(f"{p} AS {n}" for n, (_, p) in FUNCS.items())
        want = {r[0]: r[1:] for r in con.execute(f"SELECT id, {sel} FROM src").fetchall()}
        got = {r[0]: r[1:] for r in con.execute(
            f"SELECT id, {', '.join(FUNCS)} FROM mr_out").fetchall()}
    assert sorted(got) == sorted(want) == list(range(len(data)))
    bad = {}
    for k, name in enumerate(FUNCS):
        for i in sorted(want):
            if got[i][k] != want[i][k]:
                bad.setdefault(name, []).append((i, data[i], got[i][k], want[i][k]))
    assert not bad, "\n".join(f"{n}: {len(v)} rows differ, first {v[:3]}" for n, v in bad.items())
    by_id = {r["id"]: r for r in data}
    assert str(got[0][3]) == "0.30000000000000000" and by_id[0]["f"] == 0.1
    assert str(got[2][0]) == "2.68"  # 2.675 is 2.67499999... in binary
    assert got[0][5] is None and got[2][5] is None and got[4][5] is not None  # 1e400, 1e-400, 4e-320


@pytest.mark.parametrize("text", ["1e400", "-1e-400"])
def test_out_of_range_text_fails_the_cast(tmp_path, text):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"s": text}) + "\n")
    dag = tmp_path / "c.yaml"
    dag.write_text(
        f"version: 1\nname: c\nwarehouse: {{driver: sqlite, path: {tmp_path}/wh.db}}\nnodes:\n"
        f"  src:\n    op: read\n    format: jsonl\n    path: {src}\n    schema: {{s: string}}\n"
        "  calc:\n    op: select\n    input: src\n    columns:\n      x: cast(s AS float64)\n"
        "  out:\n    op: write\n    input: calc\n    to: warehouse\n    table: t\n")
    r = run_cli("run", dag)
    assert r.returncode != 0
    assert f"'{text}'" in r.stderr and "out of range" in r.stderr, r.stderr
