"""Faults that used to leave things behind: an executor restarted at once
under the same --id, a coordinator killed mid-job or mid-commit (its staging
tables), PostgreSQL restarted during a load.  Every job must end with the
fault-free result, and nothing of a dead job may stay in the warehouse."""
import os
import signal
import subprocess

from conftest import binary
from test_faults import big_sales, busy_executor, check_result, slow_cluster, stage, submit, wait_for  # noqa: F401

# Far longer than any wait in these tests: a pass cannot come from the
# task timeout or from the executor being declared lost.
NO_TIMEOUTS = ("--task-timeout-ms", "600000", "--lost-after-ms", "600000")


def restart_executor(c, i):
    """Starts executor i again under the same --id, as `docker restart` does."""
    log = open(c.workdir / f"executor-{i}-again.log", "w")
    env = dict(os.environ, MILLRACE_TEST_BATCH_DELAY_MS="25")
    p = subprocess.Popen([binary("millrace-executor"), "--coordinator",
                          f"tcp://127.0.0.1:{c.ctl_port}", "--data-root", str(c.workdir),
                          "--id", f"e2e-{i}-{os.getpid()}", *c.executor_args],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    c.procs.append(p)
    return p


def test_executor_restarted_with_same_id_fails_over_its_tasks(cluster_factory, tmp_path, big_sales):
    c = slow_cluster(cluster_factory, tmp_path, big_sales, extra=NO_TIMEOUTS)
    job_id = submit(c, "wh.db")
    # some map tasks done (rows pushed to owners), others running
    j = wait_for(c, job_id, lambda j: stage(j, 0)["tasks"]["succeeded"] >= 2
                 and stage(j, 0)["state"] == "running")
    victim = busy_executor(c, j)
    c.executors[victim].send_signal(signal.SIGKILL)
    c.executors[victim].wait()
    restart_executor(c, victim)
    # far below the 600 s task timeout: only a fail-over can finish the job
    done = c.wait_job(job_id, timeout=240)
    assert done["state"] == "succeeded", done
    assert sum(s["tasks"]["retried"] for s in done["stages"]) >= 1, done
    check_result(tmp_path, "wh.db")
    log = (tmp_path / "coordinator.log").read_text()
    assert "restarted (new incarnation)" in log


# ---- PostgreSQL restarted during a load ------------------------------------

import glob  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

import pg  # noqa: E402
from conftest import ROOT  # noqa: E402
from test_faults import DAG_TEXT  # noqa: E402
from test_postgres import pg_buyers  # noqa: E402
from test_run import expected_buyers  # noqa: E402

PG_SCRIPT = ROOT / "scripts" / "pg_test_server.sh"


class PrivatePg:
    """A PostgreSQL server of this test's own (scripts/pg_test_server.sh), so
    stopping it disturbs no other test."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="millrace-pgr-")
        r = subprocess.run([str(PG_SCRIPT), "start", self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run([str(PG_SCRIPT), "stop", self.dir], capture_output=True)
            raise RuntimeError(f"cannot start PostgreSQL: {r.stderr}")
        self.dsn = next(l.split("=", 1)[1] for l in r.stdout.splitlines()
                        if l.startswith("MILLRACE_TEST_PG_DSN="))
        self.pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]

    def ctl(self, *args):
        cmd = [self.pg_ctl, "-D", f"{self.dir}/data", "-w", "-t", "60", *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def close(self):
        subprocess.run([str(PG_SCRIPT), "stop", self.dir], capture_output=True)


@pytest.fixture
def private_pg():
    s = PrivatePg()
    try:
        yield s
    finally:
        s.close()


def pg_dag(dsn):
    text, n = re.subn(r"warehouse:\n  driver: sqlite\n  path: \$\{warehouse\}\n",
                      f'warehouse:\n  driver: postgres\n  dsn: "{dsn}"\n', DAG_TEXT)
    assert n == 1, "dags/tickit_sales.yaml's warehouse block changed: update this test"
    return text


def test_postgres_restarted_mid_load_job_succeeds(cluster_factory, tmp_path, big_sales, private_pg):
    c = slow_cluster(cluster_factory, tmp_path, big_sales)
    r = c.post("/v1/jobs", json={"dag": pg_dag(private_pg.dsn), "params": {"data": "data"}})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    # the write stage is loading into PostgreSQL
    wait_for(c, job_id, lambda j: stage(j, 1)["tasks"]["running"] > 0)
    private_pg.ctl("-m", "fast", "stop")  # every open COPY is cut off
    time.sleep(3)  # the outage, not an assertion
    private_pg.ctl("-l", f"{private_pg.dir}/server.log", "start")
    done = c.wait_job(job_id, timeout=240)
    assert done["state"] == "succeeded", done
    assert pg_buyers(private_pg.dsn) == expected_buyers(tmp_path / "data" / "sales_pipe.txt")
    assert pg.query(private_pg.dsn, "SELECT count(*) FROM pg_tables "
                    "WHERE schemaname = 'millrace_staging'")[0][0] == 0
    log = (tmp_path / "coordinator.log").read_text()
    assert "retrying in" in log  # the outage was seen, and survived


# ---- the coordinator killed mid-job and mid-commit ---------------------------

import sqlite3  # noqa: E402

from conftest import free_port  # noqa: E402,F401
from test_faults import COORD_ARGS  # noqa: E402
from test_run import warehouse_buyers  # noqa: E402

# a short lease: the keeper renews and sweeps every second
LEASE_ARGS = ("--staging-lease-ms", "4000")
# post_sql that keeps the commit's transaction open for seconds
SLOW_SQLITE = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 30000000) "
               "SELECT count(*) FROM r")
SLOW_PG = "SELECT pg_sleep(6)"


def with_post_sql(text, stmt):
    head = text[:text.index("post_sql:")]
    return head + f"post_sql:\n  - \"{stmt}\"\n"


def restart_coordinator(c, extra):
    """kill -9 the coordinator, then start it again on the same addresses."""
    c.coordinator.send_signal(signal.SIGKILL)
    c.coordinator.wait()
    args = [binary("millrace-coordinator"), "--http", f"127.0.0.1:{c.http_port}",
            "--bind", f"tcp://127.0.0.1:{c.ctl_port}", "--data-root", str(c.workdir),
            *COORD_ARGS, *extra]
    log = open(c.workdir / "coordinator-again.log", "w")
    c.coordinator = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    c.procs.append(c.coordinator)
    c.wait_healthy()
    c.wait_executors(len(c.executors))


def sqlite_staging(tmp_path, db):
    """Names of the staging tables next to SQLite warehouse db."""
    path = tmp_path / f"{db}.staging"
    if not path.exists():
        return []
    con = sqlite3.connect(path, timeout=60)
    try:
        return [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB '[sr]_*'")]
    finally:
        con.close()


def staging_bytes(tmp_path, db):
    return sum(p.stat().st_size for p in tmp_path.glob(f"{db}.staging*"))


def pg_staging(dsn):
    return [r[0] for r in pg.query(dsn, "SELECT tablename FROM pg_tables "
                                         "WHERE schemaname = 'millrace_staging'")]


def wait_until(pred, timeout=90, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} never held")


def coordinator_logs(tmp_path):
    return "".join(p.read_text() for p in tmp_path.glob("coordinator*.log"))


@pytest.fixture
def pg_db():
    with pg.server() as server, pg.database(server) as dsn:
        yield dsn


@pytest.mark.parametrize("moment", ["job", "commit"])
@pytest.mark.parametrize("driver", ["sqlite", "postgres"])
def test_coordinator_killed_leaves_no_staging(cluster_factory, tmp_path, big_sales, request,
                                              driver, moment):
    extra = LEASE_ARGS
    c = slow_cluster(cluster_factory, tmp_path, big_sales, extra=extra)
    want = expected_buyers(tmp_path / "data" / "sales_pipe.txt")
    if driver == "sqlite":
        dag, params = DAG_TEXT, {"data": "data", "warehouse": "wh.db"}
        slow = SLOW_SQLITE
        table = lambda: warehouse_buyers(tmp_path / "wh.db")  # noqa: E731
        staging = lambda: sqlite_staging(tmp_path, "wh.db")  # noqa: E731
    else:
        dsn = request.getfixturevalue("pg_db")
        dag, params = pg_dag(dsn), {"data": "data"}
        slow = SLOW_PG
        table = lambda: pg_buyers(dsn)  # noqa: E731
        staging = lambda: pg_staging(dsn)  # noqa: E731

    def run(text):
        r = c.post("/v1/jobs", json={"dag": text, "params": params})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    # a first job fills the table: what a killed job must leave as it was
    assert c.wait_job(run(dag), timeout=240)["state"] == "succeeded"
    assert table() == want
    # the job to be killed: overwrite, with a post_sql that makes the commit slow
    job_id = run(with_post_sql(dag, slow))
    if moment == "job":  # some write tasks have staged their rows, others run
        wait_for(c, job_id, lambda j: stage(j, 1)["tasks"]["succeeded"] >= 1)
    else:
        wait_until(lambda: f"job={job_id} committing" in coordinator_logs(tmp_path), 240,
                   "the commit")
        time.sleep(1)  # inside the slow post_sql
    left = staging()
    assert left, "the killed job had staged nothing: the test proves nothing"
    size_at_kill = staging_bytes(tmp_path, "wh.db") if driver == "sqlite" else 0
    restart_coordinator(c, extra)
    # atomic: the killed job changed nothing
    assert table() == want
    # the next job into the same warehouse sweeps what the killed one left
    assert c.wait_job(run(dag), timeout=240)["state"] == "succeeded"
    assert table() == want
    # tasks of the dead job that were still running may stage after the
    # sweep; the keeper's next sweeps take those too
    wait_until(lambda: staging() == [], what="no staging left")
    assert "swept" in coordinator_logs(tmp_path)
    if driver == "sqlite":  # the staging file gave its space back
        wait_until(lambda: staging_bytes(tmp_path, "wh.db") < size_at_kill / 2, 30,
                   "the staging file shrinking")
