"""The benchmark's sql DAGs: same plans and rows as the hand-written jobs,
and the TPC-H-like queries' answers equal DuckDB's.

Each benchmark job (bench/dags/q1, join, sort; dags/tickit.yaml) has a sql
version in bench/dags/sql/ that must `explain` to the same stages and
operators (node names aside: a sql node's steps are named <id>.<n>; and a
join's right-side prefix, see RENAMES) and
write the same rows.  Each TPC-H-like query DAG (bench/dags/sql/tpch_*.yaml)
runs on small generated data and its warehouse table is compared with
DuckDB's answer to the same query text over the same files (the bench's own
binding, bench/sql_bench.py).
"""
import csv
import sqlite3
import subprocess
import sys

import duckdb
import pytest

from conftest import ROOT, run_cli
from test_sql import plan_lines

sys.path.insert(0, str(ROOT / "bench"))
import sql_bench  # noqa: E402

PAIRS = sql_bench.PAIRS

# Names a sql node cannot choose: a join's clashing right-side columns take
# the prefix `alias.` (dags/tickit.yaml chose right_prefix event_).
RENAMES = {"tickit": [("right_prefix e.)", "right_prefix event_)"),
                      ("e.catid", "event_catid")]}


@pytest.fixture(scope="module")
def tpch(tmp_path_factory):
    out = tmp_path_factory.mktemp("tpch")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_tpch.py"), "--scale", "0.003",
                    "--out", str(out)], check=True, capture_output=True)
    return out


def args(job, data, out):
    p = ["--param", f"data={data}"]
    return p + (["--param", f"out={out / 'sorted'}"] if job == "sort"
                else ["--param", f"warehouse={out / 'wh.db'}"])


def tables(out):
    """Every table and view of a run's warehouse (or the sort's CSV rows in
    file order), as lists of rows."""
    if (out / "sorted").exists():
        rows = []
        for f in sorted((out / "sorted").glob("part-*.csv")):
            with open(f, newline="") as fh:
                rows += list(csv.reader(fh))
        return {"sorted": rows}
    with sqlite3.connect(out / "wh.db") as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master "
                                         "WHERE type IN ('table', 'view') AND name NOT LIKE '\\_%' "
                                         "ESCAPE '\\' ORDER BY name")]
        return {n: sorted(c.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}


@pytest.mark.parametrize("job", sorted(PAIRS))
def test_sql_job_has_the_hand_written_plan_and_rows(tmp_path, job, tpch, tickit_data):
    hand, sql = PAIRS[job]
    data = tickit_data if job == "tickit" else tpch
    plans, results = [], []
    for side, dag in (("hand", hand), ("sql", sql)):
        out = tmp_path / side
        out.mkdir()
        r = run_cli("explain", dag, *args(job, data, tmp_path))
        assert r.returncode == 0, r.stderr
        text = r.stdout
        for a, b in RENAMES.get(job, []) if side == "sql" else []:
            text = text.replace(a, b)
        plans.append(plan_lines(text))
        r = run_cli("run", dag, *args(job, data, out))
        assert r.returncode == 0, r.stdout + r.stderr
        results.append(tables(out))
    assert plans[0] == plans[1], "\n".join(plans[0]) + "\n----\n" + "\n".join(plans[1])
    assert any(len(l) for l in plans[0])
    assert results[0].keys() == results[1].keys()
    for name in results[0]:
        assert results[0][name], name
        assert results[0][name] == results[1][name], name


@pytest.mark.parametrize("query", sql_bench.QUERIES)
def test_tpch_query_matches_duckdb(tmp_path, query, tpch):
    dag = sql_bench.query_dag(query)
    _, _, table = sql_bench.sql_node(dag)
    r = run_cli("run", dag, "--param", f"data={tpch}", "--param", f"warehouse={tmp_path / 'wh.db'}")
    assert r.returncode == 0, r.stdout + r.stderr
    with sqlite3.connect(tmp_path / "wh.db") as c:
        got = c.execute(f"SELECT * FROM {table}").fetchall()
    want = duckdb.connect().execute(sql_bench.duck_query(dag, str(tpch))).fetchall()
    assert want, f"{query}: DuckDB's answer is empty at this scale"
    assert sql_bench.compare(query, got, want) == len(want)


def test_compare_catches_a_difference():
    with pytest.raises(RuntimeError):
        sql_bench.compare("x", [(1, 2.0)], [(1, 2.5)])
    with pytest.raises(RuntimeError):
        sql_bench.compare("x", [(1, 2.0)], [(1, 2.0), (2, 1.0)])
