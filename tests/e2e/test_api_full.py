"""The coordinator's whole REST API against real processes: every endpoint and
status code, auth on and off, a job's whole life (queued -> running ->
succeeded; failed with its error; cancelled), bad requests, slow clients,
the bounded history, Prometheus metrics, and the CLI client commands.

Every JSON response is checked against the OpenAPI document the coordinator
serves (docs/openapi.json) with jsonschema."""
import copy
import json
import socket
import sqlite3
import time

import jsonschema
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, Cluster, run_cli

OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text())

TINY_DAG = """\
version: 1
name: tiny
params:
  input: items.csv
  warehouse: tiny.db
warehouse:
  driver: sqlite
  path: ${warehouse}
nodes:
  items:
    op: read
    format: csv
    path: ${input}
    csv: {header: true}
    schema:
      k: int32
      v: int64
  by_k:
    op: aggregate
    input: items
    group_by: [k]
    aggregates:
      total: sum(v)
      n: count(*)
  out:
    op: write
    input: by_k
    to: warehouse
    table: totals
    mode: overwrite
"""
TINY_ROWS = 100  # k = i % 5, v = i


def write_tiny_data(folder):
    lines = ["k,v"] + [f"{i % 5},{i}" for i in range(TINY_ROWS)]
    (folder / "items.csv").write_text("\n".join(lines) + "\n")
    (folder / "bad.csv").write_text("k,v\n1,2\n3,notanumber\n")


