"""Broadcast hash joins (dag/op_join.c): a small right input read whole by
every task of the left side's stage, neither side shuffled.

Every supported join kind runs with broadcast forced on (a huge
broadcast_threshold) and off (0); both must give the rows DuckDB gives over
the same files.  The data has NULL keys on both sides, duplicate keys on the
small side, and several files per side (several tasks, each reading every
file of the small side).  explain must name the broadcast join and its
reason, and never broadcast a right input whose size the files do not tell
(a tiny pair of files that explodes through a join).  An executor killed
mid-job must not change the result.
"""
import json
import random
import signal
import sqlite3
from collections import Counter

import duckdb
import pytest

from conftest import run_cli
from test_faults import big_sales, busy_executor, slow_cluster, stage, wait_for  # noqa: F401

KINDS = {"inner": "JOIN", "left": "LEFT JOIN", "semi": "SEMI JOIN", "anti": "ANTI JOIN"}
HUGE = 1 << 40


def make_data(d, seed=5):
    rng = random.Random(seed)
    (d / "big").mkdir()
    (d / "small").mkdir()
    for f in range(3):
        with open(d / "big" / f"part{f}.csv", "w") as out:
            out.write("id,k,v\n")
            for i in range(4000):
                k = "" if rng.random() < 0.05 else str(rng.randint(0, 80))
                out.write(f"{f * 10000 + i},{k},{rng.randint(-50, 50)}\n")
    # keys 0..39 only (big keys above have no match), duplicates, NULLs
    for f in range(2):
        with open(d / "small" / f"dim{f}.csv", "w") as out:
            out.write("k,name\n")
            for i in range(60):
                k = "" if rng.random() < 0.1 else str(rng.randint(0, 39))
                out.write(f"{k},n{f}_{i}\n")
    # a misleading pair: tiny files whose join has 400 x 400 rows
    for name in ("xa", "xb"):
        with open(d / f"{name}.csv", "w") as out:
            out.write("k,t\n")
            for i in range(400):
                out.write(f"{i % 2},{name}{i}\n")


def dag_text(how, threshold):
    cols = "{id: id, k: k, v: v}" if how in ("semi", "anti") else "{id: id, k: k, v: v, name: name}"
    return f"""version: 1
name: bc_{how}
broadcast_threshold: {threshold}
warehouse: {{driver: sqlite, path: wh.db}}
nodes:
  big: {{op: read, format: csv, path: big, schema: {{id: int64, k: int64, v: int64}}}}
  small: {{op: read, format: csv, path: small, schema: {{k: int64, name: string}}}}
  pos: {{op: filter, input: small, where: "name <> 'n0_3'"}}
  j: {{op: join, left: big, right: pos, how: {how}, on: [k]}}
  s: {{op: select, input: j, columns: {cols}}}
  w: {{op: write, input: s, to: warehouse, table: out, mode: overwrite}}
"""


def duck_rows(d, how):
    sel = "b.id, b.k, b.v" + ("" if how in ("semi", "anti") else ", s.name")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW big AS SELECT * FROM read_csv('{d}/big/*.csv', header=true, "
                "columns={'id': 'BIGINT', 'k': 'BIGINT', 'v': 'BIGINT'})")
    con.execute(f"CREATE VIEW small AS SELECT * FROM read_csv('{d}/small/*.csv', header=true, "
                "columns={'k': 'BIGINT', 'name': 'VARCHAR'}) WHERE name <> 'n0_3'")
    rows = con.execute(f"SELECT {sel} FROM big b {KINDS[how]} small s ON b.k = s.k").fetchall()
    return Counter(tuple(r) for r in rows)


def table_rows(db, table="out"):
    con = sqlite3.connect(db)
    try:
        return Counter(tuple(r) for r in con.execute(f"SELECT * FROM {table}"))
    finally:
        con.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("bcast")
    make_data(d)
    return d


@pytest.mark.parametrize("how", list(KINDS))
@pytest.mark.parametrize("threshold", [0, HUGE])
def test_join_matches_duckdb(data, tmp_path, how, threshold):
    dag = data / f"j_{how}_{threshold}.yaml"
    dag.write_text(dag_text(how, threshold).replace("wh.db", str(tmp_path / "wh.db")))
    ex = run_cli("explain", dag)
    assert ex.returncode == 0, ex.stderr
    if threshold:
        assert f"join j ({how} on k) broadcast: right input estimated at" in ex.stdout, ex.stdout
        assert "(broadcast: every task reads all of it)" in ex.stdout
        assert "hash(" not in ex.stdout  # neither side shuffled
        assert ex.stdout.startswith("job bc_%s: 1 stage" % how), ex.stdout
    else:
        assert "broadcast" not in ex.stdout
        assert "hash(k)" in ex.stdout
    r = run_cli("run", dag)
    assert r.returncode == 0, r.stderr + r.stdout
    want = duck_rows(data, how)
    assert sum(want.values()) > 100
    assert table_rows(tmp_path / "wh.db") == want


def test_unsupported_kinds_are_not_broadcast(data, tmp_path):
    dag = data / "kinds.yaml"
    # right and full joins need every right row's match state: never broadcast
    for how in ("right", "full"):
        dag.write_text(dag_text("inner", HUGE).replace("how: inner", f"how: {how}"))
        ex = run_cli("explain", dag)
        assert ex.returncode == 0, ex.stderr
        assert "broadcast" not in ex.stdout and "hash(k)" in ex.stdout


