"""Schema inference end to end: a wider value past the first rows (in the
middle, on the last line) widens the inferred type, checked against DuckDB;
a value no sample saw fails the job with a message that says the type was
inferred and shows the schema line, and that line, pasted into the DAG,
loads the file."""
import re
import sqlite3

import duckdb

from conftest import run_cli

N = 200000

DAG = """version: 1
name: infer
warehouse: {path: wh.db}
nodes:
  r:
    op: read
    format: csv
    path: data.csv
%(schema)s
  w: {op: write, input: r, to: warehouse, table: t, mode: overwrite}
"""


def write(path, wide_at=None):
    """id, qty (wide in the middle 10%), price (a decimal on the last line);
    wide_at: one row whose id no longer fits int32."""
    with open(path, "w") as f:
        f.write("id,qty,price\n")
        for i in range(N):
            qty = 3000000000 + i if N * 45 // 100 <= i < N * 55 // 100 else i % 100
            price = "7.25" if i == N - 1 else str(i % 50)
            f.write(f"{5000000000 if i == wide_at else i},{qty},{price}\n")


def load(tmp_path, schema=""):
    (tmp_path / "job.yaml").write_text(DAG % {"schema": schema})
    return run_cli("run", tmp_path / "job.yaml", cwd=tmp_path)


def test_wide_values_past_the_first_rows_widen_the_type(tmp_path):
    write(tmp_path / "data.csv")
    r = load(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(tmp_path / "wh.db")
    types = [row[1:3] for row in con.execute("PRAGMA table_info(t)")]
    assert types == [("id", "INTEGER"), ("qty", "BIGINT"), ("price", "NUMERIC(4,2)")]
    got = con.execute("SELECT count(*), sum(id), sum(qty), sum(price) FROM t").fetchone()
    want = duckdb.connect().execute(
        "SELECT count(*), sum(id), sum(qty), sum(price) FROM read_csv(?, header=true, "
        "columns={'id': 'BIGINT', 'qty': 'BIGINT', 'price': 'DECIMAL(18,2)'})",
        [str(tmp_path / "data.csv")]).fetchone()
    assert got[:3] == want[:3]
    assert abs(got[3] - float(want[3])) < 1e-6


def test_unsampled_value_says_the_type_was_inferred(tmp_path):
    # row 30% sits between two sample points: no sample sees it
    write(tmp_path / "data.csv", wide_at=N * 30 // 100)
    r = load(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "data.csv" in r.stderr and "the type int32 of column 'id' was inferred" in r.stderr, \
        r.stderr
    m = re.search(r"(schema: \{.*?\})", r.stderr)
    assert m and m.group(1) == 'schema: {id: int64, qty: int64, price: "decimal(4,2)"}', r.stderr
    # the line the message shows loads the file
    r = load(tmp_path, "    " + m.group(1))
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(tmp_path / "wh.db")
    assert con.execute("SELECT count(*), max(id) FROM t").fetchone() == (N, 5000000000)