def _to_json_schema(node):
    """OpenAPI 3.0 'nullable' -> JSON Schema type lists, recursively."""
    if isinstance(node, dict):
        out = {k: _to_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            if "type" in out:
                out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = out["enum"] + [None]
        return out
    if isinstance(node, list):
        return [_to_json_schema(v) for v in node]
    return node


_COMPONENTS = _to_json_schema(copy.deepcopy(OPENAPI["components"]))


def check_openapi(resp, path, method=None):
    """Asserts resp's status is documented for path/method and its JSON body
    matches the documented schema.  Returns the parsed body (or text)."""
    method = (method or resp.request.method).lower()
    op = OPENAPI["paths"][path][method]
    status = str(resp.status_code)
    assert status in op["responses"], f"{method.upper()} {path}: undocumented status {status}: {resp.text[:300]}"
    content = op["responses"][status].get("content", {})
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
    assert ctype in content, f"{method.upper()} {path} {status}: undocumented content type {ctype}"
    if ctype != "application/json":
        return resp.text
    body = resp.json()
    schema = {**_to_json_schema(content[ctype]["schema"]), "components": _COMPONENTS}
    jsonschema.Draft7Validator(schema).validate(body)
    return body


def submit(c, dag=TINY_DAG, **params):
    r = c.post("/v1/jobs", json={"dag": dag, "params": params})
    assert r.status_code == 201, r.text
    return check_openapi(r, "/v1/jobs")


def metrics(c, headers=None):
    r = requests.get(c.url + "/metrics", headers=headers or c.headers(), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out, r.text


def m(values, name, **labels):
    return values[(name, tuple(sorted(labels.items())))]


def alive(c):
    assert c.coordinator.poll() is None, "the coordinator exited"
    assert requests.get(c.url + "/healthz", timeout=5).json() == {"status": "ok"}


# ---------------------------------------------------------------- a job's life


def test_job_life_queued_then_runs_when_an_executor_joins(cluster_factory, tmp_path):
    write_tiny_data(tmp_path)
    c = cluster_factory(executors=0)
    job = submit(c, warehouse="life.db")
    assert job["state"] == "queued" and job["started_at"] is None and job["finished_at"] is None
    jid = job["id"]
    # With no executor the job stays queued (the scheduler runs every 50 ms).
    time.sleep(0.4)
    j = check_openapi(c.get(f"/v1/jobs/{jid}"), "/v1/jobs/{id}")
    assert j["state"] == "queued"
    assert [x["id"] for x in c.get("/v1/jobs?state=queued").json()["jobs"]] == [jid]
    vals, _ = metrics(c)
    assert m(vals, "millrace_jobs", state="queued") == 1
    assert m(vals, "millrace_executors", state="alive") == 0

    c.add_executor()
    c.wait_executors(1)
    done = c.wait_job(jid)
    check_openapi(c.get(f"/v1/jobs/{jid}"), "/v1/jobs/{id}")
    assert done["state"] == "succeeded", done
    assert done["error"] is None
    assert done["submitted_at"] <= done["started_at"] <= done["finished_at"]
    assert done["params"] == {"warehouse": "life.db"}
    scan, final = done["stages"]
    assert scan["rows_in"] == TINY_ROWS and scan["state"] == "succeeded"
    assert scan["operators"][0] == "scan items"
    assert final["operators"][-1] == "write out"
    assert done["outputs"] == [{"node": "out", "target": "warehouse:totals", "rows": 5}]
    con = sqlite3.connect(tmp_path / "life.db")
    got = dict(con.execute("SELECT k, total FROM totals").fetchall())
    con.close()
    assert got == {k: sum(i for i in range(TINY_ROWS) if i % 5 == k) for k in range(5)}

    # Metrics agree with the job.
    vals, text = metrics(c)
    ntasks = sum(s["tasks"]["total"] for s in done["stages"])
    assert m(vals, "millrace_tasks_total", state="succeeded") == ntasks
    assert m(vals, "millrace_tasks_total", state="failed") == 0
    assert m(vals, "millrace_tasks_total", state="retried") == 0
    assert m(vals, "millrace_jobs", state="succeeded") == 1
    assert m(vals, "millrace_jobs", state="queued") == 0
    assert m(vals, "millrace_jobs_finished_total", state="succeeded") == 1
    assert m(vals, "millrace_executors", state="alive") == 1
    assert m(vals, "millrace_rows_read_total") == TINY_ROWS
    assert m(vals, "millrace_rows_written_total") == 5
    assert m(vals, "millrace_bytes_read_total") == scan["bytes_read"] > 0
    assert m(vals, "millrace_bytes_shuffled_total") == scan["bytes_shuffled"] > 0
    assert m(vals, "millrace_task_duration_seconds_count") == ntasks
    assert m(vals, "millrace_task_duration_seconds_bucket", le="+Inf") == ntasks
    assert m(vals, "millrace_job_duration_seconds_count") == 1
    assert 0 < m(vals, "millrace_job_duration_seconds_sum") < 60
    assert "# TYPE millrace_task_duration_seconds histogram" in text
    assert "# HELP millrace_jobs " in text and "# TYPE millrace_jobs gauge" in text


def test_failed_job_reports_the_task_error(cluster_factory, tmp_path):
    write_tiny_data(tmp_path)
    c = cluster_factory(executors=1)
    bad = submit(c, input="bad.csv", warehouse="bad.db")
    missing = submit(c, input="nowhere.csv", warehouse="bad.db")
    done = c.wait_job(bad["id"])
    assert done["state"] == "failed"
    assert "bad.csv:3" in done["error"] and "notanumber" in done["error"], done["error"]
    assert done["outputs"][0]["rows"] == 0 and done["finished_at"] is not None
    gone = c.wait_job(missing["id"])
    assert gone["state"] == "failed" and "nowhere.csv" in gone["error"]
    check_openapi(c.get(f"/v1/jobs/{bad['id']}"), "/v1/jobs/{id}")
    assert not (tmp_path / "bad.db").exists() or sqlite3.connect(tmp_path / "bad.db").execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'totals'").fetchone()[0] == 0
    vals, _ = metrics(c)
    assert m(vals, "millrace_tasks_total", state="failed") == 1
    assert m(vals, "millrace_jobs", state="failed") == 2
    assert m(vals, "millrace_jobs_finished_total", state="failed") == 2
    assert m(vals, "millrace_rows_written_total") == 0


def test_cancel_a_queued_job_then_409(cluster_factory, tmp_path):
    write_tiny_data(tmp_path)
    c = cluster_factory(executors=0)
    job = submit(c)
    r = c.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 202
    body = check_openapi(r, "/v1/jobs/{id}/cancel")
    assert body["id"] == job["id"]
    done = c.wait_job(job["id"], timeout=10)
    assert done["state"] == "cancelled" and "cancel" in done["error"]
    r = c.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 409
    assert check_openapi(r, "/v1/jobs/{id}/cancel")["error"]["code"] == "conflict"
    r = c.post("/v1/jobs/jnosuchjob/cancel")
    assert r.status_code == 404
    check_openapi(r, "/v1/jobs/{id}/cancel")
    vals, _ = metrics(c)
    assert m(vals, "millrace_jobs_finished_total", state="cancelled") == 1
    assert m(vals, "millrace_job_duration_seconds_count") == 1
    assert m(vals, "millrace_tasks_total", state="succeeded") == 0


def test_rejected_rows_through_the_api(cluster_factory, tmp_path):
    (tmp_path / "rej.csv").write_text("k,v\n1,2\n3,notanumber\n4,x5\n2,7\n")
    dag = TINY_DAG.replace("    csv: {header: true}\n", "    csv: {header: true}\n    on_error: reject\n")
    c = cluster_factory(executors=1)
    job = submit(c, dag, input="rej.csv", warehouse="rej.db")
    done = c.wait_job(job["id"])
    assert done["state"] == "succeeded" and done["rejected_rows"] == 2, done
    assert done["outputs"][0]["rows"] == 2
    r = c.get(f"/v1/jobs/{job['id']}/rejects")
    body = check_openapi(r, "/v1/jobs/{id}/rejects")
    assert body["rejected_rows"] == 2
    got = sorted((x["line"], x["raw"], x["node"]) for x in body["rejects"])
    assert got == [(3, "3,notanumber", "items"), (4, "4,x5", "items")]
    for x in body["rejects"]:
        assert x["file"].endswith("rej.csv") and "invalid int64" in x["reason"]
    one = c.get(f"/v1/jobs/{job['id']}/rejects?limit=1").json()
    assert len(one["rejects"]) == 1 and one["rejected_rows"] == 2


# ----------------------------------------------------------- every endpoint


def test_every_endpoint_and_status_code(cluster_factory, tmp_path):
    write_tiny_data(tmp_path)
    c = cluster_factory(executors=1, extra=["--max-body-bytes", "65536"])
    get, post = c.get, c.post

    r = requests.get(c.url + "/healthz", timeout=5)
    assert check_openapi(r, "/healthz") == {"status": "ok"}
    r = get("/v1/openapi.json")
    assert r.status_code == 200 and r.json() == OPENAPI
    check_openapi(r, "/v1/openapi.json")
    assert get("/metrics").status_code == 200

    # submit: JSON and YAML, validate, errors
    job = submit(c, warehouse="every.db")
    r = post("/v1/jobs", data=TINY_DAG.replace("tiny.db", "yaml.db").encode(),
             headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201 and r.headers["Location"] == "/v1/jobs/" + r.json()["id"]
    check_openapi(r, "/v1/jobs")
    yaml_job = r.json()
    r = post("/v1/validate", json={"dag": TINY_DAG, "params": {"input": "x.csv"}})
    v = check_openapi(r, "/v1/validate")
    assert r.status_code == 200 and v["valid"] is True and len(v["plan"]["stages"]) == 2
    r = post("/v1/validate", data=TINY_DAG.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200
    bad = TINY_DAG.replace("input: items\n", "input: itemz\n")
    for path in ("/v1/jobs", "/v1/validate"):
        r = post(path, json={"dag": bad})
        assert r.status_code == 400
        err = check_openapi(r, path)["error"]
        assert err["code"] == "invalid_dag"
        line = bad.splitlines().index("    input: itemz") + 1
        assert any(e["line"] == line and "itemz" in e["message"] for e in err["errors"]), err
    r = post("/v1/jobs", data=b"name: x\nnodes: [\n", headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400
    err = check_openapi(r, "/v1/jobs")["error"]
    assert err["errors"][0]["line"] >= 2 and "YAML" in err["message"]
    r = post("/v1/jobs", data=b'{"dag": "x",\n  oops}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    err = check_openapi(r, "/v1/jobs")["error"]
    # cJSON points at or just after the bad token ("oops" starts at column 3)
    assert err["code"] == "bad_request" and err["line"] == 2 and err["column"] in (3, 4), err
    for body in ([1, 2], {"dag": 5}, {"dag": "x", "params": []}, {"dag": "x", "params": {"a": 1}},
                 {"dag": "x", "params": {f"p{i}": "v" for i in range(65)}},
                 {"dag": TINY_DAG, "base_dir": "/etc"}, {"dag": TINY_DAG, "base_dir": 7}):
        r = post("/v1/jobs", json=body)
        assert r.status_code == 400, (body, r.text)
        assert check_openapi(r, "/v1/jobs")["error"]["code"] == "bad_request"
    r = post("/v1/jobs", data=b"x" * 70000, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 413
    assert check_openapi(r, "/v1/jobs")["error"]["code"] == "too_large"
    r = post("/v1/validate", json={"dag": "x" * 70000})
    assert r.status_code == 413
    check_openapi(r, "/v1/validate")

    # jobs, one job, its plan and rejects
    c.wait_job(job["id"])
    c.wait_job(yaml_job["id"])
    r = get("/v1/jobs")
    listed = check_openapi(r, "/v1/jobs")["jobs"]
    assert [j["id"] for j in listed] == [yaml_job["id"], job["id"]]  # newest first
    assert [j["id"] for j in get("/v1/jobs?limit=1").json()["jobs"]] == [yaml_job["id"]]
    assert len(get("/v1/jobs?state=succeeded").json()["jobs"]) == 2
    assert get("/v1/jobs?state=failed").json()["jobs"] == []
    for q in ("state=bogus", "limit=0", "limit=10001", "limit=abc", "limit="):
        r = get("/v1/jobs?" + q)
        assert r.status_code == 400, q
        check_openapi(r, "/v1/jobs")
    jid = job["id"]
    assert check_openapi(get(f"/v1/jobs/{jid}"), "/v1/jobs/{id}")["id"] == jid
    r = get(f"/v1/jobs/{jid}/plan")
    plan = check_openapi(r, "/v1/jobs/{id}/plan")
    assert plan["name"] == "tiny" and [s["id"] for s in plan["stages"]] == [0, 1]
    r = get(f"/v1/jobs/{jid}/rejects")
    assert check_openapi(r, "/v1/jobs/{id}/rejects") == {"rejects": [], "rejected_rows": 0}
    assert get(f"/v1/jobs/{jid}/rejects?limit=5").status_code == 200
    for q in ("limit=0", "limit=x", "limit=99999"):
        r = get(f"/v1/jobs/{jid}/rejects?{q}")
        assert r.status_code == 400, q
        check_openapi(r, "/v1/jobs/{id}/rejects")
    for path, tmpl in ((f"/v1/jobs/jnope", "/v1/jobs/{id}"), ("/v1/jobs/jnope/plan", "/v1/jobs/{id}/plan"),
                       ("/v1/jobs/jnope/rejects", "/v1/jobs/{id}/rejects")):
        r = get(path)
        assert r.status_code == 404 and check_openapi(r, tmpl)["error"]["code"] == "not_found"
    # an id with bytes that are not UTF-8 still gets a JSON answer
    r = get("/v1/jobs/%FF%FEzz")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

    ex = check_openapi(get("/v1/executors"), "/v1/executors")["executors"]
    assert len(ex) == 1 and ex[0]["state"] == "alive" and 0 <= ex[0]["last_heartbeat_ms"] < 5000

    # unknown paths and wrong methods: 404, and 405 with Allow
    for path in ("/", "/v1", "/v1/nowhere", f"/v1/jobs/{jid}/nothing", "/v1/jobs//plan", "/metricsx"):
        r = get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    for method, path, allow in (("DELETE", "/v1/jobs", "GET, POST"), ("PUT", "/v1/jobs", "GET, POST"),
                                ("POST", "/healthz", "GET"), ("POST", "/metrics", "GET"),
                                ("POST", "/v1/openapi.json", "GET"), ("GET", "/v1/validate", "POST"),
                                ("DELETE", "/v1/executors", "GET"), ("DELETE", f"/v1/jobs/{jid}", "GET"),
                                ("POST", f"/v1/jobs/{jid}/plan", "GET"),
                                ("PATCH", f"/v1/jobs/{jid}/rejects", "GET"),
                                ("GET", f"/v1/jobs/{jid}/cancel", "POST"),
                                ("GET", "/v1/jobs/jnope/cancel", "POST")):
        r = requests.request(method, c.url + path, timeout=5)
        assert r.status_code == 405, (method, path, r.status_code)
        assert r.headers["Allow"] == allow, (method, path)
        assert r.json()["error"]["code"] == "method_not_allowed"
    alive(c)


def test_bad_requests_never_crash(cluster_factory):
    c = cluster_factory(executors=1)
    yaml = {"Content-Type": "application/yaml"}
    js = {"Content-Type": "application/json"}
    bodies = [
        (b"", yaml), (b"", js), (b"\xff\xfe\x00garbage\x80", yaml), (b"\xff\xfe\x00garbage", js),
        (b"[" * 20000, js), (b"[" * 20000, yaml), (b"{" * 5000 + b"}" * 5000, js),
        (b'{"dag": "\xc3\x28"}', js), (b'{"dag": "a\\u0000b"}', js), (b"null", js), (b'"x"', js),
        (b"a: &a [*a]", yaml), (b"- " * 5000, yaml), (b"name: \"\xed\xa0\x80\"\nnodes: {}", yaml),
        (b"version: 1\nname: x\nnodes:\n  a: {op: read, path: \"\xfe\"}\n", yaml),
        (json.dumps({"dag": "version: 1\nname: \udcff\n"}, ensure_ascii=True).encode(), js),
    ]
    for body, headers in bodies:
        for path in ("/v1/jobs", "/v1/validate"):
            r = c.post(path, data=body, headers=headers)
            assert r.status_code == 400, (path, body[:40], r.status_code, r.text[:200])
            err = check_openapi(r, path)["error"]
            assert err["code"] in ("bad_request", "invalid_dag") and err["message"]
    # A body shorter than declared, then the client goes away; a request
    # line that is not HTTP (answered with 4xx or a closed connection).
    with socket.create_connection(("127.0.0.1", c.http_port)) as s:
        s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nname: x")
    for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\xff" * 100 + b"\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", c.http_port)) as s:
            s.sendall(junk)
            s.settimeout(1)
            try:
                data = s.recv(100)
            except (ConnectionResetError, socket.timeout):
                data = b""  # dropped, or left to the idle timeout
            # MHD answers a version it does not speak with 505
            assert data == b"" or data.startswith((b"HTTP/1.1 4", b"HTTP/1.1 505")), data
            assert requests.get(c.url + "/healthz", timeout=5).status_code == 200
    alive(c)
    assert c.get("/v1/jobs").json()["jobs"] == []


# ------------------------------------------------------------------- auth


def test_auth_with_token_file(cluster_factory, tmp_path, monkeypatch):
    write_tiny_data(tmp_path)
    token = "tf-0123456789abcdef-secret"
    (tmp_path / "token").write_text(token + "\n")
    # The coordinator reads the token from the file only (no MILLRACE_TOKEN);
    # the test's requests send it.
    monkeypatch.delenv("MILLRACE_TOKEN", raising=False)
    monkeypatch.setattr(Cluster, "headers", lambda self: {"Authorization": f"Bearer {token}"})
    c = cluster_factory(executors=1, extra=["--token-file", str(tmp_path / "token")])
    assert requests.get(c.url + "/healthz", timeout=5).status_code == 200
    job = submit(c)
    jid = job["id"]
    calls = [("GET", "/v1/openapi.json", "/v1/openapi.json"), ("GET", "/metrics", "/metrics"),
             ("GET", "/v1/jobs", "/v1/jobs"), ("POST", "/v1/jobs", "/v1/jobs"),
             ("POST", "/v1/validate", "/v1/validate"), ("GET", "/v1/executors", "/v1/executors"),
             ("GET", f"/v1/jobs/{jid}", "/v1/jobs/{id}"), ("GET", f"/v1/jobs/{jid}/plan", "/v1/jobs/{id}/plan"),
             ("GET", f"/v1/jobs/{jid}/rejects", "/v1/jobs/{id}/rejects"),
             ("POST", f"/v1/jobs/{jid}/cancel", "/v1/jobs/{id}/cancel")]
    wrong = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {token}x"},
             {"Authorization": f"Bearer {token[:-1]}"}, {"Authorization": f"Basic {token}"},
             {"Authorization": token}, {"Authorization": "Bearer "}]
    for method, path, tmpl in calls:
        for h in wrong:
            r = requests.request(method, c.url + path, headers=h, json={"dag": TINY_DAG}, timeout=5)
            assert r.status_code == 401, (method, path, h)
            assert check_openapi(r, tmpl, method)["error"]["code"] == "unauthorized"
    # unknown paths and big bodies are 401 too without the token (nothing is buffered)
    assert requests.get(c.url + "/v1/nowhere", timeout=5).status_code == 401
    r = requests.post(c.url + "/v1/jobs", data=b"x" * (17 << 20), timeout=30)
    assert r.status_code == 401
    assert c.wait_job(jid)["state"] == "succeeded"
    assert c.get(f"/v1/jobs/{jid}/plan").status_code == 200
    assert c.get("/metrics").status_code == 200
    # the CLI sends MILLRACE_TOKEN
    r = run_cli("status", jid, "--coordinator", c.url, env={"MILLRACE_TOKEN": token})
    assert r.returncode == 0 and "succeeded" in r.stdout
    r = run_cli("status", jid, "--coordinator", c.url, env={"MILLRACE_TOKEN": "nope"})
    assert r.returncode == 1 and "token" in r.stderr
    c.stop()
    log = (tmp_path / "coordinator.log").read_text()
    assert token not in log and "auth=token" in log


# ------------------------------------------------------- slow clients, history


def test_slow_and_half_open_clients_time_out(cluster_factory):
    c = cluster_factory(executors=0, extra=["--http-timeout", "1"])
    socks = []
    for payload in (b"", b"GET /v1/jo", b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\n",
                    b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nname: x\n"):
        s = socket.create_connection(("127.0.0.1", c.http_port))
        s.sendall(payload)
        socks.append(s)
    t0 = time.time()
    # The server keeps answering others while those hang.
    for _ in range(5):
        assert requests.get(c.url + "/healthz", timeout=2).status_code == 200
    for s in socks:
        s.settimeout(6)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        assert data == b"" or data.startswith(b"HTTP/1.1 4"), data[:100]
        s.close()
    assert time.time() - t0 < 6
    alive(c)


def test_history_is_bounded(cluster_factory, tmp_path):
    c = cluster_factory(executors=1, extra=["--history", "2"])
    ids = []
    for i in range(3):
        j = submit(c, input=f"missing{i}.csv")
        assert c.wait_job(j["id"])["state"] == "failed"
        ids.append(j["id"])
    time.sleep(0.2)  # the scheduler trims on its next pass
    listed = [j["id"] for j in c.get("/v1/jobs").json()["jobs"]]
    assert listed == [ids[2], ids[1]]
    assert c.get(f"/v1/jobs/{ids[0]}").status_code == 404
    vals, _ = metrics(c)
    assert m(vals, "millrace_jobs", state="failed") == 2
    assert m(vals, "millrace_jobs_finished_total", state="failed") == 3


# ---------------------------------------------------------------------- CLI


def test_cli_client_commands(cluster_factory, tmp_path):
    write_tiny_data(tmp_path)
    c = cluster_factory(executors=0)
    (tmp_path / "tiny.yaml").write_text(TINY_DAG)
    r = run_cli("submit", tmp_path / "tiny.yaml", "--param", "warehouse=cli.db", "--coordinator", c.url)
    assert r.returncode == 0, r.stderr
    first = r.stdout.strip()
    r = run_cli("submit", tmp_path / "tiny.yaml", "--coordinator", c.url)
    second = r.stdout.strip()
    assert r.returncode == 0 and second != first

    r = run_cli("status", first, "--coordinator", c.url)
    assert r.returncode == 0, r.stderr
    assert f"job {first} (tiny): queued" in r.stdout and "warehouse=cli.db" in r.stdout
    r = run_cli("jobs", "--state", "queued", "--coordinator", c.url)
    assert r.returncode == 0 and first in r.stdout and second in r.stdout
    r = run_cli("jobs", "--limit", "1", "--coordinator", c.url)
    assert r.returncode == 0 and second in r.stdout and first not in r.stdout
    r = run_cli("cancel", second, "--coordinator", c.url)
    assert r.returncode == 0 and second in r.stdout
    assert c.wait_job(second, timeout=10)["state"] == "cancelled"
    r = run_cli("cancel", second, "--coordinator", c.url)
    assert r.returncode == 1 and "already finished" in r.stderr

    c.add_executor()
    assert c.wait_job(first)["state"] == "succeeded"
    r = run_cli("status", first, "--coordinator", c.url)
    assert r.returncode == 0
    out = r.stdout
    assert f"job {first} (tiny): succeeded" in out
    assert "stage 0" in out and "stage 1" in out and "scan items" in out
    assert "out -> warehouse:totals: 5 rows" in out
    r = run_cli("status", first, "--json", "--coordinator", c.url)
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == first
    r = run_cli("jobs", "--state", "cancelled", "--json", "--coordinator", c.url)
    assert [j["id"] for j in json.loads(r.stdout)["jobs"]] == [second]
    r = run_cli("executors", "--coordinator", c.url)
    assert r.returncode == 0 and r.stdout.count("alive") == 1
    r = run_cli("executors", "--json", "--coordinator", c.url)
    assert len(json.loads(r.stdout)["executors"]) == 1

    # submit: 2 for a DAG the coordinator finds invalid, 1 for a job that fails
    (tmp_path / "invalid.yaml").write_text(TINY_DAG.replace("input: items\n", "input: itemz\n"))
    r = run_cli("submit", tmp_path / "invalid.yaml", "--coordinator", c.url)
    assert r.returncode == 2 and "itemz" in r.stderr, r.stderr
    r = run_cli("submit", tmp_path / "tiny.yaml", "--param", "input=bad.csv", "--wait",
                "--coordinator", c.url)
    assert r.returncode == 1 and "notanumber" in r.stderr, r.stdout + r.stderr
    assert "stage 0" in r.stdout  # plain progress lines when not on a terminal

    # exit codes: 1 for a failed request, 2 for usage
    assert run_cli("status", "jnosuchjob", "--coordinator", c.url).returncode == 1
    assert run_cli("jobs", "--state", "bogus", "--coordinator", c.url).returncode == 1
    assert run_cli("jobs", "--limit", "--coordinator", c.url).returncode == 2
    assert run_cli("jobs", "--frobnicate", "1", "--coordinator", c.url).returncode == 2
    assert run_cli("status", "--coordinator", c.url).returncode == 2
    assert run_cli("status", "a", "b", "--coordinator", c.url).returncode == 2
    assert run_cli("status", "../etc", "--coordinator", c.url).returncode == 2
    r = run_cli("jobs", "--coordinator", "http://127.0.0.1:1")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    for cmd in ("jobs", "status", "cancel", "executors"):
        r = run_cli(cmd, "--help")
        assert r.returncode == 0 and "usage: millrace " + cmd in r.stdout
