"""Parquet reads end to end: pyarrow writes files in every encoding, codec
and data page version millrace reads (and DuckDB writes some too); millrace
loads them into the SQLite warehouse and the rows are compared one by one
with what pyarrow reads from the same files.  Also: splits by row group
across a cluster, an aggregation against DuckDB, explicit schemas (select,
widen, missing or incompatible columns, nested ones), bad UTF-8 under the
read's on_error, and truncated or garbage files failing with the file's
name."""
import datetime
import decimal
import math
import sqlite3

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_cli

N = 3000

INTS = ["i8", "i16", "i32", "u16", "u32", "i64", "d", "ts_ms", "ts_us", "ts_ns", "ts_utc"]
FLOATS = ["f32", "f64"]
STRINGS = ["s", "s2"]
DECIMALS = ["dec_small", "dec18"]


def table(n=N, seed=0):
    """Every type millrace maps, NULLs in every optional column."""
    def opt(i, v, every=7):
        return None if (i + seed) % every == 0 else v

    base = datetime.datetime(2021, 3, 4, 5, 6, 7)
    cols = {
        "id": pa.array(range(n), pa.int64()),
        "i8": pa.array([opt(i, (i % 250) - 125) for i in range(n)], pa.int8()),
        "i16": pa.array([opt(i, (i * 37) % 60000 - 30000) for i in range(n)], pa.int16()),
        "i32": pa.array([opt(i, i * 7919 - 10_000_000) for i in range(n)], pa.int32()),
        "u16": pa.array([opt(i, (i * 13) % 65535) for i in range(n)], pa.uint16()),
        "u32": pa.array([opt(i, 4_000_000_000 - i) for i in range(n)], pa.uint32()),
        "i64": pa.array([opt(i, (i - n // 2) * 1_000_000_007) for i in range(n)], pa.int64()),
        "f32": pa.array([opt(i, i / 4.0) for i in range(n)], pa.float32()),
        "f64": pa.array([opt(i, (i - 100) * 1.0625) for i in range(n)], pa.float64()),
        "b": pa.array([opt(i, i % 3 == 0) for i in range(n)], pa.bool_()),
        "s": pa.array([opt(i, f"naïve-{i % 50}-€") for i in range(n)], pa.string()),
        "s2": pa.array([opt(i, f"prefix/shared/{i:06d}") for i in range(n)], pa.string()),
        "d": pa.array([opt(i, datetime.date(1969, 12, 1) + datetime.timedelta(days=i * 3))
                       for i in range(n)], pa.date32()),
        "ts_ms": pa.array([opt(i, base + datetime.timedelta(milliseconds=i * 1234567))
                           for i in range(n)], pa.timestamp("ms")),
        "ts_us": pa.array([opt(i, base - datetime.timedelta(microseconds=i * 987654321))
                           for i in range(n)], pa.timestamp("us")),
        "ts_ns": pa.array([opt(i, base + datetime.timedelta(microseconds=i * 1001))
                           for i in range(n)], pa.timestamp("ns")),
        "ts_utc": pa.array([opt(i, base + datetime.timedelta(seconds=i * 61))
                            for i in range(n)], pa.timestamp("us", tz="UTC")),
        "dec_small": pa.array([opt(i, decimal.Decimal(i * 37 - 5000) / 100) for i in range(n)],
                              pa.decimal128(7, 2)),
        "dec18": pa.array([opt(i, decimal.Decimal(i * 123456789012 - 10**14) / 10**4)
                           for i in range(n)], pa.decimal128(18, 4)),
    }
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False)] +
                       [pa.field(k, v.type) for k, v in cols.items() if k != "id"])
    return pa.table(cols, schema=schema)


def encodings(enc, decint=False):
    """write_table arguments for one family of encodings (decint: the
    decimals are INT32/INT64)."""
    if enc == "plain":
        return {"use_dictionary": False}
    if enc == "dict":
        return {"use_dictionary": True}
    if enc == "delta":
        ce = {c: "DELTA_BINARY_PACKED" for c in INTS}
        ce.update({"id": "DELTA_BINARY_PACKED", "s": "DELTA_LENGTH_BYTE_ARRAY",
                   "s2": "DELTA_BYTE_ARRAY", "dec_small": "DELTA_BYTE_ARRAY",
                   "dec18": "DELTA_BYTE_ARRAY", "b": "RLE"})
        if decint:
            ce.update({c: "DELTA_BINARY_PACKED" for c in DECIMALS})
        return {"use_dictionary": False, "column_encoding": ce}
    if enc == "bss":
        ce = {c: "BYTE_STREAM_SPLIT" for c in INTS + FLOATS + DECIMALS + ["id"]}
        return {"use_dictionary": False, "column_encoding": ce}
    raise ValueError(enc)


def canon(v):
    """A value as millrace lands it in SQLite, for comparison."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (float, decimal.Decimal)):
        return round(float(v), 4)
    if isinstance(v, datetime.datetime):  # UTC-adjusted ones land as timestamptz: +00:00
        return v.isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    return v


def canon_db(v):
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == " ":
        return datetime.datetime.fromisoformat(v).isoformat(sep=" ")
    return v


DAG = """version: 1
name: pq
warehouse: {path: wh.db}
nodes:
  r:
    op: read
    format: parquet
    path: %(path)s
%(extra)s
  w: {op: write, input: r, to: warehouse, table: t, mode: overwrite}
"""


def load(tmp_path, path, extra=""):
    (tmp_path / "job.yaml").write_text(DAG % {"path": path, "extra": extra})
    return run_cli("run", tmp_path / "job.yaml", cwd=tmp_path)


def expected_rows(files, columns):
    rows = []
    for f in files:
        t = pq.read_table(f, columns=columns)
        rows += [tuple(canon(r[c]) for c in columns) for r in t.to_pylist()]
    return sorted(rows, key=lambda r: tuple((x is None, x) for x in r))


def got_rows(tmp_path, columns):
    con = sqlite3.connect(tmp_path / "wh.db")
    q = "SELECT " + ", ".join(f'"{c}"' for c in columns) + " FROM t"
    rows = [tuple(canon_db(v) for v in r) for r in con.execute(q)]
    return sorted(rows, key=lambda r: tuple((x is None, x) for x in r))


ALL = ["id", "i8", "i16", "i32", "u16", "u32", "i64", "f32", "f64", "b", "s", "s2", "d",
       "ts_ms", "ts_us", "ts_ns", "ts_utc", "dec_small", "dec18"]


@pytest.mark.parametrize("enc", ["plain", "dict", "delta", "bss"])
def test_every_codec_and_page_version_reads_like_pyarrow(tmp_path, enc):
    t = table()
    files = []
    for codec in ["none", "snappy", "gzip", "zstd"]:
        for version in ["1.0", "2.0"]:
            f = tmp_path / f"data_{codec}_{version}.parquet"
            pq.write_table(t, f, compression=codec, data_page_version=version,
                           row_group_size=1000, data_page_size=2048, **encodings(enc))
            files.append(f)
    # the decimals as INT32/INT64 too, where this pyarrow can
    try:
        f = tmp_path / "data_decint.parquet"
        pq.write_table(t, f, store_decimal_as_integer=True, **encodings(enc, True))
        files.append(f)
    except TypeError:
        pass
    r = load(tmp_path, "'data_*.parquet'")
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(tmp_path / "wh.db")
    types = {row[1]: row[2] for row in con.execute("PRAGMA table_info(t)")}
    assert types["u32"] == "BIGINT" and types["i8"] == "INTEGER" and types["d"] == "DATE"
    assert types["ts_ns"] == "TIMESTAMP" and types["dec18"] == "NUMERIC(18,4)"
    got = got_rows(tmp_path, ALL)
    want = expected_rows(files, ALL)
    assert len(got) == len(want) == N * len(files)
    assert got == want


def test_int96_timestamps_and_null_heavy_columns(tmp_path):
    n = 5000
    base = datetime.datetime(1999, 12, 31, 23, 59, 59, 123456)
    t = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "ts": pa.array([base + datetime.timedelta(seconds=i * 3607) if i % 3 else None
                        for i in range(n)], pa.timestamp("us")),
        "rare": pa.array([f"v{i}" if i % 997 == 0 else None for i in range(n)]),
        "none": pa.array([None] * n, pa.int32()),
    })
    for codec in ["snappy", "none"]:
        pq.write_table(t, tmp_path / f"old_{codec}.parquet", use_deprecated_int96_timestamps=True,
                       compression=codec, row_group_size=1500)
    assert pq.ParquetFile(tmp_path / "old_none.parquet").schema.column(1).physical_type == "INT96"
    r = load(tmp_path, "'old_*.parquet'")
    assert r.returncode == 0, r.stdout + r.stderr
    cols = ["id", "ts", "rare", "none"]
    files = [tmp_path / "old_snappy.parquet", tmp_path / "old_none.parquet"]
    assert got_rows(tmp_path, cols) == expected_rows(files, cols)


def test_dictionary_fallback_to_plain(tmp_path):
    n = 20000
    t = pa.table({"id": pa.array(range(n), pa.int64()),
                  "s": pa.array([f"distinct-value-{i * 7919 % n:08d}" for i in range(n)])})
    f = tmp_path / "fallback.parquet"
    pq.write_table(t, f, dictionary_pagesize_limit=4096, data_page_size=4096)
    encs = pq.ParquetFile(f).metadata.row_group(0).column(1).encodings
    assert "PLAIN" in encs and any("DICTIONARY" in e for e in encs), encs
    r = load(tmp_path, "fallback.parquet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert got_rows(tmp_path, ["id", "s"]) == expected_rows([f], ["id", "s"])


def test_duckdb_written_files(tmp_path):
    con = duckdb.connect()
    for codec in ["snappy", "zstd", "gzip", "uncompressed"]:
        con.execute(f"""COPY (SELECT i AS id, i % 17 AS k, 'row ' || i AS s,
                         CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1.5 END::DOUBLE AS x,
                         (i * 3.25)::DECIMAL(12,2) AS amount,
                         DATE '2020-02-29' + (i % 400)::INTEGER AS d,
                         TIMESTAMP '2022-01-01 00:00:00' + INTERVAL (i) SECOND AS ts
                         FROM range(50000) t(i))
                     TO '{tmp_path}/duck_{codec}.parquet'
                     (FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE 12000)""")
    r = load(tmp_path, "'duck_*.parquet'")
    assert r.returncode == 0, r.stdout + r.stderr
    cols = ["id", "k", "s", "x", "amount", "d", "ts"]
    got = got_rows(tmp_path, cols)
    want = [tuple(canon(v) for v in row) for row in con.execute(
        f"SELECT {', '.join(cols)} FROM read_parquet('{tmp_path}/duck_*.parquet')").fetchall()]
    assert len(got) == 200000
    assert got == sorted(want, key=lambda r: tuple((x is None, x) for x in r))


AGG_DAG = """version: 1
name: pqagg
warehouse: {path: wh.db}
nodes:
  r: {op: read, format: parquet, path: 'part_*.parquet', schema: {k: int32, x: float64, amount: "decimal(12,2)"}}
  g: {op: aggregate, input: r, group_by: [k], aggregates: {n: count(*), sx: sum(x), sa: sum(amount)}}
  w: {op: write, input: g, to: warehouse, table: agg, mode: overwrite}
"""


def test_splits_by_row_group_and_aggregate_against_duckdb(cluster_factory, tmp_path):
    con = duckdb.connect()
    for p in range(3):
        con.execute(f"""COPY (SELECT (i % 23)::INTEGER AS k, 'pad' || i AS pad,
                         CASE WHEN i % 11 = 0 THEN NULL ELSE i / 8 END AS x,
                         (i % 1000 * 0.25)::DECIMAL(12,2) AS amount
                         FROM range({p} * 40000, ({p} + 1) * 40000) t(i))
                     TO '{tmp_path}/part_{p}.parquet' (FORMAT parquet, ROW_GROUP_SIZE 2048)""")
    c = cluster_factory(executors=2, extra=("--split-bytes", "8192"))
    r = c.post("/v1/jobs", data=AGG_DAG.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    job = c.wait_job(r.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["stages"][0]["tasks"]["total"] > 6  # the files really split
    got = sqlite3.connect(tmp_path / "wh.db").execute(
        "SELECT k, n, sx, sa FROM agg ORDER BY k").fetchall()
    want = con.execute(f"""SELECT k, count(*), sum(x), sum(amount)
                           FROM read_parquet('{tmp_path}/part_*.parquet') GROUP BY k ORDER BY k""").fetchall()
    assert len(got) == len(want) == 23
    for g, w in zip(got, want):
        assert g[:2] == w[:2]
        assert math.isclose(g[2], w[2], rel_tol=1e-12)
        assert math.isclose(float(g[3]), float(w[3]), rel_tol=1e-12)


def test_explicit_schema_selects_widens_and_names_errors(tmp_path):
    t = pa.table({"id": pa.array([1, 2, 3], pa.int32()),
                  "tags": pa.array([["a"], [], None], pa.list_(pa.string())),
                  "name": pa.array(["x", None, "z"]),
                  "amount": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-2.25")],
                                     pa.decimal128(5, 2))})
    pq.write_table(t, tmp_path / "s.parquet")
    # a subset, widened, the nested column left out
    r = load(tmp_path, "s.parquet", '    schema: {name: string, id: int64, amount: "decimal(9,3)"}')
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(tmp_path / "wh.db")
    assert [row[1:3] for row in con.execute("PRAGMA table_info(t)")] == [
        ("name", "TEXT"), ("id", "BIGINT"), ("amount", "NUMERIC(9,3)")]
    assert [(a, b, None if c is None else float(c)) for a, b, c in
            con.execute("SELECT * FROM t ORDER BY id")] == [("x", 1, 1.5), (None, 2, None),
                                                            ("z", 3, -2.25)]
    r = load(tmp_path, "s.parquet", "    schema: {id: int32, price: float64}")
    assert r.returncode != 0
    assert "has no column 'price'" in r.stderr and "s.parquet" in r.stderr, r.stderr
    r = load(tmp_path, "s.parquet", "    schema: {id: int32, name: date}")
    assert r.returncode != 0
    assert "column 'name'" in r.stderr and "string, which cannot be read as date" in r.stderr, \
        r.stderr
    r = load(tmp_path, "s.parquet", "    schema: {id: int32, tags: string}")
    assert r.returncode != 0 and "column 'tags'" in r.stderr and "nested" in r.stderr, r.stderr
    # without a schema the nested column is named too
    r = load(tmp_path, "s.parquet")
    assert r.returncode != 0 and "column 'tags'" in r.stderr and "nested" in r.stderr, r.stderr


def test_bad_utf8_follows_on_error(tmp_path):
    t = pa.table({"id": pa.array([1, 2, 3], pa.int64()),
                  "b": pa.array([b"ok", b"bad \xff here", b"fine"], pa.binary())})
    pq.write_table(t, tmp_path / "u.parquet")
    r = load(tmp_path, "u.parquet")
    assert r.returncode != 0 and "not valid UTF-8" in r.stderr and "u.parquet" in r.stderr, \
        r.stderr
    r = load(tmp_path, "u.parquet", "    on_error: skip")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sqlite3.connect(tmp_path / "wh.db").execute(
        "SELECT id, b FROM t ORDER BY id").fetchall() == [(1, "ok"), (3, "fine")]


def test_truncated_and_garbage_files_fail_naming_the_file(tmp_path):
    pq.write_table(table(500), tmp_path / "good.parquet")
    data = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    r = load(tmp_path, "cut.parquet", "    schema: {id: int64}")
    assert r.returncode != 0 and "cut.parquet" in r.stderr and "PAR1" in r.stderr, r.stderr
    # the footer intact, the data pages gone: the error names row group and column
    footer_len = int.from_bytes(data[-8:-4], "little")
    body = bytearray(data)
    for i in range(4, len(data) - footer_len - 8):
        body[i] = 0x5A
    (tmp_path / "garbled.parquet").write_bytes(bytes(body))
    r = load(tmp_path, "garbled.parquet", "    schema: {id: int64, s: string}")
    assert r.returncode != 0 and "garbled.parquet" in r.stderr, r.stderr
    assert "row group 0" in r.stderr and "column 'id'" in r.stderr, r.stderr
    # a garbage footer
    body = bytearray(data)
    for i in range(len(data) - footer_len - 8, len(data) - 8):
        body[i] = 0xEE
    (tmp_path / "footer.parquet").write_bytes(bytes(body))
    r = load(tmp_path, "footer.parquet", "    schema: {id: int64}")
    assert r.returncode != 0 and "footer.parquet" in r.stderr and "footer" in r.stderr, r.stderr
    # millrace validate reads the footer too: an unreadable one is a validation error
    (tmp_path / "job.yaml").write_text(DAG % {"path": "footer.parquet",
                                              "extra": "    schema: {id: int64}"})
    r = run_cli("validate", tmp_path / "job.yaml", cwd=tmp_path)
    assert r.returncode != 0 and "footer.parquet" in r.stderr and "corrupt footer" in r.stderr, \
        r.stdout + r.stderr
    (tmp_path / "job.yaml").write_text(DAG % {"path": "good.parquet",
                                              "extra": "    schema: {id: int64, nope: string}"})
    r = run_cli("validate", tmp_path / "job.yaml", cwd=tmp_path)
    assert r.returncode != 0 and "has no column 'nope'" in r.stderr, r.stdout + r.stderr
