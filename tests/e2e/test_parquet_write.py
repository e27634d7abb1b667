"""Parquet writes end to end (write to: parquet): pyarrow makes source
files with every millrace type and NULLs, millrace reads them and writes
Parquet, and the output is read back by pyarrow, DuckDB and millrace
itself and compared row by row with the source.  Also: every compression,
row groups and their statistics checked against the data through
pyarrow's metadata, dictionary pages for low-cardinality text only, parts
from many tasks, a failed job leaving nothing, and bad options failing at
file:line:column."""
import decimal
import math
import sqlite3

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from test_parquet import table
from test_s3 import bucket, csv_text, duck_rows, env, keys, post, s3, sales, write_dag  # noqa: F401 (fixtures)

COLS = ["id", "i32", "i64", "f64", "b", "s", "s2", "d", "ts_us", "ts_utc", "dec_small", "dec18"]
CODECS = {"snappy": "SNAPPY", "zstd": "ZSTD", "gzip": "GZIP", "none": "UNCOMPRESSED"}


def source(n=3000, seed=0):
    """The read tests' table cut to millrace's own types, with NaN,
    infinities, -0.0 and empty strings added."""
    t = table(n, seed).select(COLS)
    f = t["f64"].to_pylist()
    for i, v in ((1, float("nan")), (2, float("inf")), (3, float("-inf")), (4, -0.0)):
        if i < n:
            f[i] = v
    s = t["s"].to_pylist()
    if n > 5:
        s[5] = ""
    t = t.set_column(COLS.index("f64"), "f64", pa.array(f, pa.float64()))
    return t.set_column(COLS.index("s"), "s", pa.array(s, pa.string()))


def canon(v):
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def rows_of(t):
    out = [tuple(canon(r[c]) for c in COLS) for r in t.to_pylist()]
    return sorted(out, key=lambda r: r[0])


def run_dag(tmp_path, nodes, name="pw", executors=None):
    text = f"version: 1\nname: {name}\nwarehouse: {{path: {tmp_path / 'wh.db'}}}\nnodes:\n{nodes}"
    (tmp_path / "job.yaml").write_text(text)
    args = ["run", tmp_path / "job.yaml"]
    if executors:
        args += ["--executors", str(executors)]
    return run_cli(*args, cwd=tmp_path)


def write_parquet(tmp_path, src, extra="", out="out", executors=None):
    return run_dag(tmp_path, f"  r: {{op: read, format: parquet, path: {src}}}\n"
                   f"  w: {{op: write, input: r, to: parquet, path: {tmp_path / out}{extra}}}\n",
                   executors=executors)


@pytest.mark.parametrize("codec", list(CODECS))
def test_round_trip_every_type(tmp_path, codec):
    src = tmp_path / "in.parquet"
    want = source()
    pq.write_table(want, src)
    r = write_parquet(tmp_path, src, f", compression: {codec}")
    assert r.returncode == 0, r.stdout + r.stderr
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert parts and (tmp_path / "out" / "_SUCCESS").exists()
    for p in parts:
        md = pq.ParquetFile(p).metadata
        for g in range(md.num_row_groups):
            for j in range(md.num_columns):
                assert md.row_group(g).column(j).compression == CODECS[codec]
    got = pq.read_table(tmp_path / "out")
    # the types map one to one: millrace's types are Parquet's logical types
    assert got.schema.field("ts_utc").type == pa.timestamp("us", tz="UTC")
    assert got.schema.field("ts_us").type == pa.timestamp("us")
    assert got.schema.field("dec18").type == pa.decimal128(18, 4)
    assert got.schema.field("d").type == pa.date32()
    assert got.schema.field("s").type == pa.string()
    assert rows_of(got) == rows_of(want)
    # -0.0 stays negative
    f = {r["id"]: r["f64"] for r in got.select(["id", "f64"]).to_pylist()}
    assert math.copysign(1, f[4]) == -1
    # DuckDB reads the same rows
    con = duckdb.connect()
    dd = con.sql(f"SELECT {', '.join(COLS)} FROM read_parquet('{tmp_path}/out/*.parquet') "
                 "ORDER BY id").to_arrow_table()
    assert rows_of(dd.cast(want.schema)) == rows_of(want)
    # and millrace reads its own output back
    r2 = run_dag(tmp_path, f"  r: {{op: read, format: parquet, path: '{tmp_path}/out/*.parquet'}}\n"
                 "  w: {op: write, input: r, to: warehouse, table: t, mode: overwrite}\n", "back")
    assert r2.returncode == 0, r2.stdout + r2.stderr
    lite = sqlite3.connect(tmp_path / "wh.db")
    n, nn, s_sum, i_sum = lite.execute("SELECT count(*), count(s), sum(length(s)), sum(i64) "
                                       "FROM t").fetchone()
    assert n == want.num_rows and nn == want["s"].length() - want["s"].null_count
    assert s_sum == sum(len(x) for x in want["s"].to_pylist() if x is not None)
    assert i_sum == pc.sum(want["i64"]).as_py()


