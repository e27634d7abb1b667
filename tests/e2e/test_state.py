"""The coordinator's durable state (--state-dir): kill -9 of the coordinator
while jobs run, commit and finish, then a restart on the same state: every
job the API showed finished answers the same (stages, outputs, rejects,
checks, plan), jobs that were running are failed with the reason and their
warehouse staging (SQLite and PostgreSQL) and temporary file outputs are
gone, and new jobs run.  Also the retention (--history-days), a corrupt or
shared state file refused with a clear error, and :memory:."""
import json
import random
import signal
import sqlite3
import subprocess
import time

import pytest
import requests

from conftest import binary
from test_check import RULES, make_data
from test_faults import COORD_ARGS, DAG_TEXT, big_sales, slow_cluster, stage, wait_for  # noqa: F401
from test_recovery import (SLOW_PG, SLOW_SQLITE, pg_db, pg_dag, pg_staging,  # noqa: F401
                           sqlite_staging, wait_until, with_post_sql)

# test_faults' arguments, but executors are not declared lost on a loaded
# machine: these tests kill the coordinator, not executors
ARGS = COORD_ARGS + ("--lost-after-ms", "15000")


def quality_dag(data="data", out="out/quality"):
    """read -> check (rejects, warnings, a shuffle for unique) -> a
    warehouse table and a CSV file output."""
    rules = "".join(f"      - {r}\n" for r in RULES)
    return f"""version: 1
name: quality
params: {{data: {data}}}
warehouse: {{driver: sqlite, path: qwh.db}}
nodes:
  sales: {{op: read, format: csv, path: "${{data}}/*.csv", schema: {{id: int64, region: string, amount: int64, name: string}}}}
  q:
    op: check
    input: sales
    rules:
{rules}  load: {{op: write, input: q, to: warehouse, table: sales, mode: overwrite}}
  export: {{op: write, input: q, to: csv, path: {out}, mode: overwrite}}
"""


