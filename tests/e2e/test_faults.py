"""Fault injection end to end: executors killed (SIGKILL) while reading,
shuffling and writing; the job must finish with exactly the fault-free
result and no duplicate rows.  Executors run with a per-batch delay (a test
hook, MILLRACE_TEST_BATCH_DELAY_MS) so the kills land mid-task."""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from test_run import expected_buyers, warehouse_buyers

DAG_TEXT = (ROOT / "dags" / "tickit_sales.yaml").read_text()
COORD_ARGS = ("--lost-after-ms", "1000", "--split-bytes", "200000", "--partitions", "6")


@pytest.fixture(scope="module")
def big_sales(tmp_path_factory):
    out = tmp_path_factory.mktemp("tickit_big")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_tickit.py"), "--scale", "0.3",
                    "--out", str(out)], check=True, capture_output=True)
    return out / "sales_pipe.txt"


def slow_cluster(cluster_factory, tmp_path, big_sales, executors=3, extra=()):
    (tmp_path / "data").mkdir(exist_ok=True)
    shutil.copy(big_sales, tmp_path / "data" / "sales_pipe.txt")
    os.environ["MILLRACE_TEST_BATCH_DELAY_MS"] = "25"
    try:
        return cluster_factory(executors=executors, extra=COORD_ARGS + tuple(extra))
    finally:
        del os.environ["MILLRACE_TEST_BATCH_DELAY_MS"]


def submit(c, db):
    r = c.post("/v1/jobs", json={"dag": DAG_TEXT, "params": {"data": "data", "warehouse": db}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait_for(c, job_id, pred, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        j = c.get(f"/v1/jobs/{job_id}").json()
        if pred(j):
            return j
        if j["state"] not in ("queued", "running"):
            pytest.fail(f"job ended before the fault point: {j}")
        time.sleep(0.02)
    pytest.fail("fault point never reached")


def check_result(tmp_path, db):
    got = warehouse_buyers(tmp_path / db)
    want = expected_buyers(tmp_path / "data" / "sales_pipe.txt")
    assert got == want
    con = sqlite3.connect(tmp_path / db)
    assert con.execute("SELECT count(*) FROM buyer_tickets").fetchone()[0] == len(want)
    con.close()


def busy_executor(c, job):
    """An executor that is running tasks right now (index into c.executors)."""
    ex = c.get("/v1/executors").json()["executors"]
    for e in ex:
        if e["running_tasks"] > 0 and e["state"] == "alive":
            return int(e["id"].split("-")[1])
    return 0


def stage(j, i):
    return j["stages"][i]


@pytest.mark.parametrize("moment", ["read", "shuffle", "write"])
def test_kill_executor_mid_job(cluster_factory, tmp_path, big_sales, moment):
    c = slow_cluster(cluster_factory, tmp_path, big_sales)
    job_id = submit(c, "wh.db")
    if moment == "read":      # the scan stage has started but little is done
        point = lambda j: stage(j, 0)["tasks"]["running"] > 0
    elif moment == "shuffle":  # some map tasks done (their rows pushed), others running
        point = lambda j: stage(j, 0)["tasks"]["succeeded"] >= 2 and stage(j, 0)["state"] == "running"
    else:                      # the map stage is done, reduce tasks are writing
        point = lambda j: stage(j, 1)["tasks"]["running"] > 0
    j = wait_for(c, job_id, point)
    victim = busy_executor(c, j)
    c.executors[victim].send_signal(signal.SIGKILL)
    done = c.wait_job(job_id, timeout=180)
    assert done["state"] == "succeeded", done
    retried = sum(s["tasks"]["retried"] for s in done["stages"])
    assert retried >= 1, done  # work really was redone
    check_result(tmp_path, "wh.db")
    log = (tmp_path / "coordinator.log").read_text()
    assert "lost" in log and "recomputing" in log


def test_kill_all_executors_fails_clearly(cluster_factory, tmp_path, big_sales):
    c = slow_cluster(cluster_factory, tmp_path, big_sales, executors=2,
                     extra=("--no-executor-timeout-ms", "1500"))
    job_id = submit(c, "wh.db")
    wait_for(c, job_id, lambda j: stage(j, 0)["tasks"]["running"] > 0)
    for p in c.executors:
        p.send_signal(signal.SIGKILL)
    done = c.wait_job(job_id, timeout=30)
    assert done["state"] == "failed"
    assert "no executor" in done["error"]
    # nothing reached the warehouse
    if (tmp_path / "wh.db").exists():
        con = sqlite3.connect(tmp_path / "wh.db")
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name='buyer_tickets'").fetchone()[0] == 0


def test_executor_joining_mid_job_takes_work(cluster_factory, tmp_path, big_sales):
    c = slow_cluster(cluster_factory, tmp_path, big_sales, executors=1)
    job_id = submit(c, "wh.db")
    wait_for(c, job_id, lambda j: stage(j, 0)["tasks"]["succeeded"] >= 1)
    os.environ["MILLRACE_TEST_BATCH_DELAY_MS"] = "25"
    try:
        c.add_executor()
    finally:
        del os.environ["MILLRACE_TEST_BATCH_DELAY_MS"]
    done = c.wait_job(job_id, timeout=180)
    assert done["state"] == "succeeded", done
    log = (tmp_path / "coordinator.log").read_text()
    assert f"-> executor=e2e-1-{os.getpid()}" in log, "the new executor got no task"
    check_result(tmp_path, "wh.db")


def test_cancel_mid_shuffle_leaves_nothing(cluster_factory, tmp_path, big_sales):
    c = slow_cluster(cluster_factory, tmp_path, big_sales, executors=2)
    job_id = submit(c, "wh.db")
    wait_for(c, job_id, lambda j: stage(j, 0)["tasks"]["succeeded"] >= 1)
    r = c.post(f"/v1/jobs/{job_id}/cancel")
    assert r.status_code == 202
    done = c.wait_job(job_id, timeout=30)
    assert done["state"] == "cancelled"
    # the stages that had not finished were stopped: none still says running
    states = [s["state"] for s in done["stages"]]
    assert "running" not in states and "waiting" not in states and "cancelled" in states, states
    assert c.post(f"/v1/jobs/{job_id}/cancel").status_code == 409
    # executors go idle and stay up
    end = time.time() + 10
    while time.time() < end:
        ex = c.get("/v1/executors").json()["executors"]
        if all(e["running_tasks"] == 0 for e in ex):
            break
        time.sleep(0.1)
    assert all(e["running_tasks"] == 0 and e["state"] == "alive" for e in ex), ex
    assert all(p.poll() is None for p in c.executors)
    # no target table, no staging left
    if (tmp_path / "wh.db").exists():
        con = sqlite3.connect(tmp_path / "wh.db")
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name='buyer_tickets'").fetchone()[0] == 0
    staging = tmp_path / "wh.db.staging"
    if staging.exists():
        con = sqlite3.connect(staging)
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] == 0
    # the cluster still runs the next job to the right answer
    job2 = submit(c, "wh2.db")
    assert c.wait_job(job2, timeout=180)["state"] == "succeeded"
    check_result(tmp_path, "wh2.db")