def test_row_groups_and_statistics(tmp_path):
    src = tmp_path / "in.parquet"
    want = source(5000, seed=3)
    pq.write_table(want, src)
    r = write_parquet(tmp_path, src, ", row_group_rows: 1200")
    assert r.returncode == 0, r.stdout + r.stderr
    (part,) = (tmp_path / "out").glob("part-*.parquet")
    f = pq.ParquetFile(part)
    md = f.metadata
    assert md.num_row_groups == 5 and md.num_rows == 5000
    assert [md.row_group(g).num_rows for g in range(5)] == [1200] * 4 + [200]
    checked = 0
    for g in range(md.num_row_groups):
        data = f.read_row_group(g)
        for j, name in enumerate(COLS):
            st = md.row_group(g).column(j).statistics
            col = data[name]
            assert st is not None and st.null_count == col.null_count, (g, name)
            if name == "f64":
                col = pc.filter(col, pc.invert(pc.is_nan(col)))
            mm = pc.min_max(col).as_py()
            assert st.has_min_max
            assert (st.min, st.max) == (mm["min"], mm["max"]), (g, name, st.min, st.max, mm)
            checked += 1
    assert checked == 5 * len(COLS)
    # a pushed-down filter in DuckDB agrees with pyarrow
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM '{part}' WHERE i64 > 0").fetchone()[0]
    assert n == pc.sum(pc.greater(want["i64"], 0)).as_py()


def test_dictionary_for_low_cardinality_text(tmp_path):
    src = tmp_path / "in.parquet"
    n = 20000
    t = pa.table({"id": pa.array(range(n), pa.int64()),
                  "city": pa.array([None if i % 11 == 0 else ["Oslo", "Lima", "Pune", "Ghent"][i % 4]
                                    for i in range(n)], pa.string()),
                  "key": pa.array([f"k{i:08d}" for i in range(n)], pa.string())})
    pq.write_table(t, src)
    r = write_parquet(tmp_path, src, ", compression: none")
    assert r.returncode == 0, r.stdout + r.stderr
    (part,) = (tmp_path / "out").glob("part-*.parquet")
    md = pq.ParquetFile(part).metadata
    city, key = md.row_group(0).column(1), md.row_group(0).column(2)
    assert city.has_dictionary_page and "RLE_DICTIONARY" in city.encodings
    assert not key.has_dictionary_page
    # the dictionary pays: four names and 2-bit indices against 18,000
    # PLAIN strings of 8 bytes each
    assert city.total_uncompressed_size < 20000
    got = pq.read_table(part).sort_by("id")
    assert got["city"].to_pylist() == t["city"].to_pylist()
    assert got["key"].to_pylist() == t["key"].to_pylist()
    con = duckdb.connect()
    assert con.execute(f"SELECT city, count(*) FROM '{part}' GROUP BY 1 ORDER BY 1").fetchall() == \
        duckdb.connect().execute(f"SELECT city, count(*) FROM '{src}' GROUP BY 1 ORDER BY 1").fetchall()


def test_parts_from_many_tasks(tmp_path):
    (tmp_path / "in").mkdir()
    tables = [source(4000, seed=k) for k in range(4)]
    for k, t in enumerate(tables):
        t = t.set_column(0, "id", pc.add(t["id"], k * 4000))
        tables[k] = t
        pq.write_table(t, tmp_path / "in" / f"p{k}.parquet", row_group_size=1000)
    r = write_parquet(tmp_path, f"'{tmp_path}/in/*.parquet'", ", compression: zstd",
                      executors=2)
    assert r.returncode == 0, r.stdout + r.stderr
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert len(parts) > 1
    got = pq.read_table(tmp_path / "out")
    assert rows_of(got) == rows_of(pa.concat_tables(tables))
    con = duckdb.connect()
    assert con.execute(f"SELECT count(DISTINCT id), sum(i32) FROM '{tmp_path}/out/*.parquet'"
                       ).fetchone() == (16000, sum(pc.sum(t["i32"]).as_py() for t in tables))