def test_threshold_between_estimate_and_zero(data, tmp_path):
    size = sum(p.stat().st_size for p in (data / "small").iterdir())
    for thr, bcast in ((size, True), (size - 1, False)):
        dag = data / "thr.yaml"
        dag.write_text(dag_text("inner", thr))
        ex = run_cli("explain", dag)
        assert ex.returncode == 0, ex.stderr
        assert (f"estimated at {size} bytes" in ex.stdout) == bcast, ex.stdout


def test_bad_threshold_is_an_error(data):
    dag = data / "bad.yaml"
    dag.write_text(dag_text("inner", -5))
    r = run_cli("validate", dag)
    assert r.returncode != 0
    assert "bad.yaml:3:" in r.stderr and "broadcast_threshold" in r.stderr, r.stderr


def test_misleading_small_files_are_not_broadcast(data, tmp_path):
    """Two tiny files whose join explodes: the right input of the outer
    join is that join, whose size the files do not tell."""
    text = f"""version: 1
name: mislead
broadcast_threshold: {HUGE}
warehouse: {{driver: sqlite, path: {tmp_path / 'wh.db'}}}
nodes:
  xa: {{op: read, format: csv, path: xa.csv, schema: {{k: int64, t: string}}}}
  xb: {{op: read, format: csv, path: xb.csv, schema: {{k: int64, t: string}}}}
  boom: {{op: join, left: xa, right: xb, how: inner, on: [k], right_prefix: b_}}
  big: {{op: read, format: csv, path: big, schema: {{id: int64, k: int64, v: int64}}}}
  j: {{op: join, left: big, right: boom, how: inner, on: [k], right_prefix: x_}}
  agg: {{op: aggregate, input: j, group_by: [k], aggregates: {{n: count(*)}}}}
  w: {{op: write, input: agg, to: warehouse, table: out, mode: overwrite}}
"""
    dag = data / "mislead.yaml"
    dag.write_text(text)
    ex = run_cli("explain", dag)
    assert ex.returncode == 0, ex.stderr
    # the inner join of the two tiny files is broadcast (its right is a file);
    # the join over its exploded output is not
    assert "join boom (inner on k, right_prefix b_) broadcast:" in ex.stdout
    assert "join j (inner on k, right_prefix x_) <- [shuffle read" in ex.stdout
    r = run_cli("run", dag)
    assert r.returncode == 0, r.stderr + r.stdout
    want = Counter(duckdb.sql(
        f"SELECT b.k, count(*) FROM read_csv('{data}/big/*.csv', header=true, "
        "columns={'id': 'BIGINT', 'k': 'BIGINT', 'v': 'BIGINT'}) b JOIN "
        f"(SELECT a.k FROM '{data}/xa.csv' a JOIN '{data}/xb.csv' x ON a.k = x.k) y "
        "ON b.k = y.k GROUP BY b.k").fetchall())
    assert table_rows(tmp_path / "wh.db") == want


SELLERS = 4000


def test_executor_killed_mid_broadcast_join(cluster_factory, tmp_path, big_sales):
    c = slow_cluster(cluster_factory, tmp_path, big_sales)
    rng = random.Random(3)
    with open(tmp_path / "data" / "sellers.csv", "w") as out:
        out.write("sellerid,region\n")
        for s in range(0, SELLERS, 2):
            out.write(f"{s},r{rng.randint(0, 9)}\n")
    dag = f"""version: 1
name: bc_kill
broadcast_threshold: {HUGE}
warehouse: {{driver: sqlite, path: wh.db}}
nodes:
  sales:
    op: read
    format: csv
    path: data/sales_pipe.txt
    csv: {{header: false, delimiter: "|"}}
    schema: {{salesid: int32, listid: int32, sellerid: int32, buyerid: int32, eventid: int32,
             dateid: int32, qtysold: int32, pricepaid: "decimal(8,2)", commission: "decimal(8,2)",
             saletime: timestamp}}
  sellers: {{op: read, format: csv, path: data/sellers.csv, schema: {{sellerid: int32, region: string}}}}
  j: {{op: join, left: sales, right: sellers, how: left, on: [sellerid]}}
  s: {{op: select, input: j, columns: {{salesid: salesid, region: region}}}}
  w: {{op: write, input: s, to: warehouse, table: out, mode: overwrite}}
"""
    r = c.post("/v1/jobs", json={"dag": dag})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    j = wait_for(c, job_id, lambda j: stage(j, 0)["tasks"]["succeeded"] >= 2
                 and stage(j, 0)["state"] == "running")
    assert len(j["stages"]) == 1, j  # broadcast: one stage, no shuffle
    plan = json.dumps(c.get(f"/v1/jobs/{job_id}/plan").json())
    assert '"broadcast": true' in plan and "broadcast_reason" in plan, plan
    victim = busy_executor(c, j)
    c.executors[victim].send_signal(signal.SIGKILL)
    done = c.wait_job(job_id, timeout=180)
    assert done["state"] == "succeeded", done
    assert sum(s["tasks"]["retried"] for s in done["stages"]) >= 1, done
    want = Counter(duckdb.sql(
        f"SELECT s.column0, r.region FROM read_csv('{tmp_path}/data/sales_pipe.txt', "
        "delim='|', header=false) s LEFT JOIN "
        f"read_csv('{tmp_path}/data/sellers.csv', header=true) r ON s.column2 = r.sellerid"
    ).fetchall())
    assert table_rows(tmp_path / "wh.db") == want
