"""The coordinator's REST API for the skeleton path: health, submit (YAML
and JSON bodies), job status to the end, errors, auth; the executor
processes started by hand."""
import shutil
import sqlite3

import requests

from conftest import ROOT
from test_run import expected_buyers, warehouse_buyers

DAG_TEXT = (ROOT / "dags" / "tickit_sales.yaml").read_text()


def stage_data(tmp_path, tickit_data):
    d = tmp_path / "data"
    d.mkdir(exist_ok=True)
    shutil.copy(tickit_data / "sales_pipe.txt", d / "sales_pipe.txt")
    return d


def test_healthz_and_executors(cluster_factory):
    c = cluster_factory(executors=2)
    r = requests.get(c.url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    ex = c.get("/v1/executors").json()["executors"]
    assert len(ex) == 2
    for e in ex:
        assert e["state"] == "alive" and e["slots"] >= 1 and e["address"].startswith("tcp://")
        assert e["shuffle_bytes_held"] >= 0 and e["shuffle_bytes_spilled"] >= 0


def test_submit_json_runs_to_success(cluster_factory, tmp_path, tickit_data):
    stage_data(tmp_path, tickit_data)
    c = cluster_factory(executors=2)
    r = c.post("/v1/jobs", json={"dag": DAG_TEXT, "params": {"data": "data", "warehouse": "wh.db"}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert r.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["state"] in ("queued", "running") and job["name"] == "tickit_sales"
    assert job["params"] == {"data": "data", "warehouse": "wh.db"}
    done = c.wait_job(job["id"])
    assert done["state"] == "succeeded", done
    assert done["error"] is None
    assert [s["state"] for s in done["stages"]] == ["succeeded", "succeeded"]
    scan, reduce = done["stages"]
    assert scan["tasks"]["succeeded"] == scan["tasks"]["total"] >= 1
    assert reduce["tasks"]["total"] >= 2 and reduce["bytes_shuffled"] == 0
    assert scan["bytes_shuffled"] > 0
    nsales = sum(1 for _ in open(tmp_path / "data" / "sales_pipe.txt"))
    assert scan["rows_in"] == nsales
    want = expected_buyers(tmp_path / "data" / "sales_pipe.txt")
    assert done["outputs"] == [{"node": "load_buyers", "target": "warehouse:buyer_tickets",
                                "rows": len(want)}]
    assert warehouse_buyers(tmp_path / "wh.db") == want
    listed = c.get("/v1/jobs").json()["jobs"]
    assert listed[0]["id"] == job["id"] and listed[0]["state"] == "succeeded"


def test_submit_yaml_body(cluster_factory, tmp_path, tickit_data):
    stage_data(tmp_path, tickit_data)
    c = cluster_factory(executors=1)
    text = DAG_TEXT.replace("../data/tickit", "data").replace("../millrace.db", "yaml.db")
    r = c.post("/v1/jobs", data=text.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"])
    assert done["state"] == "succeeded", done
    assert warehouse_buyers(tmp_path / "yaml.db") == expected_buyers(tmp_path / "data" / "sales_pipe.txt")


def test_invalid_dag_is_400_with_positions(cluster_factory):
    c = cluster_factory(executors=1)
    bad = DAG_TEXT.replace("input: paid", "input: payd")
    r = c.post("/v1/jobs", json={"dag": bad})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_dag"
    line = next(i for i, l in enumerate(bad.splitlines(), 1) if "input: payd" in l)
    assert any(e["line"] == line and "payd" in e["message"] for e in err["errors"]), err
    assert c.post("/v1/jobs", data=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert c.post("/v1/jobs", json={"nodag": 1}).status_code == 400


def test_failed_job_reports_error(cluster_factory, tmp_path):
    c = cluster_factory(executors=1)
    r = c.post("/v1/jobs", json={"dag": DAG_TEXT, "params": {"data": "missing", "warehouse": "f.db"}})
    assert r.status_code == 201
    done = c.wait_job(r.json()["id"])
    assert done["state"] == "failed"
    assert "sales_pipe.txt" in done["error"]


def test_unknown_job_and_methods(cluster_factory):
    c = cluster_factory(executors=1)
    r = c.get("/v1/jobs/jnope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert c.get("/v1/nowhere").status_code == 404
    assert requests.delete(c.url + "/v1/jobs", timeout=5).status_code == 405
    assert requests.post(c.url + "/healthz", timeout=5).status_code == 405


def test_body_over_limit_is_413(cluster_factory):
    c = cluster_factory(executors=1)
    r = c.post("/v1/jobs", data=b"x" * (17 << 20), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 413


def test_token_auth(cluster_factory, tmp_path, tickit_data):
    stage_data(tmp_path, tickit_data)
    c = cluster_factory(executors=1, token="s3cret-token")
    assert requests.get(c.url + "/healthz", timeout=5).status_code == 200
    assert requests.get(c.url + "/v1/jobs", timeout=5).status_code == 401
    assert requests.get(c.url + "/v1/jobs", timeout=5,
                        headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/v1/jobs").status_code == 200
    r = c.post("/v1/jobs", json={"dag": DAG_TEXT, "params": {"data": "data", "warehouse": "t.db"}})
    assert r.status_code == 201
    assert c.wait_job(r.json()["id"])["state"] == "succeeded"
    log = (tmp_path / "coordinator.log").read_text()
    assert "s3cret-token" not in log


def test_cli_submit_wait_against_running_coordinator(cluster_factory, tmp_path, tickit_data):
    from conftest import run_cli
    stage_data(tmp_path, tickit_data)
    c = cluster_factory(executors=2)
    dag = tmp_path / "job.yaml"
    dag.write_text(DAG_TEXT)
    r = run_cli("submit", dag, "--param", "data=data", "--param", "warehouse=cli.db", "--wait",
                "--coordinator", c.url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert warehouse_buyers(tmp_path / "cli.db") == expected_buyers(tmp_path / "data" / "sales_pipe.txt")
    j = run_cli("jobs", "--coordinator", c.url)
    assert j.returncode == 0 and "succeeded" in j.stdout
    e = run_cli("executors", "--coordinator", c.url)
    assert e.returncode == 0 and e.stdout.count("alive") == 2
    assert run_cli("status", "jnope", "--coordinator", c.url).returncode == 1


def test_daemons_exit_cleanly(cluster_factory, tmp_path, tickit_data):
    stage_data(tmp_path, tickit_data)
    c = cluster_factory(executors=2)
    r = c.post("/v1/jobs", json={"dag": DAG_TEXT, "params": {"data": "data", "warehouse": "x.db"}})
    assert c.wait_job(r.json()["id"])["state"] == "succeeded"
    c.stop()
    assert c.returncodes() == [0, 0, 0]
    # no staging left behind next to the warehouse
    staging = tmp_path / "x.db.staging"
    if staging.exists():
        con = sqlite3.connect(staging)
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] == 0
