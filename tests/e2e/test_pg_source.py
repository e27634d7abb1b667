"""`read` with `format: postgres`: a real PostgreSQL table or query as a
job's source, checked row by row against PostgreSQL itself.

Covers every mapped type with NULLs and awkward text (tabs, newlines,
backslashes, UTF-8), 40,000 rows read by one task and by N partition tasks
(the union equals the table, NULL partition values included), a query, both
warehouses, incremental reads whose watermark moves, the errors `millrace
validate` gives for a bad dsn, user, database, table, query or column type,
and the dsn's password, which must never show in output, logs, plans or API
answers.  The server comes from pg.py; each test module gets its own
database.
"""
import datetime
import decimal
import re
import sqlite3
import struct

import pytest

import pg
from conftest import run_cli

ROWS = 40_000
SECRET = "Pw_s3cr3t_9f1c"
# A password the trust-authenticated test server ignores: it still travels
# with the dsn wherever millrace would leak it.
COLS = ["id", "i2", "i4", "n", "f4", "f8", "ok", "t", "v", "c", "d", "ts", "tz"]

CREATE = """
CREATE TABLE src (id int8, i2 int2, i4 int4, n numeric(12,3), f4 float4, f8 float8, ok bool,
                  t text, v varchar(20), c char(4), d date, ts timestamp, tz timestamptz);
INSERT INTO src
SELECT i, (i % 30000 - 15000)::int2, i * 7 - 1000000, (i * 37 % 1000003) / 1000.0 - 500,
       (i / 7.0)::float4, i / 3.0e3, i % 3 = 0,
       CASE i % 5 WHEN 0 THEN E'tab\\there' WHEN 1 THEN E'line\\nbreak \\\\ back'
                  WHEN 2 THEN 'héllo ✓ ' || i ELSE 'plain ' || i END,
       'v' || (i % 1000), CASE WHEN i % 2 = 0 THEN 'ab' ELSE 'abcd' END,
       date '1999-12-31' + (i % 9000), timestamp '2001-02-03 04:05:06.789' + i * interval '1 min 1.5 s',
       timestamptz '2020-06-01 12:00:00+05' + i * interval '37 s'
FROM generate_series(1, ROWS_N) AS i;
INSERT INTO src (id) VALUES (NULL), (NULL);
INSERT INTO src VALUES (-5, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, NULL);
UPDATE src SET d = NULL, ts = NULL, tz = NULL, n = NULL, i2 = NULL WHERE id % 1000 = 17;
""".replace("ROWS_N", str(ROWS))


@pytest.fixture(scope="module")
def db():
    with pg.server() as server, pg.database(server) as dsn:
        with pg.psycopg.connect(dsn, autocommit=True) as con:
            con.execute(CREATE)
        yield dsn


def src_env(dsn):
    return {"MILLRACE_DAG_PG_SRC": f"{dsn} password={SECRET}"}


def dag_text(read, wh="warehouse: {driver: sqlite, path: out.db}", table="t_out",
             mode="overwrite", name="pgsrc"):
    return (f"version: 1\nname: {name}\n{wh}\nnodes:\n"
            f"  src: {{op: read, format: postgres, dsn: \"${{env:MILLRACE_DAG_PG_SRC}}\", {read}}}\n"
            f"  w: {{op: write, input: src, to: warehouse, table: {table}, mode: {mode}}}\n")


def run(tmp_path, text, dsn, *extra, env=None):
    f = tmp_path / "d.yaml"
    f.write_text(text)
    r = run_cli("run", f, *extra, cwd=tmp_path, env=env or src_env(dsn))
    assert SECRET not in r.stdout + r.stderr
    return r


def canon(col, v):
    """One text form per column for values from PostgreSQL (psycopg) and SQLite."""
    if v is None:
        return None
    if col in ("n",):
        return str(decimal.Decimal(repr(v) if isinstance(v, float) else v).quantize(decimal.Decimal("0.001")))
    if col == "f4":  # psycopg rounds float4's text; millrace has its exact value
        return repr(struct.unpack("f", struct.pack("f", v))[0])
    if col == "f8":
        return repr(float(v))
    if col == "ok":
        return bool(v)
    if col == "d":
        return v.isoformat() if isinstance(v, datetime.date) else v
    if col == "ts":
        return (v.isoformat(" ") if isinstance(v, datetime.datetime) else v).rstrip("0").rstrip(".")
    if col == "tz":
        if isinstance(v, str):
            v = datetime.datetime.fromisoformat(v)
        return v.astimezone(datetime.timezone.utc).isoformat(" ")
    return v


def pg_rows(dsn, sql):
    return sorted((tuple(canon(c, x) for c, x in zip(COLS, r)) for r in pg.query(dsn, sql)),
                  key=repr)


def sqlite_rows(path, table="t_out", cols=COLS):
    con = sqlite3.connect(path)
    try:
        rows = con.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
    finally:
        con.close()
    return sorted((tuple(canon(c, x) for c, x in zip(cols, r)) for r in rows), key=repr)


