"""`millrace run` into a real PostgreSQL warehouse: the TICKIT example checked
against DuckDB, exact type round trips read back with psycopg, a failing
post_sql that leaves everything as it was, and a DSN password that never
shows in an error.

The server comes from pg.py ($MILLRACE_TEST_PG_DSN, which scripts/test.sh
sets, or a private one); every test writes into a fresh database.  The DSN
reaches the cluster the way users pass it: `dsn: ${env:MILLRACE_WAREHOUSE_DSN}`
in the DAG and the variable in the environment of `millrace run`.
"""
import datetime
import decimal
import math
import re

import pytest

import pg
from conftest import ROOT, run_cli
from test_run import expected_buyers

TICKIT = ROOT / "dags" / "tickit_sales.yaml"
PG_WAREHOUSE = 'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def pg_db(pg_server):
    with pg.database(pg_server) as dsn:
        yield dsn


def tickit_on_postgres(tmp_path, post_sql=None):
    """dags/tickit_sales.yaml with a postgres warehouse block (and other post_sql)."""
    text = TICKIT.read_text()
    text, n = re.subn(r"warehouse:\n  driver: sqlite\n  path: \$\{warehouse\}\n", PG_WAREHOUSE, text)
    assert n == 1, "dags/tickit_sales.yaml's warehouse block changed: update this test"
    if post_sql is not None:
        text = text[:text.index("post_sql:")] + "post_sql:\n" + "".join(
            f"  - {s}\n" for s in post_sql)
    dag = tmp_path / "tickit_pg.yaml"
    dag.write_text(text)
    return dag


def pg_buyers(dsn):
    rows = pg.query(dsn, "SELECT buyerid, tickets, spent, purchases FROM buyer_tickets")
    return {r[0]: (int(r[1]), r[2], int(r[3])) for r in rows}


