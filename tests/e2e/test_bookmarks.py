"""Incremental reads and their bookmarks (docs/bookmarks.md), on SQLite and
PostgreSQL: `incremental: files` and `incremental: {column}` load each row
exactly once however runs end (a failing post_sql, a killed executor, a
cancel, kill -9 of `millrace run` and its daemons), two runs at once never
load a row twice, --full-refresh, `millrace bookmarks`, the job's
bookmarks in the REST API, bad input, and dags/tickit_daily.yaml.  The
expected tables are computed by DuckDB over all the files."""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal

import duckdb
import pytest

import pg
from conftest import ROOT, binary, run_cli

SCHEMA = '{id: int64, cust: string, amount: "decimal(10,2)", updated_at: timestamp}'

DAG = """version: 1
name: %(name)s
params:
  check: SELECT 1
warehouse:
%(warehouse)s
nodes:
  src:
    op: read
    format: csv
    path: %(data)s/*.csv
    schema: %(schema)s
    incremental: %(inc)s
  out: {op: write, input: src, to: warehouse, table: %(table)s, mode: append}
post_sql:
  - "${check}"
"""


def write_day(data, day, rows=40):
    """Day `day`'s file: ids and update times above every earlier day's."""
    rng = random.Random(day)
    lines = ["id,cust,amount,updated_at"]
    for k in range(rows):
        secs = k * 60 + rng.randrange(60)
        lines.append("%d,c%d,%d.%02d,2024-01-%02d %02d:%02d:%02d" % (
            day * 1000 + k, rng.randrange(50), rng.randrange(1000), rng.randrange(100),
            1 + day % 28 if day < 28 else 28, secs // 3600, secs // 60 % 60, secs % 60))
    # days past the 28th move to later months so times keep rising
    text = "\n".join(lines) + "\n"
    if day >= 28:
        text = text.replace("2024-01-28", "2024-%02d-01" % (2 + day - 28))
    path = data / ("day-%03d.csv" % day)
    tmp = data / (".day-%03d.tmp" % day)  # land whole: write, then rename
    tmp.write_text(text)
    os.rename(tmp, path)


def norm(rows):
    out = []
    for r in rows:
        amount = Decimal(str(r[2])).quantize(Decimal("0.01"))
        ts = str(r[3]).replace("T", " ")
        out.append((int(r[0]), r[1], str(amount), ts))
    return sorted(out)


def oracle(data):
    if not list(data.glob("*.csv")):
        return []
    return norm(duckdb.sql(
        "SELECT id, cust, amount, strftime(updated_at, '%%Y-%%m-%%d %%H:%%M:%%S') FROM "
        "read_csv('%s/*.csv', header=true, columns={'id': 'BIGINT', 'cust': 'VARCHAR', "
        "'amount': 'DECIMAL(10,2)', 'updated_at': 'TIMESTAMP'})" % data).fetchall())


class Wh:
    """One warehouse: the DAG's block, and reading its tables."""

    def __init__(self, kind, path=None, dsn=None):
        self.kind, self.path, self.dsn = kind, path, dsn

    def block(self):
        if self.kind == "sqlite":
            return "  driver: sqlite\n  path: %s" % self.path
        return "  driver: postgres\n  dsn: \"%s\"" % self.dsn

    def rows(self, sql):
        if self.kind == "sqlite":
            if not os.path.exists(self.path):
                return []
            con = sqlite3.connect(self.path)
            try:
                return con.execute(sql).fetchall()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return []
                raise
            finally:
                con.close()
        try:
            return pg.query(self.dsn, sql)
        except Exception as e:  # noqa: BLE001 - psycopg's UndefinedTable
            if "does not exist" in str(e):
                return []
            raise

    def table(self, name):
        return norm(self.rows("SELECT id, cust, amount, updated_at FROM %s" % name))

    def bookmarks(self, dag):
        return sorted(tuple(str(x) for x in r) for r in self.rows(
            "SELECT node, kind, item, value, size, mtime_ns FROM millrace_bookmarks "
            "WHERE dag = '%s'" % dag))


@pytest.fixture(autouse=True)
def own_tmp(tmp_path, monkeypatch):
    """Runs that fail keep their daemons' logs: under the test's folder."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgres"])
def wh(request, tmp_path):
    if request.param == "sqlite":
        yield Wh("sqlite", path=tmp_path / "wh.db")
        return
    with pg.database(request.getfixturevalue("pg_server")) as dsn:
        yield Wh("postgres", dsn=dsn)


def make_dag(tmp_path, wh, name, inc, table):
    data = tmp_path / "in"
    data.mkdir(exist_ok=True)
    path = tmp_path / ("%s.yaml" % name)
    path.write_text(DAG % {"name": name, "warehouse": wh.block(), "data": data, "schema": SCHEMA,
                           "inc": inc, "table": table})
    return path, data


def run(dag, *args, env=None):
    return run_cli("run", dag, "--executors", "2", *args, env=env, timeout=120)


def test_files_and_column_match_duckdb(tmp_path, wh):
    dag_f, data = make_dag(tmp_path, wh, "inc_files", "files", "t_files")
    dag_c, _ = make_dag(tmp_path, wh, "inc_col", "{column: updated_at}", "t_col")
    for day in range(3):
        write_day(data, day)
    for dag in (dag_f, dag_c):
        r = run(dag)
        assert r.returncode == 0, r.stderr
    assert wh.table("t_files") == oracle(data)
    assert wh.table("t_col") == oracle(data)
    assert len(wh.table("t_files")) == 120
    # nothing new: both succeed, say so, load nothing
    for dag in (dag_f, dag_c):
        r = run(dag)
        assert r.returncode == 0, r.stderr
        assert "nothing new" in r.stdout, r.stdout
    assert wh.table("t_files") == oracle(data)
    assert wh.table("t_col") == oracle(data)
    # two more days: only they are read
    write_day(data, 3)
    write_day(data, 4)
    r = run(dag_f)
    assert r.returncode == 0, r.stderr
    assert "2 new, 3 already loaded" in r.stdout, r.stdout
    r = run(dag_c)
    assert r.returncode == 0, r.stderr
    assert "80 rows above" in r.stdout, r.stdout
    assert wh.table("t_files") == oracle(data)
    assert wh.table("t_col") == oracle(data)
    files = [b for b in wh.bookmarks("inc_files") if b[1] == "file"]
    assert sorted(os.path.basename(b[2]) for b in files) == ["day-%03d.csv" % d for d in range(5)]
    for b in files:
        st = os.stat(b[2])
        assert (int(b[4]), int(b[5])) == (st.st_size, st.st_mtime_ns)
    col = [b for b in wh.bookmarks("inc_col") if b[1] == "column"]
    top = duckdb.sql("SELECT strftime(max(updated_at), '%%Y-%%m-%%d %%H:%%M:%%S') FROM read_csv("
                     "'%s/*.csv', header=true, columns={'id': 'BIGINT', 'cust': 'VARCHAR', "
                     "'amount': 'DECIMAL(10,2)', 'updated_at': 'TIMESTAMP'})"
                     % data).fetchall()[0][0]
    assert [(c[2], c[3]) for c in col] == [("updated_at", top)]
    # a file rewritten (new size and mtime) is new again and read whole
    p = data / "day-004.csv"
    p.write_text(p.read_text() + "99999,late,1.00,2024-01-05 23:59:59\n")
    r = run(dag_f)
    assert r.returncode == 0, r.stderr
    assert "1 new, 4 already loaded" in r.stdout, r.stdout
    assert len(wh.table("t_files")) == 200 + 41


def kill_tree(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def children(pid):
    r = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split()]


def test_exactly_once_under_failures(tmp_path, wh):
    """Runs while new files land, ending every way a run can end; after each
    failure a normal run catches up, and the tables always hold each row of
    the files once (the column read: each row above the last watermark)."""
    dag_f, data = make_dag(tmp_path, wh, "x_files", "files", "t_files")
    dag_c, _ = make_dag(tmp_path, wh, "x_col", "{column: updated_at}", "t_col")
    rng = random.Random(7)
    slow = {"MILLRACE_TEST_BATCH_DELAY_MS": "150"}
    events = ["post_sql", "kill9", "kill_executor", "cancel", "kill9", "post_sql",
              "kill_executor", "cancel", "kill9"]
    day = 0
    write_day(data, day)
    for i, ev in enumerate(events):
        dag = (dag_f, dag_c)[i % 2]
        name = ("x_files", "x_col")[i % 2]
        table = ("t_files", "t_col")[i % 2]
        day += 1
        write_day(data, day)
        before = wh.bookmarks(name)
        rows_before = wh.table(table)
        if ev == "post_sql":
            r = run(dag, "--param", "check=SELECT * FROM no_such_table")
            assert r.returncode == 1 and "post_sql" in r.stderr, r.stderr
            assert wh.bookmarks(name) == before  # the commit failed: nothing moved
            assert wh.table(table) == rows_before
        else:
            tmp = tmp_path / ("run-%d" % i)  # its daemons' folder, left by kill -9
            tmp.mkdir()
            env = dict(os.environ, TMPDIR=str(tmp), **slow)
            p = subprocess.Popen([binary("millrace"), "run", str(dag), "--executors", "2"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                 start_new_session=True)
            time.sleep(rng.uniform(0.3, 1.5))
            day += 1
            write_day(data, day)  # lands while the run is going
            if ev == "kill9":
                kill_tree(p)  # millrace run, its coordinator and executors
            elif ev == "kill_executor":
                ex = [c for c in children(p.pid)
                      if "executor" in open("/proc/%d/cmdline" % c).read()]
                if ex:
                    os.kill(ex[0], signal.SIGKILL)
                out, err = p.communicate(timeout=120)
                # the other executor re-runs what the lost one held
                assert p.returncode == 0, err
            else:
                p.send_signal(signal.SIGINT)  # millrace run cancels its job, stops its daemons
                p.communicate(timeout=120)
            time.sleep(0.2)
        got = wh.table(table)
        assert len(got) == len(set(got)), "a row was loaded twice after " + ev
        assert set(got) <= set(oracle(data))
        r = run(dag)  # catch up
        assert r.returncode == 0, r.stderr
        assert wh.table(table) == oracle(data), "after " + ev
    for dag in (dag_f, dag_c):  # the files of the last events
        assert run(dag).returncode == 0
    # both tables hold exactly what one clean run over every file loads
    clean = tmp_path / "clean"
    clean.mkdir()
    cw = Wh("sqlite", path=clean / "wh.db")
    cdag, cdata = make_dag(clean, cw, "clean", "files", "t")
    for f in data.glob("*.csv"):
        (cdata / f.name).write_bytes(f.read_bytes())
    assert run(cdag).returncode == 0
    assert wh.table("t_files") == cw.table("t") == wh.table("t_col")


def test_two_runs_at_once(tmp_path, wh):
    for inc, table in (("files", "t_files"), ("{column: updated_at}", "t_col")):
        name = "both_" + table
        dag, data = make_dag(tmp_path, wh, name, inc, table)
        for day in range(6):
            write_day(data, day)
        env = dict(os.environ, MILLRACE_TEST_BATCH_DELAY_MS="600")
        procs = [subprocess.Popen([binary("millrace"), "run", str(dag), "--executors", "2"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        codes = sorted(p.returncode for p in procs)
        # the runs overlap: the one that commits second fails, loading nothing
        assert codes == [0, 1], outs
        err = [o[1] for o, p in zip(outs, procs) if p.returncode == 1][0]
        # (on a loaded machine SQLite's busy timeout can expire first: the
        # second run then fails on the lock, which also loads nothing)
        assert "moved since this run read them" in err or "database is locked" in err, err
        assert wh.table(table) == oracle(data)
        r = run(dag)
        assert r.returncode == 0 and "nothing new" in r.stdout, r.stdout
        assert wh.table(table) == oracle(data)


def test_full_refresh_and_bookmarks_command(tmp_path, wh):
    dag_f, data = make_dag(tmp_path, wh, "fr_files", "files", "t_files")
    dag_c, _ = make_dag(tmp_path, wh, "fr_col", "{column: updated_at}", "t_col")
    for day in range(3):
        write_day(data, day)
    assert run(dag_f).returncode == 0
    assert run(dag_c).returncode == 0
    # --full-refresh reads everything again (an append table gets it twice)
    r = run(dag_f, "--full-refresh")
    assert r.returncode == 0 and "full refresh" in r.stdout and "3 new" in r.stdout, r.stdout
    assert sorted(wh.table("t_files")) == sorted(oracle(data) * 2)
    # and sets the bookmarks from what it loaded: the next run has nothing new
    r = run(dag_f)
    assert r.returncode == 0 and "nothing new" in r.stdout, r.stdout

    r = run_cli("bookmarks", dag_f)
    assert r.returncode == 0, r.stderr
    for day in range(3):
        assert "day-%03d.csv" % day in r.stdout
    r = run_cli("bookmarks", dag_c)
    assert r.returncode == 0 and "updated_at > 2024-01-03" in r.stdout, r.stdout
    # --set moves a column watermark back: the rows above it load again
    r = run_cli("bookmarks", dag_c, "--set", "src", "2024-01-02T23:59:59")
    assert r.returncode == 0 and "2024-01-02 23:59:59" in r.stdout, r.stdout + r.stderr
    r = run(dag_c)
    assert r.returncode == 0 and "40 rows above 2024-01-02 23:59:59" in r.stdout, r.stdout
    assert len(wh.table("t_col")) == 160
    # --reset forgets a read's files: the next run reads them all
    r = run_cli("bookmarks", dag_f, "--reset", "src")
    assert r.returncode == 0 and "none" in r.stdout, r.stdout
    r = run(dag_f)
    assert r.returncode == 0 and "3 new, 0 already" in r.stdout, r.stdout
    # bad edits say what is wrong and change nothing
    before = wh.bookmarks("fr_files")
    r = run_cli("bookmarks", dag_f, "--set", "src", "x")
    assert r.returncode == 2 and "incremental: files" in r.stderr, r.stderr
    r = run_cli("bookmarks", dag_c, "--set", "src", "yesterday")
    assert r.returncode == 2 and "timestamp" in r.stderr, r.stderr
    r = run_cli("bookmarks", dag_f, "--reset", "nope")
    assert r.returncode == 2 and "not an incremental read" in r.stderr, r.stderr
    assert wh.bookmarks("fr_files") == before
    r = run_cli("bookmarks", "--help")
    assert r.returncode == 0 and "--reset" in r.stdout and "--set" in r.stdout


def test_rest_shows_bookmarks(tmp_path, cluster_factory):
    c = cluster_factory()
    w = Wh("sqlite", path=tmp_path / "wh.db")
    dag_f, data = make_dag(tmp_path, w, "api_files", "files", "t_files")
    dag_c, _ = make_dag(tmp_path, w, "api_col", "{column: updated_at}", "t_col")
    for day in range(2):
        write_day(data, day)

    def submit(dag, **extra):
        r = c.post("/v1/jobs", json={"dag": dag.read_text(), **extra})
        assert r.status_code == 201, r.text
        j = c.wait_job(r.json()["id"])
        assert j["state"] == "succeeded", j
        return j["bookmarks"]

    b = submit(dag_f)
    assert b["moved"] and not b["nothing_new"] and not b["full_refresh"]
    (rd,) = b["reads"]
    assert (rd["node"], rd["kind"], rd["files_new"], rd["files_skipped"], rd["rows"]) == \
        ("src", "files", 2, 0, 80)
    assert sorted(os.path.basename(f) for f in rd["files"]) == ["day-000.csv", "day-001.csv"]
    b = submit(dag_f)
    assert b["nothing_new"] and not b["moved"] and b["reads"][0]["files_new"] == 0
    b = submit(dag_c)
    (rd,) = b["reads"]
    assert rd["watermark_before"] is None
    assert rd["watermark_after"] == max(r[3] for r in oracle(data))
    write_day(data, 2)
    b = submit(dag_c)
    (rd,) = b["reads"]
    assert rd["rows"] == 40 and rd["watermark_after"] == max(r[3] for r in oracle(data))
    assert rd["watermark_before"] < rd["watermark_after"]
    b = submit(dag_f, full_refresh=True)
    assert b["full_refresh"] and b["moved"] and b["reads"][0]["files_new"] == 3
    r = c.post("/v1/jobs", json={"dag": dag_f.read_text(), "full_refresh": "yes"})
    assert r.status_code == 400 and "full_refresh" in r.text


def test_cancelled_job_moves_nothing(tmp_path, cluster_factory, monkeypatch):
    monkeypatch.setenv("MILLRACE_TEST_BATCH_DELAY_MS", "300")
    c = cluster_factory()
    w = Wh("sqlite", path=tmp_path / "wh.db")
    dag, data = make_dag(tmp_path, w, "cancel_files", "files", "t_files")
    for day in range(2):
        write_day(data, day)
    r = c.post("/v1/jobs", json={"dag": dag.read_text()})
    assert r.status_code == 201, r.text
    assert c.wait_job(r.json()["id"])["state"] == "succeeded"
    before = w.bookmarks("cancel_files")
    for day in range(2, 8):
        write_day(data, day)
    r = c.post("/v1/jobs", json={"dag": dag.read_text()})
    jid = r.json()["id"]
    time.sleep(0.5)
    assert c.post("/v1/jobs/%s/cancel" % jid).status_code == 202
    j = c.wait_job(jid)
    assert j["state"] == "cancelled", j
    assert not j["bookmarks"]["moved"]
    assert w.bookmarks("cancel_files") == before
    assert len(w.table("t_files")) == 80
    r = c.post("/v1/jobs", json={"dag": dag.read_text()})
    j = c.wait_job(r.json()["id"])
    assert j["state"] == "succeeded" and j["bookmarks"]["reads"][0]["files_new"] == 6, j
    assert w.table("t_files") == oracle(data)


def test_bad_input(tmp_path):
    (tmp_path / "in").mkdir()
    write_day(tmp_path / "in", 0)
    dag = tmp_path / "bad.yaml"
    dag.write_text("""version: 1
name: bad
warehouse: {driver: sqlite, path: w.db}
nodes:
  a:
    op: read
    format: csv
    path: in/*.csv
    schema: {id: int64, ok: bool}
    incremental: {column: nope, every: day}
  b:
    op: read
    format: csv
    path: in/*.csv
    schema: {id: int64, ok: bool}
    incremental: {column: ok}
  c:
    op: read
    format: csv
    path: in/*.csv
    schema: {id: int64, ok: bool}
    incremental: daily
  d:
    op: read
    format: csv
    path: in/*.csv
    schema: {id: int64, ok: bool}
    incremental: [files]
  u: {op: union, inputs: [a, b, c, d]}
  w: {op: write, input: u, to: warehouse, table: t}
""")
    r = run_cli("validate", dag)
    assert r.returncode == 2
    errs = r.stderr
    assert "bad.yaml:10:27: error: incremental column 'nope' is not in the read's schema" in errs
    assert "bad.yaml:10:33: error: unknown key 'every' in incremental" in errs
    assert "bad.yaml:16:27: error: incremental column 'ok' is bool" in errs
    assert "bad.yaml:22:18: error: unknown incremental 'daily'" in errs
    assert "bad.yaml:28:18: error: 'incremental' must be files or {column: NAME}" in errs
    # a DAG that writes only files keeps its bookmarks in the default
    # warehouse (millrace.db beside it), so its second run has nothing new
    nowh = tmp_path / "nowh.yaml"
    nowh.write_text("""version: 1
name: nowh
nodes:
  a: {op: read, format: csv, path: in/*.csv, schema: %s, incremental: files}
  w: {op: write, input: a, to: csv, path: out, mode: overwrite}
""" % SCHEMA)
    r = run_cli("run", nowh)
    assert r.returncode == 0 and "1 new" in r.stdout, r.stderr
    r = run_cli("run", nowh)
    assert r.returncode == 0 and "nothing new" in r.stdout, r.stdout
    kinds = sqlite3.connect(tmp_path / "millrace.db").execute(
        "SELECT node, kind FROM millrace_bookmarks WHERE dag = 'nowh' ORDER BY kind").fetchall()
    assert kinds == [("a", "file"), ("", "run")]


def test_tickit_daily(tmp_path, tickit_data):
    """dags/tickit_daily.yaml over two days landed one after the other: sales
    appended once each, listings merged to their latest change, as DuckDB
    computes over every file."""
    daily = tmp_path / "daily"
    db = tmp_path / "daily.db"
    params = ["--param", "data=%s" % daily, "--param", "warehouse=%s" % db]

    def land(day):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "tickit_days.py"), "--src",
                        str(tickit_data), "--out", str(daily), "--first", day], check=True,
                       capture_output=True)

    dag = ROOT / "dags" / "tickit_daily.yaml"
    land("2008-03-01")
    r = run_cli("run", dag, *params)
    assert r.returncode == 0 and "1 new, 0 already loaded" in r.stdout, r.stdout + r.stderr
    land("2008-03-02")
    land("2008-03-03")
    # Day 3's sales sent twice: the salesid_unique check fails the run before
    # its commit, so nothing of days 2 and 3 is loaded or bookmarked.
    day3 = daily / "sales" / "sales-2008-03-03.txt"
    resent = daily / "sales" / "sales-2008-03-03-resent.txt"
    resent.write_bytes(day3.read_bytes())
    con = sqlite3.connect(db)
    before = con.execute("SELECT count(*) FROM sales").fetchone()[0]
    marks = con.execute("SELECT * FROM millrace_bookmarks ORDER BY node, item").fetchall()
    nchecks = con.execute("SELECT count(*) FROM millrace_checks").fetchone()[0]
    con.close()
    r = run_cli("run", dag, *params)
    ndup = len(day3.read_text().splitlines())
    assert r.returncode != 0, r.stdout
    assert ("check 'salesid_unique' failed: %d of " % (2 * ndup)) in r.stderr, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM sales").fetchone()[0] == before
    assert con.execute("SELECT * FROM millrace_bookmarks ORDER BY node, item").fetchall() == marks
    assert con.execute("SELECT count(*) FROM millrace_checks").fetchone()[0] == nchecks
    con.close()
    resent.unlink()
    r = run_cli("run", dag, *params)
    assert r.returncode == 0 and "2 new, 1 already loaded" in r.stdout, r.stdout + r.stderr
    r = run_cli("run", dag, *params)
    assert r.returncode == 0 and "nothing new" in r.stdout, r.stdout

    con = sqlite3.connect(db)
    got_sales = sorted((int(a), int(b), str(Decimal(str(c)).quantize(Decimal("0.01"))))
                       for a, b, c in con.execute("SELECT salesid, qtysold, pricepaid FROM sales"))
    want_sales = sorted((int(a), int(b), str(c)) for a, b, c in duckdb.sql(
        "SELECT column0, column6, column7::DECIMAL(8,2) FROM read_csv('%s/sales/*.txt', "
        "delim='|', header=false, auto_detect=true) WHERE column7 > 0 AND column6 > 0"
        % daily).fetchall())
    assert got_sales == want_sales and len(got_sales) > 100
    got_list = sorted((int(a), str(Decimal(str(b)).quantize(Decimal("0.01"))), str(c))
                      for a, b, c in con.execute(
                          "SELECT listid, priceperticket, changed_at FROM listing"))
    want_list = sorted((int(a), str(b), str(c)) for a, b, c in duckdb.sql(
        "SELECT column0, column5::DECIMAL(8,2), strftime(column8::TIMESTAMP, '%%Y-%%m-%%d "
        "%%H:%%M:%%S') FROM read_csv('%s/listings/*.txt', delim='|', header=false, "
        "auto_detect=true) QUALIFY row_number() OVER (PARTITION BY column0 ORDER BY column8 "
        "DESC) = 1" % daily).fetchall())
    assert got_list == want_list
    cuts = con.execute("SELECT count(*) FROM listing WHERE changed_at > listtime").fetchone()[0]
    assert cuts > 0  # some listings of earlier days had their price cut
    files = con.execute("SELECT node, count(*) FROM millrace_bookmarks WHERE dag = "
                        "'tickit_daily' AND kind = 'file' GROUP BY node ORDER BY node").fetchall()
    assert files == [("listing_changes", 3), ("sales", 3)]
    # every rule of both check nodes, once per run that committed rows
    checks = con.execute("SELECT node, rule, count(*), sum(rows_checked), min(passed) FROM "
                         "millrace_checks GROUP BY node, rule ORDER BY node, rule").fetchall()
    nsales = duckdb.sql("SELECT count(*) FROM read_csv('%s/sales/*.txt', delim='|', "
                        "header=false)" % daily).fetchall()[0][0]
    assert [(n, r, c) for n, r, c, _, _ in checks] == [
        ("listing_checked", "listid_present", 2), ("listing_checked", "price_positive", 2),
        ("sales_checked", "ids_present", 2), ("sales_checked", "price_positive", 2),
        ("sales_checked", "sales_landed", 2), ("sales_checked", "salesid_unique", 2)]
    assert all(rows == nsales for n, _, _, rows, _ in checks if n == "sales_checked")
    assert all(ok == 1 for *_, ok in checks)