def tasks_of(stdout):
    m = re.findall(r"(\d+)/(\d+)\s+tasks", stdout)
    assert m, stdout
    return int(m[-1][1])


def test_table_into_sqlite_row_by_row(tmp_path, db):
    r = run(tmp_path, dag_text("table: src"), db)
    assert r.returncode == 0, r.stderr
    assert tasks_of(r.stdout) == 1
    expect = pg_rows(db, f"SELECT {', '.join(COLS)} FROM src")
    got = sqlite_rows(tmp_path / "out.db")
    assert len(got) == ROWS + 3
    assert got == expect


def test_table_into_postgres_compared_by_postgres(tmp_path, db):
    wh = 'warehouse: {driver: postgres, dsn: "${env:MILLRACE_WAREHOUSE_DSN}"}'
    env = dict(src_env(db), MILLRACE_WAREHOUSE_DSN=db)
    r = run(tmp_path, dag_text("table: public.src, partition_column: id, partitions: 3", wh=wh),
            db, env=env)
    assert r.returncode == 0, r.stderr
    assert tasks_of(r.stdout) == 3
    types = dict(pg.query(db, "SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_name = 't_out'"))
    assert types["n"] == "numeric" and types["tz"] == "timestamp with time zone"
    assert types["ts"] == "timestamp without time zone" and types["d"] == "date"
    # char(n) becomes text with its padding kept, as COPY prints it
    cols = "id, i2, i4, n, f4::float8, f8, ok, t, v, c::text || repeat(' ', 4 - octet_length(c::text)), d, ts, tz"
    for a, b in (("src", "t_out"), ("t_out", "src")):
        ca = cols if a == "src" else cols.replace("c::text || repeat(' ', 4 - octet_length(c::text))", "c")
        cb = cols if b == "src" else cols.replace("c::text || repeat(' ', 4 - octet_length(c::text))", "c")
        diff = pg.query(db, f"SELECT count(*) FROM (SELECT {ca} FROM {a} EXCEPT ALL SELECT {cb} FROM {b}) x")
        assert diff[0][0] == 0, (a, b)
    assert pg.query(db, "SELECT count(*) FROM t_out")[0][0] == ROWS + 3


@pytest.mark.parametrize("col,n", [("id", 5), ("d", 4), ("ts", 3), ("tz", 7), ("n", 2), ("i2", 6)])
def test_partitions_union_equals_table(tmp_path, db, col, n):
    r = run(tmp_path, dag_text(f"table: src, partition_column: {col}, partitions: {n}"), db)
    assert r.returncode == 0, r.stderr
    assert tasks_of(r.stdout) == n
    got = sqlite_rows(tmp_path / "out.db")
    assert got == pg_rows(db, f"SELECT {', '.join(COLS)} FROM src")
    nulls = pg.query(db, f"SELECT count(*) FROM src WHERE {col} IS NULL")[0][0]
    assert nulls > 0
    assert sum(1 for row in got if row[COLS.index(col)] is None) == nulls


def test_query_with_partitions(tmp_path, db):
    q = "SELECT id, t, tz, n FROM src WHERE id % 3 = 0 OR id IS NULL"
    r = run(tmp_path, dag_text(f'query: "{q}", partition_column: tz, partitions: 4'), db)
    assert r.returncode == 0, r.stderr
    assert tasks_of(r.stdout) == 4
    cols = ["id", "t", "tz", "n"]
    got = sqlite_rows(tmp_path / "out.db", cols=cols)
    expect = sorted((tuple(canon(c, x) for c, x in zip(cols, row)) for row in pg.query(db, q)),
                    key=repr)
    assert got == expect and len(got) == ROWS // 3 + 2


def test_empty_source_with_partitions(tmp_path, db):
    r = run(tmp_path, dag_text('query: "SELECT id, d FROM src WHERE false", partition_column: d, '
                               'partitions: 3'), db)
    assert r.returncode == 0, r.stderr
    assert tasks_of(r.stdout) == 3
    assert sqlite_rows(tmp_path / "out.db", cols=["id", "d"]) == []