def no_staging_left(dsn):
    return pg.query(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'millrace_staging'")[0][0] == 0


@pytest.mark.parametrize("executors", [1, 2])
def test_tickit_on_postgres_matches_duckdb(tickit_data, tmp_path, pg_db, executors):
    dag = tickit_on_postgres(tmp_path)
    env = {"MILLRACE_WAREHOUSE_DSN": pg_db}
    r = run_cli("run", dag, "--executors", executors, "--param", f"data={tickit_data}", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    want = expected_buyers(tickit_data / "sales_pipe.txt")
    got = pg_buyers(pg_db)
    assert len(got) == len(want) > 100
    assert got == want  # spent is a Decimal on both sides: exact
    n = int(re.search(r"buyer_tickets\s+([\d,]+) rows", r.stdout).group(1).replace(",", ""))
    assert n == len(want)
    # post_sql ran in the same commit: the view answers the question
    best = sorted(want.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
    assert pg.query(pg_db, "SELECT buyerid, tickets FROM top_buyers") == [(b, v[0]) for b, v in best]
    assert no_staging_left(pg_db)
    # a second run overwrites, never doubles
    r = run_cli("run", dag, "--executors", executors, "--param", f"data={tickit_data}", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert pg_buyers(pg_db) == want


def test_failing_post_sql_leaves_postgres_unchanged(tickit_data, tmp_path, pg_db):
    env = {"MILLRACE_WAREHOUSE_DSN": pg_db}
    r = run_cli("run", tickit_on_postgres(tmp_path), "--param", f"data={tickit_data}", env=env)
    assert r.returncode == 0, r.stderr
    before = pg_buyers(pg_db)
    pg.query(pg_db, "UPDATE buyer_tickets SET tickets = -1 WHERE buyerid = "
                    "(SELECT min(buyerid) FROM buyer_tickets) RETURNING 1")
    marked = pg_buyers(pg_db)
    bad = tickit_on_postgres(tmp_path, post_sql=["CREATE TABLE made_by_post_sql (a int)",
                                                 "SELECT no_such_column FROM buyer_tickets"])
    r = run_cli("run", bad, "--param", f"data={tickit_data}", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "post_sql statement 2" in r.stderr and 'column "no_such_column" does not exist' in r.stderr, \
        r.stderr
    # the overwrite was rolled back with the rest: the marked row is still there
    assert pg_buyers(pg_db) == marked != before
    assert pg.query(pg_db, "SELECT to_regclass('made_by_post_sql')") == [(None,)]
    assert no_staging_left(pg_db)


TYPES_DAG = """\
version: 1
name: pg_types
warehouse:
  driver: postgres
  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"
  schema: landing
nodes:
  src:
    op: read
    format: csv
    path: %(csv)s
    csv: {header: true}
    schema:
      k: int32
      i32: int32
      i64: int64
      f: float64
      d: decimal(18,4)
      s: string
      dt: date
      ts: timestamp
      b: bool
  out:
    op: write
    input: src
    to: warehouse
    table: %(table)s
    mode: %(mode)s
    %(key)s
"""

# (k, i32, i64, f, d, s, dt, ts, b): CSV text and the value psycopg must return
TYPE_ROWS = [
    ('1,-2147483648,-9223372036854775808,NaN,-12345678901234.5678,"naïve café ☕ 日本",'
     '0001-01-01,2024-02-29 23:59:59.123456,true',
     (1, -2**31, -2**63, math.nan, decimal.Decimal("-12345678901234.5678"), "naïve café ☕ 日本",
      datetime.date(1, 1, 1), datetime.datetime(2024, 2, 29, 23, 59, 59, 123456), True)),
    ('2,2147483647,9223372036854775807,inf,0.0001,"",9999-12-31,1969-12-31 23:59:59.999999,false',
     (2, 2**31 - 1, 2**63 - 1, math.inf, decimal.Decimal("0.0001"), "",
      datetime.date(9999, 12, 31), datetime.datetime(1969, 12, 31, 23, 59, 59, 999999), False)),
    ('3,0,0,-inf,0,,2000-02-29,2000-01-01 00:00:00.000001,',
     (3, 0, 0, -math.inf, decimal.Decimal("0.0000"), None, datetime.date(2000, 2, 29),
      datetime.datetime(2000, 1, 1, 0, 0, 0, 1), None)),
    ('4,,,0.1,99999999999999.9999,"tab\there \\\\ ""q"" \'s\'",,,t',
     (4, None, None, 0.1, decimal.Decimal("99999999999999.9999"), "tab\there \\\\ \"q\" 's'", None,
      None, True)),
]


def write_types(tmp_path, dsn, table, mode="overwrite", key=None, rows=TYPE_ROWS):
    csv = tmp_path / f"types_{mode}.csv"
    csv.write_text("k,i32,i64,f,d,s,dt,ts,b\n" + "".join(r[0] + "\n" for r in rows), encoding="utf-8")
    dag = tmp_path / f"types_{mode}.yaml"
    dag.write_text(TYPES_DAG % {"csv": csv, "table": table, "mode": mode,
                                "key": f"key: {key}" if key else ""})
    r = run_cli("run", dag, env={"MILLRACE_WAREHOUSE_DSN": dsn})
    assert r.returncode == 0, r.stdout + r.stderr


def same(a, b):
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or \
        (a == b and type(a) is type(b))


def test_types_round_trip_exactly(tmp_path, pg_db):
    write_types(tmp_path, pg_db, "types")
    got = pg.query(pg_db, "SELECT k, i32, i64, f, d, s, dt, ts, b FROM landing.types ORDER BY k")
    want = [r[1] for r in TYPE_ROWS]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert all(same(x, y) for x, y in zip(g, w)), (g, w)
    cols = pg.query(pg_db, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                           "WHERE attrelid = 'landing.types'::regclass AND attnum > 0 ORDER BY attnum")
    assert cols == [("k", "integer"), ("i32", "integer"), ("i64", "bigint"), ("f", "double precision"),
                    ("d", "numeric(18,4)"), ("s", "text"), ("dt", "date"),
                    ("ts", "timestamp without time zone"), ("b", "boolean")]


def test_upsert_and_append_through_a_dag(tmp_path, pg_db):
    write_types(tmp_path, pg_db, "landing.u", mode="append", rows=TYPE_ROWS[:2])
    write_types(tmp_path, pg_db, "landing.u", mode="append", rows=TYPE_ROWS[:1])
    assert pg.query(pg_db, "SELECT k, count(*) FROM landing.u GROUP BY k ORDER BY k") == [(1, 2), (2, 1)]
    changed = [(TYPE_ROWS[1][0].replace(",0.0001,", ",7.5,"), None)] + TYPE_ROWS[2:3]
    write_types(tmp_path, pg_db, "landing.u", mode="upsert", key="[k]", rows=changed)
    assert pg.query(pg_db, "SELECT k, d FROM landing.u ORDER BY k, d") == [
        (1, decimal.Decimal("-12345678901234.5678")), (1, decimal.Decimal("-12345678901234.5678")),
        (2, decimal.Decimal("7.5000")), (3, decimal.Decimal("0.0000"))]


def test_dsn_password_never_printed(tmp_path):
    dag = tickit_on_postgres(tmp_path)
    secret = "s3cr3t-Pa55word"
    dsn = f"host=127.0.0.1 port=1 user=nobody password={secret} dbname=x connect_timeout=5"
    r = run_cli("run", dag, "--param", f"data={tmp_path}", env={"MILLRACE_WAREHOUSE_DSN": dsn})
    assert r.returncode != 0
    assert secret not in r.stdout + r.stderr