def post_job(c, dag, params=None):
    r = c.post("/v1/jobs", json={"dag": dag, "params": params or {}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def restart(c, extra=(), kill=True):
    """kill -9 (or stop) the coordinator, then start it again on the same
    addresses and data root (so the same default state dir)."""
    c.coordinator.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    c.coordinator.wait()
    args = [binary("millrace-coordinator"), "--http", f"127.0.0.1:{c.http_port}",
            "--bind", f"tcp://127.0.0.1:{c.ctl_port}", "--data-root", str(c.workdir),
            *ARGS, *extra]
    log = open(c.workdir / f"coordinator-{time.time_ns()}.log", "w")
    c.coordinator = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    c.procs.append(c.coordinator)
    c.wait_healthy()
    c.wait_executors(len(c.executors))


def snapshot(c, job_id):
    """What the API says of a job: record, rejects, plan."""
    return {k: c.get(f"/v1/jobs/{job_id}{k}").json() for k in ("", "/rejects", "/plan")}


def tmp_outputs(tmp_path):
    return sorted(p.name for p in (tmp_path / "out").glob("*.millrace-tmp-*"))


def coordinator_logs(tmp_path):
    return "".join(p.read_text() for p in sorted(tmp_path.glob("coordinator*.log")))


def kill_and_check(c, tmp_path, before, victim, staging):
    """kill -9 with job victim running; after the restart every job shown
    finished answers the same, the victim failed with the reason, its
    staging and temporary outputs gone."""
    finished = {j["id"]: snapshot(c, j["id"]) for j in c.get("/v1/jobs").json()["jobs"]
                if j["state"] not in ("queued", "running")}
    assert victim not in finished, "the job ended before the kill: the test proves nothing"
    assert staging(), "the running job had staged nothing: the test proves nothing"
    restart(c)
    for job_id, snap in {**before, **finished}.items():
        assert snapshot(c, job_id) == snap, job_id
    after = c.get(f"/v1/jobs/{victim}").json()
    assert after["state"] == "failed" and after["error"] == "coordinator restarted", after
    assert after["finished_at"] is not None
    assert all(s["state"] not in ("running", "waiting") for s in after["stages"])
    assert c.post(f"/v1/jobs/{victim}/cancel").status_code == 409
    # at start-up, or retried while the dead coordinator's commit still
    # holds its locks (PostgreSQL ends that session only when it notices)
    logs = coordinator_logs(tmp_path)
    assert (f"job={victim} staging swept at start-up" in logs
            or f"job={victim} cannot drop staging (retried later)" in logs)
    # tasks of the dead job still running on executors may stage after the
    # start-up sweep; the keeper's sweeps take those
    wait_until(lambda: staging() == [], 60, "no staging left")
    wait_until(lambda: tmp_outputs(tmp_path) == [], 60, "no temporary file output left")


@pytest.mark.parametrize("driver", ["sqlite", "postgres"])
def test_kill9_keeps_history_and_fails_running_jobs(cluster_factory, tmp_path, big_sales, request,
                                                    driver):
    c = slow_cluster(cluster_factory, tmp_path, big_sales, extra=ARGS[-2:])
    (tmp_path / "q").mkdir()
    make_data(tmp_path / "q", files=3, rows=3000)
    (tmp_path / "out").mkdir()
    # finished jobs: one with rejects, check results and two outputs, one failed
    done = post_job(c, quality_dag("q/data"))
    assert c.wait_job(done)["state"] == "succeeded"
    failed = post_job(c, quality_dag("nowhere"))
    assert c.wait_job(failed)["state"] == "failed"
    before = {j: snapshot(c, j) for j in (done, failed)}
    rec = before[done][""]
    assert rec["checks"] and before[done]["/rejects"]["rejects"], "nothing to compare"
    assert [o["rows"] for o in rec["outputs"]][0] > 0
    # 1. killed while a quality job runs: staging in its SQLite warehouse
    # and a temporary file output
    slow_file = post_job(c, quality_dag("q/data", out="out/slow"))
    wait_for(c, slow_file, lambda j: stage(j, 5)["tasks"]["succeeded"] >= 1, timeout=120)
    time.sleep(random.uniform(0, 0.5))
    kill_and_check(c, tmp_path, before, slow_file, lambda: sqlite_staging(tmp_path, "qwh.db"))
    # 2. killed while a TICKIT load commits (a slow post_sql holds the
    # commit open), its staging in SQLite or PostgreSQL
    if driver == "sqlite":
        dag, params = with_post_sql(DAG_TEXT, SLOW_SQLITE), {"data": "data", "warehouse": "wh.db"}
        staging = lambda: sqlite_staging(tmp_path, "wh.db")  # noqa: E731
    else:
        dsn = request.getfixturevalue("pg_db")
        dag, params = with_post_sql(pg_dag(dsn), SLOW_PG), {"data": "data"}
        staging = lambda: pg_staging(dsn)  # noqa: E731
    running = post_job(c, dag, params)
    wait_until(lambda: f"job={running} committing" in coordinator_logs(tmp_path), 120, "the commit")
    time.sleep(random.uniform(0.2, 1.0))  # inside the slow post_sql
    kill_and_check(c, tmp_path, before, running, staging)
    # the list: this run's jobs (none yet), then the history, newest first
    ids = [j["id"] for j in c.get("/v1/jobs").json()["jobs"]]
    assert ids[-2:] == [failed, done] and ids[:2] == [running, slow_file]
    assert [j["id"] for j in c.get("/v1/jobs?state=failed").json()["jobs"]][-1] == failed
    # new jobs run, and are listed first
    again = post_job(c, quality_dag("q/data"))
    assert c.wait_job(again)["state"] == "succeeded"
    assert c.get("/v1/jobs").json()["jobs"][0]["id"] == again


def test_kill9_at_random_moments(cluster_factory, tmp_path):
    """Rounds of small jobs with the coordinator killed at a random moment:
    nothing the API showed finished is lost or changed."""
    make_data(tmp_path, files=2, rows=1500)
    (tmp_path / "out").mkdir()
    c = cluster_factory(executors=2, extra=ARGS)
    rnd = random.Random()
    seen = {}
    for _ in range(4):
        ids = [post_job(c, quality_dag()) for _ in range(3)]
        deadline = time.time() + rnd.uniform(0.0, 2.0)
        while time.time() < deadline:  # what the API shows finished, up to the kill
            for j in c.get("/v1/jobs?limit=10000").json()["jobs"]:
                if j["state"] not in ("queued", "running") and j["id"] not in seen:
                    seen[j["id"]] = snapshot(c, j["id"])
        restart(c)
        for job_id, snap in seen.items():
            assert snapshot(c, job_id) == snap, job_id
        for job_id in ids:
            j = c.get(f"/v1/jobs/{job_id}").json()
            assert j["state"] == "succeeded" or (
                j["state"] == "failed" and j["error"] == "coordinator restarted"), j
        wait_until(lambda: tmp_outputs(tmp_path) == [], 60, "no temporary file output left")
    assert seen, "no job finished before a kill: the test proves nothing"
    j = post_job(c, quality_dag())
    assert c.wait_job(j)["state"] == "succeeded"


def test_history_days_retention(cluster_factory, tmp_path):
    make_data(tmp_path, files=1, rows=300)
    (tmp_path / "out").mkdir()
    c = cluster_factory(executors=1, extra=ARGS)
    old, new = post_job(c, quality_dag()), None
    assert c.wait_job(old)["state"] == "succeeded"
    new = post_job(c, quality_dag())
    assert c.wait_job(new)["state"] == "succeeded"
    c.coordinator.send_signal(signal.SIGTERM)
    c.coordinator.wait()
    db = sqlite3.connect(tmp_path / ".millrace-state" / "state.db")
    with db:  # as if the first job had finished three days ago
        db.execute("UPDATE jobs SET finished_at = finished_at - 3 * 86400000 WHERE id = ?", (old,))
    db.close()
    restart(c, kill=False)  # no retention given: kept
    assert c.get(f"/v1/jobs/{old}").status_code == 200
    restart(c, extra=("--history-days", "2"))
    assert c.get(f"/v1/jobs/{old}").status_code == 404
    assert c.get(f"/v1/jobs/{new}").json()["state"] == "succeeded"
    assert [j["id"] for j in c.get("/v1/jobs").json()["jobs"]] == [new]


def start_alone(tmp_path, *extra):
    return subprocess.run([binary("millrace-coordinator"), "--http", "127.0.0.1:0",
                           "--bind", "tcp://127.0.0.1:*", "--data-root", str(tmp_path), *extra],
                          capture_output=True, text=True, timeout=30)


def test_corrupt_or_shared_state_is_refused(cluster_factory, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "state.db").write_bytes(b"this is not a database, it is garbage " * 200)
    r = start_alone(tmp_path, "--state-dir", str(bad))
    assert r.returncode == 1
    assert f"state store {bad}/state.db is not a usable millrace state file" in r.stderr
    # a store in use by a running coordinator
    c = cluster_factory(executors=1)
    r = start_alone(tmp_path)
    assert r.returncode == 1 and "is in use by another coordinator" in r.stderr, r.stderr
    assert c.coordinator.poll() is None


def test_memory_state_keeps_nothing(cluster_factory, tmp_path):
    make_data(tmp_path, files=1, rows=300)
    (tmp_path / "out").mkdir()
    c = cluster_factory(executors=1, extra=("--state-dir", ":memory:"))
    j = post_job(c, quality_dag())
    assert c.wait_job(j)["state"] == "succeeded"
    assert not (tmp_path / ".millrace-state").exists()
    restart(c, extra=("--state-dir", ":memory:"))
    assert c.get(f"/v1/jobs/{j}").status_code == 404
    assert c.get("/v1/jobs").json()["jobs"] == []


def test_stored_text_has_no_secret(cluster_factory, tmp_path, monkeypatch):
    """A DSN password from ${env:} is masked in what the store keeps."""
    monkeypatch.setenv("MILLRACE_DAG_PW", "s3cr3t-Pa55word")
    make_data(tmp_path, files=1, rows=300)
    (tmp_path / "out").mkdir()
    c = cluster_factory(executors=1)
    dag = quality_dag().replace("warehouse: {driver: sqlite, path: qwh.db}",
                                'warehouse: {driver: postgres, dsn: "host=127.0.0.1 port=1 '
                                'password=${env:MILLRACE_DAG_PW} connect_timeout=1"}')
    j = post_job(c, dag)
    assert c.wait_job(j)["state"] == "failed"
    c.stop()
    raw = b"".join(p.read_bytes() for p in (tmp_path / ".millrace-state").glob("state.db*"))
    assert j.encode() in raw
    assert b"s3cr3t-Pa55word" not in raw
