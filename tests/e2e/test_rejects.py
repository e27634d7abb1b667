"""Bad input rows end to end: on_error reject (rows kept with file, line,
reason and raw text, readable through the API and landed in the warehouse
table millrace_rejects in the same commit), skip (counted), max_errors."""
import re
import sqlite3

from conftest import ROOT, run_cli
from test_run import SALES_COLUMNS

import duckdb

DAG = (ROOT / "dags" / "tickit_sales.yaml").read_text()


def make_data(tmp_path, tickit_data):
    d = tmp_path / "data"
    d.mkdir()
    lines = (tickit_data / "sales_pipe.txt").read_text().splitlines()
    bad = {4: lines[4].replace("|", "|x", 1),            # listid not an int
           10: lines[10] + "|extra",                      # one field too many
           11: lines[11].replace("|", "|\udcff", 1).encode("utf-8", "surrogateescape"),
           20: "|".join(lines[20].split("|")[:7] + ["12.345.6"] + lines[20].split("|")[8:])}
    out = bytearray()
    for i, l in enumerate(lines):
        v = bad.get(i, l)
        out += v if isinstance(v, bytes) else v.encode()
        out += b"\n"
    (d / "sales_pipe.txt").write_bytes(bytes(out))
    good = [l for i, l in enumerate(lines) if i not in bad]
    (d / "good.txt").write_text("\n".join(good) + "\n")
    return d, sorted(i + 1 for i in bad)


def dag_with(tmp_path, policy):
    text = DAG.replace("csv: {header: false, delimiter: \"|\"}",
                       "csv: {header: false, delimiter: \"|\"}\n    " + policy)
    p = tmp_path / "job.yaml"
    p.write_text(text)
    return p


def expected_rows(good_file):
    con = duckdb.connect()
    return con.execute("SELECT count(DISTINCT buyerid) FROM read_csv(?, delim='|', header=false, "
                       "columns=?) WHERE pricepaid > 0 AND qtysold > 0",
                       [str(good_file), SALES_COLUMNS]).fetchone()[0]


def test_reject_lands_in_warehouse(tmp_path, tickit_data):
    data, bad_lines = make_data(tmp_path, tickit_data)
    dag = dag_with(tmp_path, "on_error: reject")
    db = tmp_path / "wh.db"
    r = run_cli("run", dag, "--param", f"data={data}", "--param", f"warehouse={db}")
    assert r.returncode == 0, r.stderr
    assert "rejected rows: 4" in r.stdout, r.stdout
    con = sqlite3.connect(db)
    rows = con.execute("SELECT job_id, node, file, line, reason, raw FROM millrace_rejects "
                       "ORDER BY line").fetchall()
    assert [x[3] for x in rows] == bad_lines
    assert all(x[1] == "sales" and x[2].endswith("sales_pipe.txt") for x in rows)
    assert len({x[0] for x in rows}) == 1 and rows[0][0].startswith("j")
    assert "listid" in rows[0][4] and "x" in rows[0][5]
    assert "field" in rows[1][4]
    # an invalid byte is stored as U+FFFD, so the raw text stays valid UTF-8
    assert "listid" in rows[2][4] and "\ufffd" in rows[2][5]
    n = con.execute("SELECT count(*) FROM buyer_tickets").fetchone()[0]
    assert n == expected_rows(data / "good.txt")


def test_reject_through_api(cluster_factory, tmp_path, tickit_data):
    data, bad_lines = make_data(tmp_path, tickit_data)
    c = cluster_factory(executors=2)
    text = dag_with(tmp_path, "on_error: reject").read_text()
    r = c.post("/v1/jobs", json={"dag": text, "params": {"data": "data", "warehouse": "api.db"}})
    job = c.wait_job(r.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["rejected_rows"] == 4
    rej = c.get(f"/v1/jobs/{job['id']}/rejects").json()["rejects"]
    assert sorted(x["line"] for x in rej) == bad_lines
    assert all(x["node"] == "sales" and x["reason"] and x["raw"] for x in rej)
    assert len(c.get(f"/v1/jobs/{job['id']}/rejects?limit=2").json()["rejects"]) == 2


def test_skip_counts_and_loads_the_rest(tmp_path, tickit_data):
    data, _ = make_data(tmp_path, tickit_data)
    db = tmp_path / "wh.db"
    r = run_cli("run", dag_with(tmp_path, "on_error: skip"), "--param", f"data={data}",
                "--param", f"warehouse={db}")
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM buyer_tickets").fetchone()[0] == expected_rows(data / "good.txt")
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name='millrace_rejects'").fetchone()[0] == 0


def test_max_errors_fails_job_and_writes_nothing(tmp_path, tickit_data):
    data, _ = make_data(tmp_path, tickit_data)
    db = tmp_path / "wh.db"
    r = run_cli("run", dag_with(tmp_path, "on_error: reject\n    max_errors: 2"), "--param",
                f"data={data}", "--param", f"warehouse={db}")
    assert r.returncode == 1
    assert re.search(r"max_errors|more than 2", r.stderr), r.stderr
    if db.exists():
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] == 0
