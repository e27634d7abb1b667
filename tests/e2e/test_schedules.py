"""Schedules (POST/GET/DELETE /v1/schedules): a cron schedule submits jobs
whose rows land in the warehouse, a tick that comes while the schedule's
last job still runs is recorded as skipped (never two runs at once), an
`after:` schedule runs when its target DAG's job succeeds, DELETE stops a
schedule, the metrics count runs, bad input is a 400 with a clear message
and the token is required.  MILLRACE_TEST_CRON_SECONDS=1 makes a cron
minute last one second."""
import json
import os
import sqlite3
import time

import pytest
import requests

FIELDS = "id,amount\n"


def dag(name, table):
    return f"""version: 1
name: {name}
warehouse: {{driver: sqlite, path: swh.db}}
nodes:
  src: {{op: read, format: csv, path: "data/*.csv", schema: {{id: int64, amount: int64}}}}
  load: {{op: write, input: src, to: warehouse, table: {table}, mode: append}}
"""


@pytest.fixture
def cluster(cluster_factory, tmp_path, request):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text(FIELDS + "".join(f"{i},{i * 10}\n" for i in range(1, 6)))
    delay = getattr(request, "param", None)
    os.environ["MILLRACE_TEST_CRON_SECONDS"] = "1"
    if delay:
        os.environ["MILLRACE_TEST_BATCH_DELAY_MS"] = str(delay)
    try:
        c = cluster_factory(executors=1, token="s3cret")
    finally:
        os.environ.pop("MILLRACE_TEST_CRON_SECONDS", None)
        os.environ.pop("MILLRACE_TEST_BATCH_DELAY_MS", None)
    return c


def rows(tmp_path, table):
    con = sqlite3.connect(tmp_path / "swh.db")
    try:
        return con.execute(f"select count(*), sum(amount) from {table}").fetchone()
    except sqlite3.OperationalError:
        return (0, None)
    finally:
        con.close()


def delete(c, path):
    return requests.delete(c.url + path, headers=c.headers(), timeout=30)


def wait_runs(c, sid, n, timeout=60, state="succeeded"):
    end = time.time() + timeout
    while time.time() < end:
        s = c.get(f"/v1/schedules/{sid}").json()
        if sum(r["state"] == state for r in s["last_runs"]) >= n:
            return s
        time.sleep(0.2)
    raise AssertionError(f"schedule {sid} did not reach {n} {state} runs: {s}")


def test_cron_runs_jobs_and_delete_stops(cluster, tmp_path):
    c = cluster
    r = c.post("/v1/schedules", json={"dag": dag("every", "t_every"), "cron": "* * * * *",
                                      "tz": "Europe/Paris"})
    assert r.status_code == 201, r.text
    s = r.json()
    sid = s["id"]
    assert r.headers["Location"] == f"/v1/schedules/{sid}"
    assert s["dag_name"] == "every" and s["cron"] == "* * * * *" and s["tz"] == "Europe/Paris"
    assert len(s["next_runs"]) == 3
    s = wait_runs(c, sid, 3)
    ids = [x["job_id"] for x in s["last_runs"] if x["state"] == "succeeded"]
    assert len(set(ids)) == len(ids)
    for j in ids:
        assert c.get(f"/v1/jobs/{j}").json()["state"] == "succeeded"
    listed = c.get("/v1/schedules").json()["schedules"]
    assert [x["id"] for x in listed] == [sid]
    metrics = c.get("/metrics").text
    ok = [ln for ln in metrics.splitlines()
          if ln.startswith(f'millrace_schedule_runs_total{{schedule="{sid}",outcome="succeeded"}}')]
    assert ok and int(ok[0].split()[-1]) >= 3, metrics
    assert f'millrace_schedule_next_run_timestamp_seconds{{schedule="{sid}"}}' in metrics
    assert delete(c, f"/v1/schedules/{sid}").status_code == 200
    assert c.get(f"/v1/schedules/{sid}").status_code == 404
    assert delete(c, f"/v1/schedules/{sid}").status_code == 404
    time.sleep(1.5)  # a job submitted just before the delete finishes
    for j in c.get("/v1/jobs").json()["jobs"]:
        if j["state"] in ("queued", "running"):
            c.wait_job(j["id"])
    jobs = len(c.get("/v1/jobs").json()["jobs"])
    n, total = rows(tmp_path, "t_every")
    assert n == 5 * jobs and total == 150 * jobs  # every run appended the file once
    time.sleep(3)
    assert len(c.get("/v1/jobs").json()["jobs"]) == jobs, "a deleted schedule ran"


