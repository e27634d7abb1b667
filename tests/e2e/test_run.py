"""`millrace run`: the TICKIT example end to end on a local cluster, checked
against DuckDB over the same file; bad DAGs and missing inputs."""
import decimal
import re
import sqlite3
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, run_cli

DAG = ROOT / "dags" / "tickit_sales.yaml"

SALES_COLUMNS = {
    "salesid": "INTEGER", "listid": "INTEGER", "sellerid": "INTEGER", "buyerid": "INTEGER",
    "eventid": "INTEGER", "dateid": "INTEGER", "qtysold": "INTEGER",
    "pricepaid": "DECIMAL(8,2)", "commission": "DECIMAL(8,2)", "saletime": "TIMESTAMP",
}


def expected_buyers(sales_file):
    """The same job computed by DuckDB: {buyerid: (tickets, spent, purchases)}."""
    con = duckdb.connect()
    rows = con.execute(
        "SELECT buyerid, sum(qtysold), sum(pricepaid), count(*) "
        "FROM read_csv(?, delim='|', header=false, columns=?) "
        "WHERE pricepaid > 0 AND qtysold > 0 GROUP BY buyerid",
        [str(sales_file), SALES_COLUMNS]).fetchall()
    return {r[0]: (int(r[1]), decimal.Decimal(r[2]), int(r[3])) for r in rows}


