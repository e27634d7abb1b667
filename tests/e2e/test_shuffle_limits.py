"""The shuffle's limits end to end: a skewed shuffle whose hot partition is
several times an executor's memory budget completes by spilling and matches
DuckDB, and leaves no spill file behind; cancelling mid-shuffle, with spill
files on disk, deletes them; a task that stops making progress is timed out
and run again (and fails the job, with a clear message, once it has used its
attempts)."""
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import duckdb
import pytest

from conftest import ROOT, binary
from test_run import expected_buyers, warehouse_buyers

BUDGET = 2_000_000  # each executor's --memory
ROWS = 200_000      # facts rows, ~95 bytes each; 90% share one key

SKEW_DAG = """
version: 1
name: skew
# the dims side is small: broadcast would skip the shuffle this file tests
broadcast_threshold: 0
params: {data: data, warehouse: wh.db}
warehouse: {driver: sqlite, path: "${warehouse}"}
nodes:
  facts:
    op: read
    format: csv
    path: ${data}/facts.csv
    csv: {header: true}
    schema: {id: int64, k: string, pad: string, v: int64}
  dims:
    op: read
    format: csv
    path: ${data}/dims.csv
    csv: {header: true}
    schema: {k: string, label: string}
  joined:
    op: join
    left: facts
    right: dims
    on: [k]
  per_key:
    op: aggregate
    input: joined
    group_by: [k, label]
    aggregates:
      n: count(*)
      total: sum(v)
      lo: min(pad)
      hi: max(pad)
  load:
    op: write
    input: per_key
    to: warehouse
    table: per_key
    mode: overwrite
"""


@pytest.fixture(scope="module")
def skew_data(tmp_path_factory):
    """facts.csv: 90% of rows have k = 'hot' (a join on k sends them all to
    one partition, raw: nothing reduces them before the shuffle); pads are
    random hex so they do not shrink much even compressed."""
    out = tmp_path_factory.mktemp("skew")
    rnd = random.Random(5)
    with open(out / "facts.csv", "w") as f:
        f.write("id,k,pad,v\n")
        for i in range(ROWS):
            k = "hot" if rnd.random() < 0.9 else f"k{rnd.randrange(500)}"
            f.write(f"{i},{k},{rnd.getrandbits(256):064x},{rnd.randrange(-1000, 1000)}\n")
    with open(out / "dims.csv", "w") as f:
        f.write("k,label\n")
        f.write("hot,the hot key\n")
        for i in range(500):
            f.write(f"k{i},label {i % 7}\n")
    return out


def start_cluster(cluster_factory, tmp_path, executors=2, coord_extra=(), exec_args=(), env=None):
    """A coordinator and executors with our own executor arguments (each
    with its own spill folder, tmp_path/spill-i)."""
    c = cluster_factory(executors=0, extra=coord_extra)
    for i in range(executors):
        spill = tmp_path / f"spill-{i}"
        spill.mkdir(exist_ok=True)
        e = dict(os.environ)
        e.update(env or {})
        log = open(tmp_path / f"executor-{i}.log", "w")
        p = subprocess.Popen([binary("millrace-executor"), "--coordinator",
                              f"tcp://127.0.0.1:{c.ctl_port}", "--data-root", str(tmp_path),
                              "--id", f"lim-{i}-{os.getpid()}", "--spill-dir", str(spill),
                              *exec_args], stdout=log, stderr=subprocess.STDOUT, env=e)
        c.executors.append(p)
        c.procs.append(p)
    c.wait_executors(executors)
    return c


def spill_files(tmp_path):
    """Regular files below every executor's spill folder."""
    found = []
    for d in tmp_path.glob("spill-*"):
        for root, _, files in os.walk(d):
            found += [os.path.join(root, f) for f in files]
    return found


def spilled_bytes(tmp_path):
    """The most any executor's log says it spilled in all."""
    most = 0
    for log in tmp_path.glob("executor-*.log"):
        for m in re.finditer(r"(\d+) bytes spilled in all", log.read_text()):
            most = max(most, int(m.group(1)))
    return most


