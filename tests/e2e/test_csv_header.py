"""CSV columns matched by header name: the files of one glob list their
columns in different orders, in another case, with extra columns, and each
is read by name (checked against DuckDB reading every file by name); a
file missing a schema column fails the job naming file and column; with
header: false columns stay positional."""
import random
import sqlite3

import duckdb

from conftest import run_cli

def write_csv(path, header, rows):
    """rows are dicts by lower-case column name; header as written."""
    lines = [",".join(header)]
    for r in rows:
        lines.append(",".join(str(r[h.lower()]) for h in header))
    path.write_text("\n".join(lines) + "\n")


def make_rows(start, n, rnd):
    return [{"id": i, "city": rnd.choice(["Oslo", "Lima", "Pune", "Kiev"]),
             "price": f"{rnd.randrange(0, 10000) / 100:.2f}", "qty": rnd.randrange(1, 50),
             "note": f"n{i}"} for i in range(start, start + n)]


def make_files(d):
    rnd = random.Random(3)
    d.mkdir()
    # the first file is large enough to be cut in several splits: only the
    # first split sees its header, every other must map the columns too
    write_csv(d / "a.csv", ["id", "city", "price", "qty"], make_rows(0, 3000, rnd))
    write_csv(d / "b.csv", ["qty", "price", "id", "city"], make_rows(3000, 3000, rnd))
    write_csv(d / "c.csv", ["PRICE", "Id", "QTY", "City"], make_rows(6000, 500, rnd))
    write_csv(d / "d.csv", ["city", "note", "qty", "id", "price"], make_rows(6500, 500, rnd))


DAG = """version: 1
name: by_header
warehouse: {path: wh.db}
nodes:
  r:
    op: read
    format: csv
    path: "parts/*.csv"
    schema: {id: int64, city: string, price: "decimal(8,2)", qty: int32}
  w: {op: write, input: r, to: warehouse, table: t, mode: overwrite}
"""


def duck_rows(d):
    con = duckdb.connect()
    out = []
    for f in sorted(d.glob("*.csv")):
        # DuckDB reads each file by its own header; lower-case the names
        rel = con.execute("SELECT * FROM read_csv(?, header=true, all_varchar=true)",
                          [str(f)])
        names = [c[0].lower() for c in rel.description]
        for row in rel.fetchall():
            r = dict(zip(names, row))
            out.append((int(r["id"]), r["city"], float(r["price"]), int(r["qty"])))
    return sorted(out)


def test_glob_matches_columns_by_header_name(cluster_factory, tmp_path):
    make_files(tmp_path / "parts")
    c = cluster_factory(executors=2, extra=("--split-bytes", "8192"))
    r = c.post("/v1/jobs", data=DAG.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    job = c.wait_job(r.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["stages"][0]["tasks"]["total"] > 4  # a.csv and b.csv really split
    got = sqlite3.connect(tmp_path / "wh.db").execute(
        "SELECT id, city, price, qty FROM t ORDER BY id").fetchall()
    want = duck_rows(tmp_path / "parts")
    assert len(got) == len(want) == 7000
    assert [(i, ci, float(p), q) for i, ci, p, q in got] == want


def test_file_missing_a_column_fails_naming_it(tmp_path):
    make_files(tmp_path / "parts")
    rnd = random.Random(5)
    write_csv(tmp_path / "parts" / "e.csv", ["id", "city", "qty"], make_rows(9000, 10, rnd))
    (tmp_path / "job.yaml").write_text(DAG)
    r = run_cli("run", tmp_path / "job.yaml", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "e.csv" in r.stderr and "no column 'price'" in r.stderr, r.stderr
    # nothing was committed
    assert not (tmp_path / "wh.db").exists() or not sqlite3.connect(
        tmp_path / "wh.db").execute(
        "SELECT 1 FROM sqlite_master WHERE name = 't'").fetchall()


def test_header_false_stays_positional(tmp_path):
    (tmp_path / "p.csv").write_text("3,Oslo,1.50,7\n4,Lima,2.25,8\n")
    dag = DAG.replace('path: "parts/*.csv"', "path: p.csv\n    csv: {header: false}")
    dag = dag.replace("{id: int64, city: string, price: \"decimal(8,2)\", qty: int32}",
                      "{qty: int64, city: string, price: \"decimal(8,2)\", id: int32}")
    (tmp_path / "job.yaml").write_text(dag)
    r = run_cli("run", tmp_path / "job.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sqlite3.connect(tmp_path / "wh.db").execute(
        "SELECT qty, city, price, id FROM t ORDER BY qty").fetchall()
    assert [(q, c, float(p), i) for q, c, p, i in got] == [(3, "Oslo", 1.5, 7),
                                                          (4, "Lima", 2.25, 8)]