def warehouse_buyers(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT buyerid, tickets, spent, purchases FROM buyer_tickets").fetchall()
    con.close()
    return {r[0]: (int(r[1]), decimal.Decimal(str(r[2])), int(r[3])) for r in rows}


@pytest.mark.parametrize("executors", [1, 2])
def test_tickit_matches_duckdb(tickit_data, tmp_path, executors):
    db = tmp_path / "wh.db"
    r = run_cli("run", DAG, "--executors", executors, "--param", f"data={tickit_data}",
                "--param", f"warehouse={db}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"load_buyers\s+->\s+warehouse:buyer_tickets\s+[\d,]+ rows", r.stdout), r.stdout
    got = warehouse_buyers(db)
    want = expected_buyers(tickit_data / "sales_pipe.txt")
    assert len(got) == len(want) > 100
    assert got == want
    # the summary's row count is the table's
    n = int(re.search(r"buyer_tickets\s+([\d,]+) rows", r.stdout).group(1).replace(",", ""))
    assert n == len(want)
    # post_sql ran in the same commit: the view answers the question
    con = sqlite3.connect(db)
    top = con.execute("SELECT buyerid, tickets FROM top_buyers").fetchall()
    con.close()
    best = sorted(want.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
    assert top == [(b, v[0]) for b, v in best]


def test_rerun_overwrites_not_appends(tickit_data, tmp_path):
    db = tmp_path / "wh.db"
    for _ in range(2):
        r = run_cli("run", DAG, "--param", f"data={tickit_data}", "--param", f"warehouse={db}")
        assert r.returncode == 0, r.stderr
    assert warehouse_buyers(db) == expected_buyers(tickit_data / "sales_pipe.txt")


def test_malformed_dag_reports_position_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DAG.read_text().replace("op: filter", "op: filtr"))
    r = run_cli("run", bad)
    assert r.returncode == 2
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "filtr" in l)
    assert re.search(rf"{re.escape(str(bad))}:{line}:\d+: error: .*filtr", r.stderr), r.stderr
    v = run_cli("validate", bad)
    assert v.returncode == 2 and f"{bad}:{line}:" in v.stderr


def test_yaml_syntax_error_exits_2(tmp_path):
    bad = tmp_path / "syntax.yaml"
    bad.write_text("version: 1\nname: x\nnodes: [unclosed\n")
    r = run_cli("validate", bad)
    assert r.returncode == 2
    assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: error: ", r.stderr), r.stderr


def test_missing_input_file_is_an_invalid_dag_exit_2(tmp_path):
    """run checks its inputs as validate does, before starting anything."""
    r = run_cli("run", DAG, "--param", f"data={tmp_path}/nowhere", "--param",
                f"warehouse={tmp_path}/wh.db")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"input file '{tmp_path}/nowhere/sales_pipe.txt' does not exist" in r.stderr, r.stderr
    # nothing was written
    if (tmp_path / "wh.db").exists():
        con = sqlite3.connect(tmp_path / "wh.db")
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name='buyer_tickets'").fetchone()[0] == 0


def test_bad_row_fails_job_naming_file_and_line(tmp_path, tickit_data):
    data = tmp_path / "data"
    data.mkdir()
    lines = (tickit_data / "sales_pipe.txt").read_text().splitlines()
    # buyerid (a column the DAG reads) no longer an integer; a column no
    # node reads is not converted at all (column pruning), so it would pass
    f = lines[6].split("|")
    f[3] = "x" + f[3]
    lines[6] = "|".join(f)
    (data / "sales_pipe.txt").write_text("\n".join(lines) + "\n")
    r = run_cli("run", DAG, "--param", f"data={data}", "--param", f"warehouse={tmp_path}/wh.db")
    assert r.returncode == 1
    assert "sales_pipe.txt" in r.stderr and ":7" in r.stderr, r.stderr


def test_explain_and_validate(tickit_data, tmp_path):
    v = run_cli("validate", DAG, "--param", f"data={tickit_data}")
    assert v.returncode == 0, v.stderr
    # validate checks that the inputs are there; explain shows the plan anyway
    v = run_cli("validate", DAG, "--param", f"data={tmp_path}/nowhere")
    assert v.returncode == 2 and "sales_pipe.txt' does not exist" in v.stderr, v.stderr
    e = run_cli("explain", DAG, "--param", f"data={tmp_path}/nowhere")
    assert e.returncode == 0, e.stderr
    assert "stage 0" in e.stdout and "stage 1" in e.stdout
    assert "buyerid" in e.stdout


def test_usage_errors_exit_2():
    assert run_cli().returncode == 2
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("run").returncode == 2
    assert run_cli("run", DAG, "--executors", "0").returncode == 2
    h = run_cli("--help")
    assert h.returncode == 0 and "run DAG" in h.stdout
    for cmd in ("run", "validate", "explain", "submit", "jobs", "status", "cancel", "executors"):
        assert run_cli(cmd, "--help").returncode == 0, cmd


def _file_dag(tmp_path, fmt, mode):
    text = DAG.read_text()
    text = text.replace("    to: warehouse\n    table: buyer_tickets\n    mode: overwrite",
                        f"    to: {fmt}\n    path: out/buyers\n    mode: {mode}")
    text = text[:text.index("post_sql:")]
    p = tmp_path / f"files_{fmt}.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_file_output_parts_and_success(tickit_data, tmp_path, fmt):
    import json
    dag = _file_dag(tmp_path, fmt, "error_if_exists")
    r = run_cli("run", dag, "--param", f"data={tickit_data}", "--param", f"warehouse={tmp_path}/w.db")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out" / "buyers"
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == "_SUCCESS" and all(re.fullmatch(rf"part-\d{{5}}\.{fmt}", n) for n in names[1:])
    got = {}
    for part in out.glob(f"part-*.{fmt}"):
        if fmt == "csv":
            lines = part.read_text().splitlines()
            assert lines[0] == "buyerid,tickets,spent,purchases"
            rows = [l.split(",") for l in lines[1:]]
        else:
            rows = [list(json.loads(l).values()) for l in part.read_text().splitlines()]
        for b, t, s, p in rows:
            got[int(b)] = (int(t), decimal.Decimal(str(s)), int(p))
    assert got == expected_buyers(tickit_data / "sales_pipe.txt")
    # error_if_exists: a second run fails and leaves the output as it was
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r2 = run_cli("run", dag, "--param", f"data={tickit_data}", "--param", f"warehouse={tmp_path}/w.db")
    assert r2.returncode == 1 and "already exists" in r2.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in (tmp_path / "out").iterdir() if "millrace-tmp" in p.name]


