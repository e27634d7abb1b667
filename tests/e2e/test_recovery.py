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