def wait_until(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def expected_per_key(data):
    con = duckdb.connect()
    rows = con.execute(
        "SELECT f.k, d.label, count(*), sum(f.v), min(f.pad), max(f.pad) "
        "FROM read_csv(?, header=true, columns={'id': 'BIGINT', 'k': 'VARCHAR', "
        "'pad': 'VARCHAR', 'v': 'BIGINT'}) f "
        "JOIN read_csv(?, header=true, columns={'k': 'VARCHAR', 'label': 'VARCHAR'}) d "
        "ON f.k = d.k GROUP BY f.k, d.label",
        [str(data / "facts.csv"), str(data / "dims.csv")]).fetchall()
    return {(r[0], r[1]): (int(r[2]), int(r[3]), r[4], r[5]) for r in rows}


def warehouse_per_key(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT k, label, n, total, lo, hi FROM per_key").fetchall()
    con.close()
    return {(r[0], r[1]): (int(r[2]), int(r[3]), r[4], r[5]) for r in rows}


def copy_data(skew_data, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    for name in ("facts.csv", "dims.csv"):
        shutil.copy(skew_data / name, tmp_path / "data" / name)


def test_skewed_partition_spills_and_matches_duckdb(cluster_factory, tmp_path, skew_data):
    copy_data(skew_data, tmp_path)
    c = start_cluster(cluster_factory, tmp_path,
                      coord_extra=("--partitions", "4", "--zstd-level", "0",
                                   "--split-bytes", "2000000"),
                      exec_args=("--memory", str(BUDGET), "--shuffle-window", "8"))
    r = c.post("/v1/jobs", json={"dag": SKEW_DAG})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"], timeout=180)
    assert done["state"] == "succeeded", done
    assert warehouse_per_key(tmp_path / "wh.db") == expected_per_key(tmp_path / "data")
    # the hot partition (~17 MB raw) went mostly to disk: several budgets
    assert wait_until(lambda: spilled_bytes(tmp_path) >= 3 * BUDGET, timeout=5), \
        f"spilled only {spilled_bytes(tmp_path)} bytes"
    # and the job's release deleted every spill file
    assert wait_until(lambda: not spill_files(tmp_path)), spill_files(tmp_path)
    logs = "".join(p.read_text() for p in tmp_path.glob("executor-*.log"))
    assert "spill files" in logs and "released" in logs


def test_cancel_mid_shuffle_deletes_spill_files(cluster_factory, tmp_path, skew_data):
    copy_data(skew_data, tmp_path)
    c = start_cluster(cluster_factory, tmp_path,
                      coord_extra=("--partitions", "4", "--zstd-level", "0",
                                   "--split-bytes", "1000000"),
                      exec_args=("--memory", str(BUDGET)),
                      env={"MILLRACE_TEST_BATCH_DELAY_MS": "30"})
    r = c.post("/v1/jobs", json={"dag": SKEW_DAG})
    job_id = r.json()["id"]
    # cancel once spill files exist and the map stage is still running
    assert wait_until(lambda: spill_files(tmp_path), timeout=60), "nothing spilled"
    j = c.get(f"/v1/jobs/{job_id}").json()
    assert j["state"] == "running" and j["stages"][0]["state"] == "running", j
    assert c.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    assert c.wait_job(job_id, timeout=30)["state"] == "cancelled"
    assert wait_until(lambda: not spill_files(tmp_path)), spill_files(tmp_path)
    # executors idle, alive, and their spill folders hold no job folder
    assert wait_until(lambda: all(e["running_tasks"] == 0
                                  for e in c.get("/v1/executors").json()["executors"]))
    assert all(p.poll() is None for p in c.executors)
    for d in tmp_path.glob("spill-*"):
        for proc_dir in d.iterdir():
            assert list(proc_dir.iterdir()) == [], list(proc_dir.iterdir())
    # a clean stop removes the per-process spill folders themselves
    for p in c.executors:
        p.send_signal(signal.SIGTERM)
    for p in c.executors:
        p.wait(timeout=10)
    assert all(not list(d.iterdir()) for d in tmp_path.glob("spill-*"))


# ---- task progress timeout --------------------------------------------------

TICKIT = (ROOT / "dags" / "tickit_sales.yaml").read_text()  # the one-table TICKIT job


@pytest.fixture(scope="module")
def sales(tmp_path_factory):
    out = tmp_path_factory.mktemp("tickit_timeout")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_tickit.py"), "--scale", "0.1",
                    "--out", str(out)], check=True, capture_output=True)
    return out / "sales_pipe.txt"


def tickit_cluster(cluster_factory, tmp_path, sales, executors, env):
    (tmp_path / "data").mkdir(exist_ok=True)
    shutil.copy(sales, tmp_path / "data" / "sales_pipe.txt")
    return start_cluster(cluster_factory, tmp_path, executors=executors,
                         coord_extra=("--task-timeout-ms", "2000", "--split-bytes", "300000",
                                      "--partitions", "3"),
                         env=env)


def test_stuck_task_is_timed_out_and_rerun(cluster_factory, tmp_path, sales):
    # every task's first attempt stops after its first batch; later ones run
    c = tickit_cluster(cluster_factory, tmp_path, sales, 2,
                       {"MILLRACE_TEST_BATCH_DELAY_MS": "600000",
                        "MILLRACE_TEST_DELAY_ATTEMPTS": "1"})
    r = c.post("/v1/jobs", json={"dag": TICKIT, "params": {"data": "data", "warehouse": "wh.db"}})
    done = c.wait_job(r.json()["id"], timeout=120)
    assert done["state"] == "succeeded", done
    assert sum(s["tasks"]["retried"] for s in done["stages"]) >= 2, done
    assert warehouse_buyers(tmp_path / "wh.db") == expected_buyers(tmp_path / "data" / "sales_pipe.txt")
    log = (tmp_path / "coordinator.log").read_text()
    assert "timed out, retrying: stage 0 task 0: task made no progress for 2 s" in log


def test_task_never_progressing_fails_the_job(cluster_factory, tmp_path, sales):
    c = tickit_cluster(cluster_factory, tmp_path, sales, 1,
                       {"MILLRACE_TEST_BATCH_DELAY_MS": "600000"})
    r = c.post("/v1/jobs", json={"dag": TICKIT, "params": {"data": "data", "warehouse": "wh.db"}})
    t0 = time.time()
    done = c.wait_job(r.json()["id"], timeout=60)
    assert done["state"] == "failed", done
    assert re.search(r"stage 0 task \d+: task made no progress for 2 s", done["error"]), done
    assert time.time() - t0 < 30  # three attempts of ~2 s each, not the 10 minute sleep
    # the stuck attempts were stopped: the executor is idle again
    assert wait_until(lambda: all(e["running_tasks"] == 0
                                  for e in c.get("/v1/executors").json()["executors"]))