def test_file_output_overwrite_replaces(tickit_data, tmp_path):
    out = tmp_path / "out" / "buyers"
    out.mkdir(parents=True)
    (out / "stale.csv").write_text("old\n")
    dag = _file_dag(tmp_path, "csv", "overwrite")
    r = run_cli("run", dag, "--param", f"data={tickit_data}", "--param", f"warehouse={tmp_path}/w.db")
    assert r.returncode == 0, r.stderr
    assert not (out / "stale.csv").exists() and (out / "_SUCCESS").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["buyers"]


def test_failed_job_leaves_no_file_output(tmp_path):
    dag = _file_dag(tmp_path, "csv", "overwrite")
    data = tmp_path / "bad"  # a row that fails the job once it runs
    data.mkdir()
    (data / "sales_pipe.txt").write_text("1|x|2|3|4|5|6|7|8.00|9.00|2008-01-01 00:00:00\n")
    r = run_cli("run", dag, "--param", f"data={data}", "--param", f"warehouse={tmp_path}/w.db")
    assert r.returncode == 1, r.stdout + r.stderr
    assert not (tmp_path / "out" / "buyers").exists()
    leftovers = [p for p in (tmp_path / "out").iterdir()] if (tmp_path / "out").exists() else []
    assert leftovers == []


def test_schema_inferred_relative_to_the_dag(tmp_path):
    """A read without a schema is typed from a sample of its file, found
    relative to the DAG's folder whatever the current directory is."""
    (tmp_path / "x.csv").write_text("id,name,amount\n1,a,2.50\n2,b,3.25\n3,,-1.00\n")
    (tmp_path / "j.yaml").write_text(
        "version: 1\nname: infer\nwarehouse: {path: w.db}\nnodes:\n"
        "  x: {op: read, format: csv, path: x.csv}\n"
        "  s: {op: aggregate, input: x, group_by: [], aggregates: {total: sum(amount), n: 'count(name)'}}\n"
        "  w: {op: write, input: s, to: warehouse, table: t, mode: overwrite}\n")
    e = run_cli("explain", tmp_path / "j.yaml", cwd="/")
    assert e.returncode == 0, e.stderr
    assert "total decimal(18,2)" in e.stdout
    r = run_cli("run", tmp_path / "j.yaml", cwd="/")
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(tmp_path / "w.db")
    total, n = con.execute("SELECT total, n FROM t").fetchone()
    assert decimal.Decimal(str(total)) == decimal.Decimal("4.75") and n == 2


def test_mismatching_table_fails_before_any_task(tickit_data, tmp_path):
    """An existing table whose columns do not fit the write fails the job
    before any data moves, and validate says so when the warehouse is there."""
    db = tmp_path / "wh.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE buyer_tickets (buyerid INTEGER, something_else TEXT)")
    con.execute("INSERT INTO buyer_tickets VALUES (1, 'keep me')")
    con.commit()
    con.close()
    v = run_cli("validate", DAG, "--param", f"data={tickit_data}", "--param", f"warehouse={db}")
    assert v.returncode == 2 and "buyer_tickets" in v.stderr and "error:" in v.stderr, v.stderr
    r = run_cli("run", DAG, "--param", f"data={tickit_data}", "--param", f"warehouse={db}")
    assert r.returncode == 1 and "buyer_tickets" in r.stderr, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT * FROM buyer_tickets").fetchall() == [(1, "keep me")]


def test_every_example_dag_explains():
    """Every DAG shipped in dags/ validates and explains its stages."""
    env = {"MILLRACE_WAREHOUSE_DSN": "host=127.0.0.1 port=1 dbname=none"}
    dags = sorted((ROOT / "dags").glob("*.yaml"))
    assert len(dags) >= 3
    for d in dags:
        e = run_cli("explain", d, env=env)
        assert e.returncode == 0, f"{d}: {e.stderr}"
        assert re.search(r"^stage 0 ", e.stdout, re.M), d
