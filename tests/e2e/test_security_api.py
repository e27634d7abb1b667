"""The REST API against what a web page, a rebound DNS name, a hostile DAG
or a crowd of slow clients could do: content types, Origin and Host checks,
the bearer scheme in any case, ${env:} allowlist and masking, params kept
masked in job documents, the DAG size bound, slow clients not starving
/healthz."""
import json
import os
import resource
import socket
import threading
import time

import requests

from conftest import run_cli

SECRET = "s3cr3t-Value-9f8e7d"
PG_PASSWORD = "pgpass-71d0c2"

DAG = """version: 1
name: sec
params:
  dsn: "postgresql://u:nothing@h/db"
  note: plain
  tag: x
warehouse:
  driver: sqlite
  path: wh.db
nodes:
  people:
    op: read
    format: csv
    path: people.csv
    schema: {id: int64, name: string}
  tagged:
    op: derive
    input: people
    columns:
      tag: "'${tag}'"
      env_value: "'${env:MILLRACE_DAG_SECRET}'"
  load:
    op: write
    input: tagged
    to: warehouse
    table: people
    mode: overwrite
"""


def people(root):
    (root / "people.csv").write_text("id,name\n1,ann\n2,bob\n")


def yaml_post(c, path, text, **headers):
    h = {"Content-Type": "application/yaml"}
    h.update(headers)
    return c.post(path, data=text.encode(), headers=h)


# ------------------------------------------------------------ content type


