"""The OpenAPI document: served as docs/openapi.json says, consistent with the
routes the coordinator really has, and fuzzed with schemathesis against a
live coordinator (bounded examples): no 5xx, every status code, content type
and body as documented, and the coordinator still healthy afterwards.

schemathesis is pinned to 3.39.16 in scripts/setup.sh (3.x runs on
Python 3.11 and has the `st run` options used here)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import requests

from conftest import Cluster
from test_api_full import OPENAPI, TINY_DAG, alive, submit, write_tiny_data

METHODS = ("get", "post", "put", "patch", "delete")
TOKEN = "openapi-test-token"


def test_document_is_well_formed():
    assert OPENAPI["openapi"].startswith("3.0.")
    ops = [(p, m, op) for p, item in OPENAPI["paths"].items() for m, op in item.items()]
    assert len({op["operationId"] for _, _, op in ops}) == len(ops)
    # the spec's endpoints, all there
    want = {("/healthz", "get"), ("/v1/jobs", "post"), ("/v1/jobs", "get"), ("/v1/jobs/{id}", "get"),
            ("/v1/jobs/{id}/plan", "get"), ("/v1/jobs/{id}/rejects", "get"),
            ("/v1/jobs/{id}/cancel", "post"), ("/v1/validate", "post"), ("/v1/executors", "get"),
            ("/metrics", "get"), ("/v1/openapi.json", "get"), ("/v1/schedules", "get"),
            ("/v1/schedules", "post"), ("/v1/schedules/{id}", "get"), ("/v1/schedules/{id}", "delete")}
    assert {(p, m) for p, m, _ in ops} == want
    for p, m, op in ops:
        if p != "/healthz":
            assert "401" in op["responses"], (p, m)
            assert op.get("security", OPENAPI["security"]) == [{"bearer": []}]
        for status, resp in op["responses"].items():
            assert resp["description"]
            if int(status) >= 400:
                assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    # every $ref resolves
    text = (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text()
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', text)):
        assert ref in OPENAPI["components"]["schemas"], ref


def test_routes_match_the_document(cluster_factory):
    """The coordinator allows exactly the documented methods on each path."""
    c = cluster_factory(executors=0, token=TOKEN)
    assert c.get("/v1/openapi.json").json() == OPENAPI
    for path, item in OPENAPI["paths"].items():
        url = c.url + path.replace("{id}", "jnosuchjob")
        documented = sorted(m.upper() for m in item)
        for m in METHODS:
            r = requests.request(m, url, headers=c.headers(), timeout=5)
            if m in item:
                assert r.status_code in {int(s) for s in item[m]["responses"]}, (m, path, r.status_code)
            else:
                assert r.status_code == 405, (m, path, r.status_code)
                assert sorted(r.headers["Allow"].split(", ")) == documented, (m, path)
    alive(c)


def _schemathesis(c, tmp_path, *extra):
    st = shutil.which("st", path=os.path.dirname(sys.executable)) or "st"
    args = [st, "run", c.url + "/v1/openapi.json", "--base-url", c.url,
            "-H", f"Authorization: Bearer {TOKEN}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                        "response_schema_conformance,ignored_auth",
            "--validate-schema", "true", "--hypothesis-max-examples", "30",
            "--hypothesis-seed", "7", "--hypothesis-deadline", "30000",
            "--hypothesis-database", "none", "--request-timeout", "20000", "--no-color", *extra]
    return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=240)


def test_schemathesis_finds_no_server_errors(cluster_factory, tmp_path):
    write_tiny_data(tmp_path)
    c = cluster_factory(executors=1, token=TOKEN)
    job = submit(c, warehouse="st.db")
    assert c.wait_job(job["id"])["state"] == "succeeded"
    # Random ids (404s), random DAG text and params, valid and invalid.
    r = _schemathesis(c, tmp_path, "-D", "all")
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    # Every {id} operation on a real job too (cancel answers 409: it finished).
    r = _schemathesis(c, tmp_path, "--set-path", f"id={job['id']}", "--endpoint", "/v1/jobs/{id}")
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    alive(c)
    assert c.get(f"/v1/jobs/{job['id']}").json()["state"] == "succeeded"
    c.stop()
    assert c.returncodes()[0] == 0
    assert "AddressSanitizer" not in (tmp_path / "coordinator.log").read_text()