def test_incremental_moves_the_watermark(tmp_path, db):
    with pg.psycopg.connect(db, autocommit=True) as con:
        con.execute("CREATE TABLE events (id int8, updated timestamptz, v text)")
        con.execute("INSERT INTO events SELECT i, timestamptz '2024-01-01 00:00Z' + i * interval '1 s', "
                    "'e' || i FROM generate_series(1, 1000) i")
    text = dag_text("table: events, incremental: {column: updated}, partition_column: id, "
                    "partitions: 2", mode="append", name="pginc")
    cols = ["id", "v"]

    def loaded():
        con = sqlite3.connect(tmp_path / "out.db")
        try:
            return sorted(con.execute("SELECT id, v FROM t_out").fetchall())
        finally:
            con.close()

    def mark():
        con = sqlite3.connect(tmp_path / "out.db")
        try:
            return con.execute("SELECT value FROM millrace_bookmarks WHERE dag = 'pginc' "
                               "AND kind = 'column'").fetchone()[0]
        finally:
            con.close()

    assert run(tmp_path, text, db).returncode == 0
    assert loaded() == [(i, f"e{i}") for i in range(1, 1001)]
    first = mark()
    assert first.startswith("2024-01-01 00:16:40")
    with pg.psycopg.connect(db, autocommit=True) as con:
        con.execute("INSERT INTO events SELECT i, timestamptz '2024-01-01 00:00Z' + i * interval '1 s', "
                    "'e' || i FROM generate_series(1001, 1500) i")
        # an old row below the watermark: not read again
        con.execute("INSERT INTO events VALUES (5000, '2023-01-01Z', 'old'), (5001, NULL, 'null')")
    r = run(tmp_path, text, db)
    assert r.returncode == 0, r.stderr
    assert loaded() == [(i, f"e{i}") for i in range(1, 1501)]
    assert mark() > first and mark().startswith("2024-01-01 00:25:00")
    r = run(tmp_path, text, db)
    assert r.returncode == 0 and loaded() == [(i, f"e{i}") for i in range(1, 1501)]
    del cols


BAD = [
    ("port=1", "table: src", "cannot connect to the source database"),
    # values of the ${env:} dsn are masked in messages (docs/security.md)
    ("user=nobody_here", "table: src", "role \"***\" does not exist"),
    ("dbname=no_such_db", "table: src", "database \"***\" does not exist"),
    ("", "table: no_such_table", "source table 'no_such_table' does not exist"),
    ("", 'query: "SELECT nope FROM src"', "source query fails"),
    ("", "query: \"SELECT '{}'::json AS j\"", "column 'j' has type json"),
    ("", 'query: "SELECT 1.5::numeric AS x"', "column 'x' is numeric without a precision"),
    ("", 'query: "SELECT 1::numeric(30,2) AS x"', "numeric(30,2)"),
    ("", "table: src, partition_column: t, partitions: 2", "partition column 't' must be"),
    ("", "table: src, partition_column: id", "together"),
]


@pytest.mark.parametrize("dsn_extra,read,want", BAD)
def test_validate_errors_never_show_the_password(tmp_path, db, dsn_extra, read, want):
    f = tmp_path / "d.yaml"
    f.write_text(dag_text(read))
    env = {"MILLRACE_DAG_PG_SRC": f"{db} {dsn_extra} password={SECRET}"}
    r = run_cli("validate", f, cwd=tmp_path, env=env)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert want in out, out
    assert re.search(r"d\.yaml:5:\d+: error", out), out
    assert SECRET not in out


def test_a_password_in_the_dag_is_refused(tmp_path, db):
    f = tmp_path / "d.yaml"
    f.write_text(dag_text("table: src").replace('"${env:MILLRACE_DAG_PG_SRC}"',
                                                f'"{db} password={SECRET}"'))
    r = run_cli("validate", f, cwd=tmp_path)
    assert r.returncode != 0 and "holds a password" in r.stderr, r.stderr


def test_password_never_in_plan_api_or_logs(tmp_path, db, cluster_factory, monkeypatch):
    monkeypatch.setenv("MILLRACE_DAG_PG_SRC", f"{db} password={SECRET}")
    c = cluster_factory(executors=2)
    text = dag_text("table: src, partition_column: id, partitions: 4",
                    wh=f"warehouse: {{driver: sqlite, path: {tmp_path / 'api.db'}}}")
    r = c.post("/v1/validate", data=text.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200 and SECRET not in r.text, r.text
    r = c.post("/v1/jobs", data=text.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201 and SECRET not in r.text, r.text
    jid = r.json()["id"]
    done = c.wait_job(jid)
    assert done["state"] == "succeeded", done
    for path in (f"/v1/jobs/{jid}", f"/v1/jobs/{jid}/plan", "/v1/jobs", f"/v1/jobs/{jid}/tasks"):
        assert SECRET not in c.get(path).text, path
    plan = c.get(f"/v1/jobs/{jid}/plan").text
    assert "MILLRACE_DAG_PG_SRC" in plan or "postgres" in plan
    assert sqlite_rows(tmp_path / "api.db") == pg_rows(db, f"SELECT {', '.join(COLS)} FROM src")
    c.stop()
    for log in tmp_path.glob("*.log"):
        assert SECRET not in log.read_text(errors="replace"), log


def test_executor_without_the_variable(tmp_path, db, cluster_factory, monkeypatch):
    monkeypatch.setenv("MILLRACE_DAG_PG_SRC", f"{db} password={SECRET}")
    c = cluster_factory(executors=0)
    monkeypatch.delenv("MILLRACE_DAG_PG_SRC")
    c.add_executor()
    c.wait_executors(1)
    text = dag_text("table: src", wh=f"warehouse: {{driver: sqlite, path: {tmp_path / 'x.db'}}}")
    r = c.post("/v1/jobs", data=text.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"])
    assert done["state"] == "failed", done
    assert "has no environment variable MILLRACE_DAG_PG_SRC" in done["error"], done
    assert SECRET not in str(done)