def test_submit_needs_a_json_or_yaml_content_type(cluster_factory, tmp_path):
    people(tmp_path)
    c = cluster_factory(executors=0)
    text = DAG.replace("${env:MILLRACE_DAG_SECRET}", "x")
    for ctype in (None, "text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/octet-stream", "yaml"):
        for path in ("/v1/jobs", "/v1/validate"):
            h = {"Content-Type": ctype} if ctype else {}
            r = requests.post(c.url + path, data=text.encode(), headers=h, timeout=10)
            assert r.status_code == 415, (path, ctype, r.status_code, r.text)
            err = r.json()["error"]
            assert err["code"] == "unsupported_media_type" and "application/yaml" in err["message"]
    assert c.get("/v1/jobs").json()["jobs"] == []
    for ctype in ("application/yaml", "application/x-yaml", "text/yaml",
                  "application/yaml; charset=utf-8", "Application/YAML"):
        r = c.post("/v1/validate", data=text.encode(), headers={"Content-Type": ctype})
        assert r.status_code == 200, (ctype, r.text)
    r = c.post("/v1/validate", data=json.dumps({"dag": text}).encode(),
               headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    # a cancel has no body and needs no content type
    assert c.post("/v1/jobs/jnosuch/cancel").status_code == 404


# ------------------------------------------------------------ origin, host


def test_cross_origin_browser_requests_are_refused(cluster_factory, tmp_path):
    people(tmp_path)
    c = cluster_factory(executors=0, extra=["--allow-origin", "https://ui.example.com"])
    text = DAG.replace("${env:MILLRACE_DAG_SECRET}", "x")
    for origin in ("http://evil.example", "null", "https://ui.example.com.evil.example",
                   f"http://localhost:{c.http_port + 1}"):
        r = yaml_post(c, "/v1/jobs", text, Origin=origin)
        assert r.status_code == 403, (origin, r.status_code)
        assert r.json()["error"]["code"] == "origin_not_allowed"
        r = requests.get(c.url + "/v1/jobs", headers={"Origin": origin}, timeout=10)
        assert r.status_code == 403
    assert c.get("/v1/jobs").json()["jobs"] == []
    # the server's own origin, an allowed one, and no Origin at all (programs)
    for origin in (f"http://127.0.0.1:{c.http_port}", "https://ui.example.com"):
        assert yaml_post(c, "/v1/validate", text, Origin=origin).status_code == 200
    assert yaml_post(c, "/v1/validate", text).status_code == 200


def test_host_must_name_this_server(cluster_factory):
    c = cluster_factory(executors=0, extra=["--allow-host", "millrace.internal"])
    for host in ("evil.example", f"evil.example:{c.http_port}", "127.0.0.1.evil.example",
                 "localhost.evil.example", "[::1", "127.0.0.1:80x"):
        r = requests.get(c.url + "/v1/jobs", headers={"Host": host}, timeout=10)
        assert r.status_code == 403, (host, r.status_code)
        assert r.json()["error"]["code"] == "host_not_allowed"
        r = requests.post(c.url + "/v1/validate", data=b"x", timeout=10,
                          headers={"Host": host, "Content-Type": "application/yaml"})
        assert r.status_code == 403
    for host in (f"127.0.0.1:{c.http_port}", f"localhost:{c.http_port}", "localhost",
                 f"[::1]:{c.http_port}", "10.1.2.3:8080", f"millrace.internal:{c.http_port}",
                 "MILLRACE.internal"):
        r = requests.get(c.url + "/v1/jobs", headers={"Host": host}, timeout=10)
        assert r.status_code == 200, (host, r.status_code, r.text)


def test_bearer_scheme_in_any_case(cluster_factory):
    token = "tok-5b6c7d8e9f"
    c = cluster_factory(executors=0, token=token)
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        r = requests.get(c.url + "/v1/jobs", headers={"Authorization": f"{scheme} {token}"},
                         timeout=10)
        assert r.status_code == 200, scheme
    for bad in ("bearer wrong", f"bearer {token}x", f"basic {token}", token):
        r = requests.get(c.url + "/v1/jobs", headers={"Authorization": bad}, timeout=10)
        assert r.status_code == 401, bad


# ------------------------------------------------------ environment, params


def test_env_outside_the_allowlist_is_an_error(cluster_factory, tmp_path, monkeypatch):
    people(tmp_path)
    monkeypatch.setenv("MILLRACE_TOKEN_LIKE", SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    c = cluster_factory(executors=0)
    for name in ("AWS_SECRET_ACCESS_KEY", "MILLRACE_TOKEN_LIKE", "HOME"):
        text = DAG.replace("MILLRACE_DAG_SECRET", name)
        for path in ("/v1/validate", "/v1/jobs"):
            r = yaml_post(c, path, text)
            assert r.status_code == 400, r.text
            assert SECRET not in r.text
            e = r.json()["error"]["errors"][0]
            line = next(i for i, l in enumerate(text.splitlines(), 1) if "${env:" in l)
            assert (e["line"], e["column"]) == (line, text.splitlines()[line - 1].index("$") + 1)
            assert name in e["message"] and "--allow-env" in e["message"], e
    c.stop()
    # --allow-env widens the list (globs)
    c = cluster_factory(executors=0, extra=["--allow-env", "AWS_*"])
    r = yaml_post(c, "/v1/validate", DAG.replace("MILLRACE_DAG_SECRET", "AWS_SECRET_ACCESS_KEY"))
    assert r.status_code == 200, r.text
    assert SECRET not in r.text and "***" in r.text


def test_env_values_never_shown(cluster_factory, tmp_path, monkeypatch):
    people(tmp_path)
    monkeypatch.setenv("MILLRACE_DAG_SECRET", SECRET)
    monkeypatch.setenv("MILLRACE_DAG_WHERE", SECRET + "_col")
    c = cluster_factory(executors=1)
    r = yaml_post(c, "/v1/validate", DAG)
    assert r.status_code == 200 and SECRET not in r.text and "***" in r.text, r.text
    # an expression error quoting the substituted text
    bad = DAG.replace("'${env:MILLRACE_DAG_SECRET}'", "${env:MILLRACE_DAG_WHERE} + 1")
    r = yaml_post(c, "/v1/validate", bad)
    assert r.status_code == 400, r.text
    assert SECRET not in r.text and "***" in r.text, r.text
    # a job: its document, plan, list and the coordinator's log
    r = yaml_post(c, "/v1/jobs", DAG)
    assert r.status_code == 201 and SECRET not in r.text
    jid = r.json()["id"]
    done = c.wait_job(jid)
    assert done["state"] == "succeeded", done
    for path in (f"/v1/jobs/{jid}", f"/v1/jobs/{jid}/plan", "/v1/jobs"):
        body = c.get(path).text
        assert SECRET not in body, path
    assert "***" in c.get(f"/v1/jobs/{jid}/plan").text
    # the job itself used the real value
    import sqlite3
    with sqlite3.connect(tmp_path / "wh.db") as db:
        assert {v for (v,) in db.execute("SELECT env_value FROM people")} == {SECRET}
    # a failing job whose error would quote the value
    fail = DAG.replace("path: wh.db", "path: ${env:MILLRACE_DAG_SECRET}/wh.db")
    r = yaml_post(c, "/v1/jobs", fail)
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"])
    assert done["state"] == "failed" and SECRET not in json.dumps(done), done
    c.stop()
    assert SECRET not in (tmp_path / "coordinator.log").read_text()


def test_params_masked_in_job_documents(cluster_factory, tmp_path):
    people(tmp_path)
    c = cluster_factory(executors=1)
    params = {"dsn": f"postgresql://u:{PG_PASSWORD}@h/db",
              "note": f"host=h password={PG_PASSWORD} dbname=x", "tag": "visible"}
    text = DAG.replace("'${env:MILLRACE_DAG_SECRET}'", "'${note}'")
    r = c.post("/v1/jobs", json={"dag": text, "params": params})
    assert r.status_code == 201, r.text
    jid = r.json()["id"]
    c.wait_job(jid)
    doc = c.get(f"/v1/jobs/{jid}").json()
    assert doc["params"] == {"dsn": "***", "note": "host=h password=*** dbname=x",
                             "tag": "visible"}, doc["params"]
    for path in (f"/v1/jobs/{jid}", f"/v1/jobs/{jid}/plan", "/v1/jobs"):
        assert PG_PASSWORD not in c.get(path).text, path
    r = c.post("/v1/validate", json={"dag": text, "params": params})
    assert r.status_code == 200 and PG_PASSWORD not in r.text
    # a DSN password written in the DAG itself is masked wherever a string
    # of the plan shows it
    pg = text.replace("driver: sqlite\n  path: wh.db",
                      f'driver: postgres\n  dsn: "host=h user=u password={PG_PASSWORD}"')
    pg = pg.replace("'${note}'", f"'postgresql://u:{PG_PASSWORD}@h/db'")
    r = c.post("/v1/validate", json={"dag": pg})
    assert r.status_code == 200, r.text
    assert PG_PASSWORD not in r.text and "postgresql://u:***@h/db" in r.text
    c.stop()
    assert PG_PASSWORD not in (tmp_path / "coordinator.log").read_text()


def test_local_cli_reads_any_env_and_masks_it(tmp_path):
    people(tmp_path)
    dag = tmp_path / "d.yaml"
    dag.write_text(DAG.replace("MILLRACE_DAG_SECRET", "MY_APP_SETTING")
                   .replace("path: wh.db", "path: ${env:MY_APP_SETTING}.db"))
    r = run_cli("explain", dag, env={"MY_APP_SETTING": SECRET})
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout
    assert "sqlite ***.db" in r.stdout, r.stdout
    r = run_cli("validate", dag, env={"MY_APP_SETTING": SECRET})
    assert r.returncode == 0 and SECRET not in r.stdout + r.stderr


# ------------------------------------------------------------- DAG size


def chain(n):
    lines = ["version: 1", "name: big", "nodes:",
             "  n0: {op: read, format: csv, path: people.csv, schema: {id: int64, name: string}}"]
    lines += [f"  n{i}: {{op: filter, input: n{i - 1}, where: id > 0}}" for i in range(1, n)]
    lines += [f"  out: {{op: write, input: n{n - 1}, to: warehouse, table: t}}"]
    return "\n".join(lines) + "\n"


def test_dag_over_the_node_bound_is_refused(cluster_factory, tmp_path):
    people(tmp_path)
    c = cluster_factory(executors=0)
    r = yaml_post(c, "/v1/validate", chain(100000))
    assert r.status_code == 400, r.text[:300]
    e = r.json()["error"]["errors"]
    assert len(e) == 1 and "100001 nodes" in e[0]["message"], e
    assert "over the limit of 10000 " in e[0]["message"]
    assert e[0]["line"] == 3
    # under the bound but large: compiles (no n^2 lookups left)
    r = yaml_post(c, "/v1/validate", chain(5000))
    assert r.status_code == 200, r.text[:300]
    assert requests.get(c.url + "/healthz", timeout=10).status_code == 200
    c.stop()
    c = cluster_factory(executors=0, extra=["--max-nodes", "100"])
    r = yaml_post(c, "/v1/validate", chain(101))
    assert r.status_code == 400 and "over the limit of 100" in r.text
    c.stop()


def test_compile_time_is_bounded(cluster_factory, tmp_path):
    # A DAG under the node bound can still be slow (thousands of columns,
    # each expression looked up among all of them): the compile stops at
    # its deadline with an error.  1 ms is always over by the first
    # expression of a 5,000-node DAG.
    people(tmp_path)
    c = cluster_factory(executors=0, extra=["--max-compile-ms", "1"])
    r = yaml_post(c, "/v1/validate", chain(5000))
    assert r.status_code == 400, r.text[:300]
    e = r.json()["error"]["errors"]
    assert len(e) == 1 and "took over 1 ms" in e[0]["message"], e
    assert requests.get(c.url + "/healthz", timeout=10).status_code == 200


# ------------------------------------------------------------ slow clients


def test_slow_clients_do_not_starve_healthz(cluster_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    c = cluster_factory(executors=0, extra=["--http-timeout", "3"])
    socks = []
    for _ in range(520):
        try:
            s = socket.create_connection(("127.0.0.1", c.http_port), timeout=5)
            s.sendall(b"GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(s)
        except OSError:
            pass  # refused or closed: the per-address limit
    stop = threading.Event()

    def trickle():
        # a header line every second: never idle for the 3 s timeout
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            stop.wait(1)

    t = threading.Thread(target=trickle)
    t.start()
    try:
        ok = False
        for _ in range(60):
            try:
                if requests.get(c.url + "/healthz", timeout=2).status_code == 200:
                    ok = True
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        assert ok, "/healthz never answered while slow clients held connections"
        # the slow clients were cut off, not served
        closed = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                data = s.recv(100)
                closed += data == b"" or data.startswith(b"HTTP/1.1 4")
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except socket.timeout:
                pass
        assert closed >= len(socks) - 10, (closed, len(socks))
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()
    assert c.coordinator.poll() is None