@pytest.mark.parametrize("cluster", [2500], indirect=True)
def test_overlapping_tick_is_skipped(cluster, tmp_path):
    c = cluster
    r = c.post("/v1/schedules", json={"dag": dag("slow", "t_slow"), "cron": "* * * * *"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    s = wait_runs(c, sid, 2, timeout=90, state="skipped")
    assert s["skipped_ticks"] >= 2
    delete(c, f"/v1/schedules/{sid}")
    jobs = c.get("/v1/jobs").json()["jobs"]
    # never two jobs of the schedule at once: each started after the last finished
    spans = sorted((j["submitted_at"], j.get("finished_at") or 0) for j in
                   (c.wait_job(x["id"]) for x in jobs))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, spans
    metrics = c.get("/metrics").text
    assert f'millrace_schedule_runs_total{{schedule="{sid}"' not in metrics  # deleted


def test_after_chain(cluster, tmp_path):
    c = cluster
    r = c.post("/v1/schedules", json={"dag": dag("second", "t_second"), "after": "first"})
    assert r.status_code == 400 and "first" in r.json()["error"]["message"], r.text
    r = c.post("/v1/jobs", json={"dag": dag("first", "t_first")})
    assert r.status_code == 201, r.text
    assert c.wait_job(r.json()["id"])["state"] == "succeeded"
    r = c.post("/v1/schedules", json={"dag": dag("second", "t_second"), "after": "first"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["after"] == "first" and r.json()["next_runs"] == []
    time.sleep(1)
    assert r.json()["last_runs"] == [] and rows(tmp_path, "t_second")[0] == 0
    r = c.post("/v1/jobs", json={"dag": dag("first", "t_first")})
    assert c.wait_job(r.json()["id"])["state"] == "succeeded"
    s = wait_runs(c, sid, 1)
    assert len(s["last_runs"]) == 1
    assert rows(tmp_path, "t_second") == (5, 150)


def test_bad_input_and_token(cluster):
    c = cluster
    good = dag("x", "t_x")
    bad = [({"dag": good, "cron": "61 * * * *"}, "minute"),
           ({"dag": good, "cron": "* * * *"}, "cron"),
           ({"dag": good, "cron": "* * * * *", "tz": "Mars/Olympus"}, "Mars/Olympus"),
           ({"dag": good, "after": "nosuchdag"}, "nosuchdag"),
           ({"dag": good}, "either"),
           ({"dag": good, "cron": "* * * * *", "after": "x"}, "either"),
           ({"cron": "* * * * *"}, "dag"),
           ({"dag": "version: 1\nname: y\nnodes: {a: {op: nope}}\n", "cron": "* * * * *"}, "DAG"),
           ({"dag": good, "cron": "* * * * *", "params": {"a": 1}}, "params")]
    for body, word in bad:
        r = c.post("/v1/schedules", json=body)
        assert r.status_code == 400, (body, r.text)
        assert word in r.json()["error"]["message"], (body, r.text)
    assert c.get("/v1/schedules").json() == {"schedules": []}
    assert requests.get(c.url + "/v1/schedules", timeout=10).status_code == 401
    assert requests.post(c.url + "/v1/schedules", json={"dag": good, "cron": "* * * * *"},
                         timeout=10).status_code == 401
    assert requests.delete(c.url + "/v1/schedules/x", timeout=10).status_code == 401
    assert c.get("/v1/schedules/nope").status_code == 404
    r = requests.put(c.url + "/v1/schedules", headers=c.headers(), timeout=10)
    assert r.status_code == 405


def test_cli(cluster, tmp_path):
    from conftest import run_cli
    c = cluster
    env = {"MILLRACE_COORDINATOR": c.url, "MILLRACE_TOKEN": "s3cret"}
    (tmp_path / "cli.yaml").write_text(dag("viacli", "t_cli"))
    for cmd in ("schedule", "schedules", "unschedule"):
        r = run_cli(cmd, "--help", env=env)
        assert r.returncode == 0 and r.stdout.startswith(f"usage: millrace {cmd}"), r
    r = run_cli("schedule", tmp_path / "cli.yaml", "--cron", "*/2 * * * *", "--tz", "UTC", env=env)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    r = run_cli("schedule", tmp_path / "cli.yaml", "--cron", "* * * * *", "--tz", "No/Where", env=env)
    assert r.returncode == 2 and "No/Where" in r.stderr, r
    r = run_cli("schedule", tmp_path / "cli.yaml", env=env)
    assert r.returncode == 2 and "--cron" in r.stderr, r
    assert run_cli("schedules", env={"MILLRACE_COORDINATOR": c.url, "MILLRACE_TOKEN": "bad"}).returncode != 0
    wait_runs(c, sid, 1)
    r = run_cli("schedules", env=env)
    assert r.returncode == 0 and sid in r.stdout and "viacli" in r.stdout and "*/2 * * * * UTC" in r.stdout, r.stdout
    r = run_cli("unschedule", sid, env=env)
    assert r.returncode == 0 and sid in r.stdout, r
    assert run_cli("unschedule", sid, env=env).returncode == 1
    r = run_cli("schedules", "--json", env=env)
    assert r.returncode == 0 and '"schedules"' in r.stdout and sid not in r.stdout


def test_restart_keeps_schedules_without_a_burst(cluster, tmp_path):
    """The schedule is in state.db with its DAG text as posted; after 6 missed ticks the restarted coordinator makes no
    catch-up burst: the next run is the next tick after the restart."""
    import signal
    import subprocess
    from conftest import binary
    c = cluster
    text = dag("kept", "t_kept")
    r = c.post("/v1/schedules", json={"dag": text, "cron": "* * * * *"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    wait_runs(c, sid, 2)
    con = sqlite3.connect(tmp_path / ".millrace-state" / "state.db")
    spec = con.execute("select spec from schedules where id = ?", (sid,)).fetchone()[0]
    con.close()
    assert json.loads(spec)["dag"] == text  # the text as posted
    c.coordinator.send_signal(signal.SIGTERM)
    c.coordinator.wait()
    time.sleep(6)  # six ticks missed
    env = dict(os.environ, MILLRACE_TOKEN="s3cret", MILLRACE_TEST_CRON_SECONDS="1")
    log = open(tmp_path / "coordinator-2.log", "w")
    c.coordinator = subprocess.Popen(
        [binary("millrace-coordinator"), "--http", f"127.0.0.1:{c.http_port}", "--bind",
         f"tcp://127.0.0.1:{c.ctl_port}", "--data-root", str(tmp_path)],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    c.procs.append(c.coordinator)
    c.wait_healthy()
    started = time.time()
    s = c.get(f"/v1/schedules/{sid}").json()
    assert s["cron"] == "* * * * *" and s["last_runs"] == []
    c.wait_executors(1, timeout=30)
    time.sleep(2.5 - (time.time() - started) if time.time() - started < 2.5 else 0)
    s = c.get(f"/v1/schedules/{sid}").json()
    runs = [x for x in s["last_runs"] if x["state"] != "skipped"]
    # at most one per second since the restart: never the six missed ticks
    assert 1 <= len(runs) <= 4, s
    s = wait_runs(c, sid, 1)
    assert rows(tmp_path, "t_kept")[0] >= 5
    assert delete(c, f"/v1/schedules/{sid}").status_code == 200
    con = sqlite3.connect(tmp_path / ".millrace-state" / "state.db")
    assert con.execute("select count(*) from schedules").fetchone()[0] == 0
    con.close()