def test_empty_output(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(source(10), src)
    r = run_dag(tmp_path, f"  r: {{op: read, format: parquet, path: {src}}}\n"
                "  f: {op: filter, input: r, where: 'id < 0'}\n"
                f"  w: {{op: write, input: f, to: parquet, path: {tmp_path / 'out'}}}\n")
    assert r.returncode == 0, r.stdout + r.stderr
    got = pq.read_table(tmp_path / "out")
    assert got.num_rows == 0 and got.schema.names == COLS


def test_failed_job_leaves_nothing(tmp_path):
    (tmp_path / "in").mkdir()
    good = "".join(f"{i},name{i}\n" for i in range(5000))
    (tmp_path / "in" / "a.csv").write_text("id,name\n" + good)
    (tmp_path / "in" / "b.csv").write_text("id,name\n1,x\nnot-a-number,y\n")
    r = run_dag(tmp_path, f"  r: {{op: read, format: csv, path: '{tmp_path}/in/*.csv', "
                "schema: {id: int64, name: text}}\n"
                f"  w: {{op: write, input: r, to: parquet, path: {tmp_path / 'out' / 'x'}}}\n",
                executors=2)
    assert r.returncode == 1, r.stdout + r.stderr
    assert not (tmp_path / "out" / "x").exists()
    assert list((tmp_path / "out").iterdir()) == [] if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("extra,message", [
    (", compression: lz4", "Parquet compression"),
    (", row_group_rows: 0", "row_group_rows must be"),
    (", row_group_rows: many", "row_group_rows"),
])
def test_bad_options(tmp_path, extra, message):
    src = tmp_path / "in.parquet"
    pq.write_table(source(10), src)
    r = write_parquet(tmp_path, src, extra)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    line = (tmp_path / "job.yaml").read_text().splitlines()[5]
    col = line.index(extra) + len(extra) - len(extra.split(": ")[1]) + 1
    assert f"{tmp_path / 'job.yaml'}:6:{col}: error" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_parquet_options_on_other_targets(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(source(10), src)
    r = run_dag(tmp_path, f"  r: {{op: read, format: parquet, path: {src}}}\n"
                f"  w: {{op: write, input: r, to: csv, path: {tmp_path / 'out'}, "
                "compression: zstd}\n")
    col = (tmp_path / "job.yaml").read_text().splitlines()[5].index("compression") + 1
    assert r.returncode != 0 and f"job.yaml:6:{col}: error" in r.stderr, r.stderr
    assert "'compression' applies only to to: parquet" in r.stderr


def test_write_parquet_to_s3(s3, env, cluster_factory, tmp_path):
    """An s3:// Parquet output ends with exactly its parts and _SUCCESS,
    and the parts downloaded read back to the source's rows."""
    c3 = bucket(s3, "pqout")
    local = tmp_path / "in"
    local.mkdir()
    for k in range(2):
        text = csv_text(sales(700 + k, 1500))
        (local / f"{k}.csv").write_text(text)
        c3.put_object(Bucket="pqout", Key=f"in/{k}.csv", Body=text.encode())
    c = cluster_factory(executors=2)
    done = post(c, write_dag("s3://pqout/in/*.csv", "parquet", "s3://pqout/res"))
    assert done["state"] == "succeeded", done
    got = keys(c3, "pqout", "res/")
    assert got == ["res/_SUCCESS"] + [f"res/part-{k:05d}.parquet" for k in range(2)], got
    assert not [k for k in keys(c3, "pqout") if "millrace-tmp" in k]
    d = tmp_path / "back"
    d.mkdir()
    for k in got[1:]:
        c3.download_file("pqout", k, str(d / k.split("/")[1]))
    q = "select region, count(*), sum(amount), sum(id) from {} where amount > -500 group by region"
    assert duck_rows(q.format(f"read_parquet('{d}/*.parquet')")) == \
        duck_rows(q.format(f"read_csv('{local}/*.csv')"))
