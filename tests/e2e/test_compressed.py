"""Compressed text inputs: .csv.gz (Python's gzip, one file of two members),
.csv.zst (the zstd tool, one file of two frames) and .jsonl.gz, read by a glob
over several files, aggregated into the SQLite warehouse and checked against
DuckDB reading the same files (gzip natively; zstd through the decompressed
text). A corrupt file and a plain file read as gzip fail naming the file."""
import gzip
import random
import shutil
import sqlite3
import subprocess

import duckdb
import pytest

HEADER = "id,region,amount\n"


def rows(seed, n):
    rnd = random.Random(seed)
    return "".join(f"{seed * 100000 + i},{rnd.choice('nsew')},{rnd.randrange(-999, 9999)}."
                   f"{rnd.randrange(100):02d}\n" for i in range(n))


def post(c, dag):
    r = c.post("/v1/jobs", data=dag.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    return c.wait_job(r.json()["id"])


CSV_DAG = """version: 1
name: gz
warehouse: {path: wh.db}
nodes:
  r:
    op: read
    format: csv
    path: "sales/*.csv.*"
  a:
    op: aggregate
    input: r
    group_by: [region]
    aggregates: {n: count(*), total: sum(amount)}
  w: {op: write, input: a, to: warehouse, table: by_region, mode: overwrite}
  raw: {op: write, input: r, to: warehouse, table: raw, mode: overwrite}
"""


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd tool")
def test_gzip_and_zstd_csv_glob_aggregate(cluster_factory, tmp_path):
    d = tmp_path / "sales"
    d.mkdir()
    plain = tmp_path / "plain"
    plain.mkdir()
    # two gzip files, the second of two members (as `cat a.gz b.gz` makes)
    for k in (1, 2):
        text = HEADER + rows(k, 3000)
        (plain / f"p{k}.csv").write_text(text)
        with gzip.open(d / f"p{k}.csv.gz", "wt") as f:
            f.write(text)
    with open(d / "p2.csv.gz", "ab") as f:
        extra = rows(9, 500)
        f.write(gzip.compress(extra.encode()))
    with open(plain / "p2.csv", "a") as f:
        f.write(extra)
    # a zstd file of two frames
    text = HEADER + rows(3, 4000)
    (plain / "p3.csv").write_text(text)
    half = text.index("\n", len(text) // 2) + 1
    for i, part in enumerate((text[:half], text[half:])):
        (tmp_path / f"part{i}.csv").write_text(part)
        subprocess.run(["zstd", "-q", "-f", str(tmp_path / f"part{i}.csv"), "-o",
                        str(tmp_path / f"part{i}.zst")], check=True)
    (d / "p3.csv.zst").write_bytes((tmp_path / "part0.zst").read_bytes()
                                   + (tmp_path / "part1.zst").read_bytes())

    c = cluster_factory(executors=2, extra=("--split-bytes", "4096"))
    job = post(c, CSV_DAG)
    assert job["state"] == "succeeded", job
    # one task per compressed file, however small the split size
    assert job["stages"][0]["tasks"]["total"] == 3

    db = duckdb.connect()
    gz_files = [str(d / "p1.csv.gz"), str(d / "p2.csv.gz")]
    want = db.execute(
        "SELECT region, count(*), sum(amount) FROM ("
        "  SELECT * FROM read_csv(?, header=true, columns={'id': 'BIGINT', 'region': 'VARCHAR',"
        "    'amount': 'DECIMAL(18,2)'})"
        "  UNION ALL SELECT * FROM read_csv(?, header=true, columns={'id': 'BIGINT',"
        "    'region': 'VARCHAR', 'amount': 'DECIMAL(18,2)'})"
        ") GROUP BY region ORDER BY region",
        [gz_files, str(plain / "p3.csv")]).fetchall()
    wh = sqlite3.connect(tmp_path / "wh.db")
    got = wh.execute("SELECT region, n, total FROM by_region ORDER BY region").fetchall()
    assert [(r, n) for r, n, _ in got] == [(r, n) for r, n, _ in want]
    assert [round(float(t), 2) for _, _, t in got] == [round(float(t), 2) for _, _, t in want]
    assert sum(n for _, n, _ in got) == 3000 + 3000 + 500 + 4000
    # every row once: the ids of all files
    ids = [i for (i,) in wh.execute("SELECT id FROM raw ORDER BY id")]
    want_ids = [i for (i,) in db.execute(
        "SELECT id FROM read_csv(?, header=true, columns={'id': 'BIGINT', 'region': 'VARCHAR',"
        " 'amount': 'VARCHAR'}) ORDER BY id",
        [[str(plain / f"p{k}.csv") for k in (1, 2, 3)]]).fetchall()]
    assert ids == want_ids


JSONL_DAG = """version: 1
name: jz
warehouse: {path: wh.db}
nodes:
  r: {op: read, format: jsonl, path: "ev/*.jsonl.gz", schema: {k: int64, v: string, x: float64}}
  a:
    op: aggregate
    input: r
    group_by: [v]
    aggregates: {n: count(*), s: sum(k)}
  w: {op: write, input: a, to: warehouse, table: ev, mode: overwrite}
"""


def test_jsonl_gz(cluster_factory, tmp_path):
    d = tmp_path / "ev"
    d.mkdir()
    rnd = random.Random(5)
    for f in range(3):
        with gzip.open(d / f"e{f}.jsonl.gz", "wt") as out:
            for i in range(2000):
                out.write(f'{{"k": {f * 10000 + i}, "v": "{rnd.choice("abc")}", '
                          f'"x": {rnd.random():.6f}}}\n')
    c = cluster_factory(executors=2)
    job = post(c, JSONL_DAG)
    assert job["state"] == "succeeded", job
    got = sqlite3.connect(tmp_path / "wh.db").execute(
        "SELECT v, n, s FROM ev ORDER BY v").fetchall()
    want = duckdb.connect().execute(
        "SELECT v, count(*), sum(k) FROM read_json(?, format='newline_delimited', "
        "columns={'k': 'BIGINT', 'v': 'VARCHAR', 'x': 'DOUBLE'}) GROUP BY v ORDER BY v",
        [str(d / "*.jsonl.gz")]).fetchall()
    assert got == want and sum(n for _, n, _ in got) == 6000


BAD_DAG = """version: 1
name: bad
warehouse: {path: wh.db}
nodes:
  r: {op: read, format: csv, path: "%s", schema: {id: int64, region: string, amount: float64}%s}
  w: {op: write, input: r, to: warehouse, table: t, mode: overwrite}
"""


def test_corrupt_truncated_and_plain_as_gzip(cluster_factory, tmp_path):
    data = gzip.compress((HEADER + rows(4, 5000)).encode())
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    bad = bytearray(data)
    for i in range(len(bad) // 2, len(bad) // 2 + 32):
        bad[i] ^= 0x5A
    (tmp_path / "bad.csv.gz").write_bytes(bytes(bad))
    (tmp_path / "plain.csv").write_text(HEADER + rows(5, 10))
    c = cluster_factory(executors=1)
    for name, extra, words in (("cut.csv.gz", "", "truncated gzip"),
                               ("bad.csv.gz", "", "gzip"),
                               ("plain.csv", ", compression: gzip", "not gzip data")):
        job = post(c, BAD_DAG % (name, extra))
        assert job["state"] == "failed", job
        assert name in job["error"] and words in job["error"], job["error"]
        # never a partial table
        con = sqlite3.connect(tmp_path / "wh.db") if (tmp_path / "wh.db").exists() else None
        if con:
            assert not con.execute("SELECT name FROM sqlite_master WHERE name='t'").fetchall()
