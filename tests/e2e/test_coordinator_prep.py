"""A job's preparation (globbing, the CSV quote pass, the warehouse check and
lease) runs with the coordinator's lock released: while it waits on a
warehouse that does not answer, /healthz and the job listing still answer,
and the job shows as queued.  The warehouse here is a socket that accepts
the connection and says nothing until the test closes it, so the order is
certain: the requests are made while the preparation is inside the
warehouse check."""
import os
import socket

import requests

DAG = """version: 1
name: slowprep
warehouse: {driver: postgres, dsn: "${env:MILLRACE_DAG_PREP_DSN}"}
nodes:
  r:
    op: read
    format: csv
    path: in/*.csv
    schema: {id: int64, note: string}
  w: {op: write, input: r, to: warehouse, table: notes, mode: overwrite}
"""


def test_requests_answer_while_a_job_prepares(cluster_factory, tmp_path):
    (tmp_path / "in").mkdir()
    for k in range(3):
        (tmp_path / "in" / f"p{k}.csv").write_text(
            "id,note\n" + "".join(f'{i},"a\nb {i}"\n' for i in range(2000)))
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(4)
    port = mute.getsockname()[1]
    os.environ["MILLRACE_DAG_PREP_DSN"] = (
        f"host=127.0.0.1 port={port} dbname=x user=y sslmode=disable gssencmode=disable")
    try:
        c = cluster_factory(executors=1, extra=("--split-bytes", "4096"))
    finally:
        del os.environ["MILLRACE_DAG_PREP_DSN"]
    c.wait_executors(1)
    r = c.post("/v1/jobs", json={"dag": DAG})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]

    mute.settimeout(60)  # a guard against a hang, not a measurement
    conn, _ = mute.accept()  # the preparation is now inside the warehouse check
    try:
        conn.settimeout(60)
        assert conn.recv(64), "the coordinator sent no startup message"
        assert requests.get(c.url + "/healthz", timeout=30).status_code == 200
        listed = c.get("/v1/jobs")
        assert listed.status_code == 200, listed.text
        mine = [j for j in listed.json()["jobs"] if j["id"] == job_id]
        assert mine and mine[0]["state"] == "queued", listed.text
        one = c.get(f"/v1/jobs/{job_id}").json()
        assert one["state"] == "queued", one
    finally:
        conn.close()
        mute.close()

    done = c.wait_job(job_id)
    assert done["state"] == "failed", done
    assert "postgres" in done["error"] or "warehouse" in done["error"], done
    # the coordinator carries on: a job after it runs
    ok = c.post("/v1/jobs", json={"dag": """version: 1
name: after
warehouse: {path: wh.db}
nodes:
  r: {op: read, format: csv, path: in/p0.csv, schema: {id: int64, note: string}}
  w: {op: write, input: r, to: warehouse, table: notes, mode: overwrite}
"""})
    assert ok.status_code == 201, ok.text
    after = c.wait_job(ok.json()["id"])
    assert after["state"] == "succeeded", after
