"""What a new user meets first: validate and the sort operator agree on sort
keys, validate catches a missing input, the CLI names the DAG file and the
token, plain progress prints events, explain shows the tasks that run, and a
cancelled job's stages say so."""
import csv
import re
import time
from pathlib import Path

import duckdb

from conftest import run_cli

SORT_DAG = """\
version: 1
name: quoted_sort
nodes:
  src:
    op: read
    format: csv
    path: in.csv
    schema: {'x"y': int64, id: int64}
  sorted: {op: sort, input: src, by: ['"x""y" desc', id]}
  out: {op: write, input: sorted, to: csv, path: out, mode: overwrite}
"""


def write_input(path, n=500):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(['x"y', "id"])
        for i in range(n):
            w.writerow(["" if i % 37 == 0 else (i * 7919) % 101, i])


def read_output(folder):
    rows = []
    for part in sorted(Path(folder).glob("part-*")):
        with open(part, newline="") as f:
            r = csv.reader(f)
            next(r)
            rows += [(None if a == "" else int(a), int(b)) for a, b in r]
    return rows


def test_quoted_sort_key_validates_and_sorts(tmp_path):
    write_input(tmp_path / "in.csv")
    dag = tmp_path / "sort.yaml"
    dag.write_text(SORT_DAG)
    v = run_cli("validate", dag)
    assert v.returncode == 0, v.stderr
    r = run_cli("run", dag)
    assert r.returncode == 0, r.stdout + r.stderr
    got = read_output(tmp_path / "out")
    want = duckdb.connect().execute(
        "SELECT \"x\"\"y\", id FROM read_csv(?, header=true, columns={'x\"y': 'BIGINT', "
        "'id': 'BIGINT'}) ORDER BY \"x\"\"y\" DESC NULLS FIRST, id",
        [str(tmp_path / "in.csv")]).fetchall()
    assert len(got) == 500 and got == want


def test_bad_sort_key_points_at_the_word(tmp_path):
    dag = tmp_path / "bad.yaml"
    dag.write_text(SORT_DAG.replace("'\"x\"\"y\" desc'", "'\"x\"\"y\" downward'"))
    (tmp_path / "in.csv").write_text('x"y,id\n1,1\n')
    v = run_cli("validate", dag)
    assert v.returncode == 2
    line = next(i for i, l in enumerate(dag.read_text().splitlines(), 1) if "downward" in l)
    col = dag.read_text().splitlines()[line - 1].index("downward") + 1
    assert f"{dag}:{line}:{col}: error: sort key '\"x\"\"y\" downward': expected ASC, DESC" \
        in v.stderr, v.stderr


def test_missing_input_is_reported_by_validate_with_its_resolved_path(tmp_path):
    dag = tmp_path / "dags" / "sort.yaml"
    dag.parent.mkdir()
    dag.write_text(SORT_DAG.replace("path: in.csv", "path: ../data/in.csv"))
    for cmd in ("validate", "run"):
        r = run_cli(cmd, dag)
        assert r.returncode == 2, r.stdout + r.stderr
        assert (f"input file '../data/in.csv' does not exist (resolved to "
                f"'{dag.parent}/../data/in.csv'; relative paths resolve against "
                f"'{dag.parent}')") in r.stderr, r.stderr
    # explain shows the plan whatever the data
    assert run_cli("explain", dag).returncode == 0


def test_missing_input_at_run_time_names_path_and_data_root(cluster_factory, tmp_path):
    """The API does not check inputs at submit (a queued job's input may
    land later); when the job starts without it the error says where it
    looked, and the job's duration is counted from its submission."""
    c = cluster_factory(executors=1)
    r = c.post("/v1/jobs", json={"dag": SORT_DAG.replace("in.csv", "later/in.csv")})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"])
    assert done["state"] == "failed"
    assert done["started_at"] is None
    assert (f"input file 'later/in.csv' does not exist (resolved to '{tmp_path}/later/in.csv'; "
            f"data root '{tmp_path}')") in done["error"], done["error"]
    log = (tmp_path / "coordinator.log").read_text()
    m = re.search(rf"job={done['id']} failed: .*\((\d+) ms\)", log)
    assert m, log
    assert int(m.group(1)) < 600_000  # not the time since 1970


