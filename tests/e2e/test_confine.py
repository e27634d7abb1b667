"""What a submitted DAG can reach on the coordinator's machine: the SQLite
warehouse path and schema inference stay under the data root whatever the
path says (absolute, "..", a symlink), as inputs and file outputs do."""
import os
import sqlite3

import pytest

SECRET_LINE = "root-secret-column:x:0:0"

DAG = """version: 1
name: confine
warehouse:
  driver: sqlite
  path: {wh}
nodes:
  people:
    op: read
    format: csv
    path: in/people.csv
    schema: {{id: int64, name: string}}
  load:
    op: write
    input: people
    to: warehouse
    table: people
    mode: overwrite
post_sql: ["DELETE FROM users"]
"""


@pytest.fixture
def layout(tmp_path):
    """root/ is the data root with an input; outside/ holds a SQLite file
    with a users table that no job may touch, and a secret text file."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "in").mkdir(parents=True)
    outside.mkdir()
    (root / "in" / "people.csv").write_text("id,name\n1,ann\n2,bob\n")
    victim = outside / "victim.db"
    with sqlite3.connect(victim) as db:
        db.execute("CREATE TABLE users (id INTEGER)")
        db.executemany("INSERT INTO users VALUES (?)", [(1,), (2,), (3,)])
        db.execute("CREATE TABLE people (id INTEGER, name TEXT)")
    (outside / "secret.csv").write_text(SECRET_LINE + "\n1\n")
    os.symlink(outside, root / "link")
    return root, outside


def users(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT count(*) FROM users").fetchone()[0]


@pytest.fixture
def cluster(tmp_path, layout):
    from conftest import Cluster
    c = Cluster(layout[0], executors=1)
    yield c
    c.stop()


@pytest.mark.parametrize("wh", ["ABS", "../outside/victim.db", "link/victim.db",
                                "link/new.db", "in/../../outside/new.db"])
def test_warehouse_path_outside_the_root_fails_the_job(cluster, layout, wh):
    root, outside = layout
    path = str(outside / "victim.db") if wh == "ABS" else wh
    r = cluster.post("/v1/jobs", json={"dag": DAG.format(wh=path)})
    assert r.status_code == 201, r.text
    done = cluster.wait_job(r.json()["id"])
    assert done["state"] == "failed", done
    assert "outside the data root" in done["error"], done
    assert users(outside / "victim.db") == 3
    assert sorted(os.listdir(outside)) == ["secret.csv", "victim.db"]


def test_warehouse_staging_symlink_outside_is_refused(cluster, layout):
    root, outside = layout
    os.symlink(outside / "victim.db", root / "wh.db.staging")
    r = cluster.post("/v1/jobs", json={"dag": DAG.format(wh="wh.db")})
    done = cluster.wait_job(r.json()["id"])
    assert done["state"] == "failed" and "outside the data root" in done["error"], done
    assert users(outside / "victim.db") == 3
    assert not (root / "wh.db").exists()
    # not even the cleanup of a failed job opened it
    assert sorted(os.listdir(outside)) == ["secret.csv", "victim.db"]


def test_warehouse_path_inside_the_root_runs(cluster, layout):
    root, outside = layout
    with sqlite3.connect(root / "sub.db") as db:
        db.execute("CREATE TABLE users (id INTEGER)")
        db.execute("INSERT INTO users VALUES (7)")
    r = cluster.post("/v1/jobs", json={"dag": DAG.format(wh="in/../sub.db")})
    done = cluster.wait_job(r.json()["id"])
    # ".." is refused even when it stays inside: the rule is simple to state
    assert done["state"] == "failed" and "outside the data root" in done["error"], done
    r = cluster.post("/v1/jobs", json={"dag": DAG.format(wh=str(root / "sub.db"))})
    done = cluster.wait_job(r.json()["id"])
    assert done["state"] == "succeeded", done
    with sqlite3.connect(root / "sub.db") as db:
        assert db.execute("SELECT id, name FROM people ORDER BY id").fetchall() == [(1, "ann"), (2, "bob")]
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0


INFER = """version: 1
name: infer
nodes:
  r:
    op: read
    format: csv
    path: {path}
  w:
    op: write
    input: r
    to: warehouse
    table: t
"""


@pytest.mark.parametrize("path", ["ABS", "ABSDIR", "../outside/secret.csv", "link/secret.csv",
                                  "link", "link/*.csv", "in/../../outside/secret.csv",
                                  "/etc/passwd"])
def test_schema_inference_outside_the_root_is_refused(cluster, layout, path):
    root, outside = layout
    path = {"ABS": str(outside / "secret.csv"), "ABSDIR": str(outside)}.get(path, path)
    for route in ("/v1/validate", "/v1/jobs"):
        r = cluster.post(route, json={"dag": INFER.format(path=path)})
        assert r.status_code == 400, r.text
        assert SECRET_LINE.split(":")[0] not in r.text and "root:" not in r.text
        err = r.json()["error"]
        assert "outside the data root" in err["message"], err
        assert err["errors"][0]["line"] == 7


def test_schema_inference_symlink_file_inside_root_pointing_out(cluster, layout):
    root, outside = layout
    os.symlink(outside / "secret.csv", root / "in" / "zz.csv")
    r = cluster.post("/v1/validate", json={"dag": INFER.format(path="in/zz.csv")})
    assert r.status_code == 400 and "outside the data root" in r.text
    assert SECRET_LINE.split(":")[0] not in r.text


def test_schema_inference_inside_root_works(cluster, layout):
    r = cluster.post("/v1/validate", json={"dag": INFER.format(path="in/people.csv")})
    assert r.status_code == 200, r.text
    assert "name" in r.text


def test_executor_checks_the_warehouse_against_its_own_root(tmp_path):
    """An executor trusts no task spec: with a narrower data root than the
    coordinator's, it refuses to stage into a warehouse outside it."""
    from conftest import Cluster
    root = tmp_path / "root"
    sub = root / "sub"
    (sub / "in").mkdir(parents=True)
    (sub / "in" / "people.csv").write_text("id,name\n1,ann\n")
    c = Cluster(root, executors=1, executor_args=["--data-root", str(sub)])
    try:
        dag = DAG.format(wh="wh.db").replace("path: in/people.csv", "path: sub/in/people.csv") \
                 .replace('post_sql: ["DELETE FROM users"]\n', "")
        r = c.post("/v1/jobs", json={"dag": dag})
        assert r.status_code == 201, r.text
        done = c.wait_job(r.json()["id"])
        assert done["state"] == "failed", done
        assert "warehouse" in done["error"] and "outside the data root" in done["error"], done
        # The coordinator (whose root holds wh.db) may keep its staging
        # leases in wh.db.staging; no executor staged rows or rejects there.
        staging = root / "wh.db.staging"
        if staging.exists():
            with sqlite3.connect(staging) as db:
                names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            assert [n for n in names if n.startswith(("s_", "r_"))] == [], names
        # the same DAG with the warehouse inside the executor's root runs
        r = c.post("/v1/jobs", json={"dag": dag.replace("path: wh.db", "path: sub/wh.db")})
        done = c.wait_job(r.json()["id"])
        assert done["state"] == "succeeded", done
        with sqlite3.connect(sub / "wh.db") as db:
            assert db.execute("SELECT id, name FROM people").fetchall() == [(1, "ann")]
    finally:
        c.stop()