def test_cancelled_job_stages_say_cancelled(cluster_factory, tmp_path):
    write_input(tmp_path / "in.csv")
    c = cluster_factory(executors=0)  # the job waits in queued
    r = c.post("/v1/jobs", json={"dag": SORT_DAG})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    assert c.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
    done = c.wait_job(job_id)
    assert done["state"] == "cancelled"
    assert [s["state"] for s in done["stages"]] == ["cancelled"] * len(done["stages"])


def test_submit_errors_name_the_dag_file(cluster_factory, tmp_path):
    c = cluster_factory(executors=1)
    dag = tmp_path / "typo.yaml"
    dag.write_text(SORT_DAG.replace("input: sorted", "input: sortd"))
    r = run_cli("submit", dag, "--coordinator", c.url)
    assert r.returncode == 2
    line = next(i for i, l in enumerate(dag.read_text().splitlines(), 1) if "sortd" in l)
    assert re.search(rf"^{re.escape(str(dag))}:{line}:\d+: error: .*sortd", r.stderr, re.M), r.stderr
    assert "<submitted>" not in r.stderr


def test_401_names_millrace_token(cluster_factory):
    c = cluster_factory(executors=1, token="s3cret-token")
    r = run_cli("jobs", "--coordinator", c.url, env={"MILLRACE_TOKEN": ""})
    assert r.returncode == 1
    assert "set MILLRACE_TOKEN" in r.stderr and "HTTP 401" in r.stderr, r.stderr
    r = run_cli("jobs", "--coordinator", c.url, env={"MILLRACE_TOKEN": "wrong"})
    assert r.returncode == 1
    assert "refused the token in MILLRACE_TOKEN" in r.stderr, r.stderr
    assert "wrong" not in r.stderr and "s3cret" not in r.stderr
    r = run_cli("jobs", "--coordinator", c.url, env={"MILLRACE_TOKEN": "s3cret-token"})
    assert r.returncode == 0, r.stderr


def test_plain_progress_prints_changes_and_explain_shows_the_tasks_run(tmp_path):
    write_input(tmp_path / "in.csv", n=20000)
    dag = tmp_path / "agg.yaml"
    dag.write_text("""\
version: 1
name: progress
nodes:
  src: {op: read, format: csv, path: in.csv, schema: {'x"y': int64, id: int64}}
  agg: {op: aggregate, input: src, group_by: ['x"y'], aggregates: {n: count(*)}}
  out: {op: write, input: agg, to: csv, path: out, mode: overwrite}
""")
    e = run_cli("explain", dag)
    assert e.returncode == 0, e.stderr
    planned = int(re.search(r"^stage 1  \[(\d+) tasks?\]", e.stdout, re.M).group(1))
    m = re.search(r"^partitions: (\d+) \(one per executor slot", e.stdout, re.M)
    assert m and int(m.group(1)) == planned, e.stdout
    r = run_cli("run", dag)  # stdout is a pipe: plain progress
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("stage ")]
    last = {}
    for l in lines:
        m = re.match(r"stage (\d+)\s+\[[#-]+\]\s+(\d+)/(\d+)\s+tasks.*?\s(waiting|running|succeeded|failed|cancelled)\s", l)
        assert m, l
        key = (m.group(2), m.group(3), m.group(4))
        assert last.get(m.group(1)) != key, f"repeated line: {l}\n{r.stdout}"
        last[m.group(1)] = key
    assert last["1"] == (str(planned), str(planned), "succeeded"), r.stdout
    assert re.search(r"^job \S+ succeeded", r.stdout, re.M), r.stdout
