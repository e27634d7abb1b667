"""Time types and functions against a real PostgreSQL: timestamptz,
intervals, AT TIME ZONE, to_char / to_timestamp / to_date, make_date,
date_trunc / date_part, and now().

Generated rows (random instants from 1901 to 2150, every half hour around
daylight-saving changes in several zones north and south of the equator,
zones with half- and three-quarter-hour offsets, leap days and month ends)
are read by a millrace job that computes every expression below and writes
the results into a PostgreSQL warehouse; the same rows, loaded into a table
of the same database, go through the same expressions in SQL with the
session time zone UTC (millrace's reading of a timestamptz).  Each column
must agree on every row.  Both read the zones from the system's tz
database (Debian's tzdata; PostgreSQL is built with --with-system-tzdata).

Then: interval literals and their text, the timestamptz round trip from
CSV and JSONL into SQLite and PostgreSQL, inferred timestamptz columns,
bad input (zones, formats, out-of-range values; NULL under try_cast) and
now() being one instant on every executor.
"""
import datetime as dt
import json
import random
import re
import sqlite3

import psycopg
import pytest

import pg
from conftest import run_cli

UTC = dt.timezone.utc
ZONES = ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "America/St_Johns", "Pacific/Chatham", "UTC", "Europe/London", "Asia/Tokyo",
         "America/Sao_Paulo", "Africa/Casablanca", "Pacific/Apia", "Asia/Kathmandu"]
# local days with a daylight-saving change (either way) in some zone
CHANGE_DAYS = ["2024-03-31", "2024-10-27", "2024-03-10", "2024-11-03", "2024-04-07",
               "2024-10-06", "2023-09-24", "2024-04-07", "1996-10-27", "2037-03-29",
               "2061-10-30", "2100-03-28"]

# name: (millrace expression, PostgreSQL expression or None when the same)
FUNCS = {
    "tz_in": ("tz", None),
    "ts_to_tz": ("CAST(ts AS timestamptz)", "ts::timestamptz"),
    "std_cast": ("CAST(ts AS timestamp with time zone)", "ts::timestamp with time zone"),
    "tz_to_ts": ("CAST(tz AS timestamp)", "tz::timestamp"),
    "tz_to_date": ("CAST(tz AS date)", "tz::date"),
    "d_to_tz": ("CAST(d AS timestamptz)", "d::timestamptz"),
    "tz_text": ("CAST(tz AS text)", "replace(tz::text, '+00', '+00:00')"),
    "tz_lt_ts": ("tz < ts", None),
    "tz_eq": ("tz = CAST(ts AS timestamptz)", None),
    "add_iv": ("ts + INTERVAL '1 month 2 days 03:04:05'", None),
    "add_iv_tz": ("tz + INTERVAL '1 year -1 mons 36 hours'", None),
    "sub_iv": ("tz - INTERVAL '2 years 1 day 00:00:00.5'", None),
    "iv_plus_ts": ("INTERVAL '1 mon' + ts", None),
    "month_end": ("d + INTERVAL '1 month'", None),
    "d_sub_iv": ("d - INTERVAL '1 mon 1 day'", None),
    "d_plus_int": ("d + k", None),
    "d_minus_d": ("d - date '2000-02-29'", None),
    "ts_minus_ts": ("CAST(ts - timestamp '2000-02-29 12:00' AS text)",
                    "(ts - timestamp '2000-02-29 12:00')::text"),
    "tz_minus_ts": ("CAST(tz - ts AS text)", "(tz - ts)::text"),
    "iv_sum": ("CAST((tz - ts) + INTERVAL '1 mon -2 days' AS text)",
               "((tz - ts) + INTERVAL '1 mon -2 days')::text"),
    "epoch_diff": ("extract(epoch FROM tz - ts)", "extract(epoch FROM tz - ts)::float8"),
    "epoch_iv": ("extract(epoch FROM (ts - d) + INTERVAL '1 year 2 mons')",
                 "extract(epoch FROM (ts - d) + INTERVAL '1 year 2 mons')::float8"),
    "iv_day": ("date_part('day', tz - ts)", "date_part('day', tz - ts)::bigint"),
    "iv_hour": ("date_part('hour', ts - timestamp '1999-12-31')",
                "date_part('hour', ts - timestamp '1999-12-31')::bigint"),
    "iv_cmp": ("ts - timestamp '2000-01-01' > INTERVAL '300 mons'", None),
    "iv_cmp2": ("tz - ts <= INTERVAL '1 day 01:00'", None),
    "paris": ("tz AT TIME ZONE 'Europe/Paris'", None),
    "sydney": ("ts AT TIME ZONE 'Australia/Sydney'", None),
    "ny": ("ts AT TIME ZONE 'America/New_York'", None),
    "zone_ts": ("ts AT TIME ZONE zone", None),
    "zone_tz": ("tz AT TIME ZONE zone", None),
    "zone_round": ("(ts AT TIME ZONE zone) AT TIME ZONE zone", None),
    "zone_date": ("d AT TIME ZONE 'Asia/Kathmandu'", None),
    "to_char_tz": ("to_char(tz, 'YYYY-MM-DD HH24:MI:SS.US TZH:TZM')", None),
    "to_char_names": ("to_char(ts, 'Day Dy Month Mon DAY mon DDD IW Q D ID')", None),
    "to_char_fm": ("to_char(ts, 'FMMonth FMDD, YYYY HH12:MI:SS.MS AM a.m. \"at\" FMHH24')", None),
    "to_char_date": ("to_char(d, 'YY/MM/DD IYYY-IW')", None),
    "to_ts": ("to_timestamp(s, 'YYYY-MM-DD HH24:MI:SS')", None),
    "to_ts_12": ("to_timestamp(to_char(ts, 'DD Mon YYYY HH12:MI:SS.US PM'), "
                 "'DD Mon YYYY HH12:MI:SS.US PM')", None),
    "to_ts_tzh": ("to_timestamp(to_char(ts, 'YYYYMMDD HH24MISS') || ' +05:30', "
                  "'YYYYMMDD HH24MISS TZH:TZM')", None),
    "to_d": ("to_date(s, 'YYYY-MM-DD')", None),
    "to_d_doy": ("to_date(to_char(d, 'YYYY DDD'), 'YYYY DDD')", None),
    "make_d": ("make_date(date_part('year', d), 2 + k, 28 + k % 2)",
               "make_date(date_part('year', d)::int, 2 + k, 28 + k % 2)"),
    "trunc_tz": ("date_trunc('month', tz)", None),
    "trunc_week": ("date_trunc('week', tz)", None),
    "trunc_hour": ("date_trunc('hour', ts)", None),
    "part_tz": ("date_part('hour', tz)", "date_part('hour', tz)::bigint"),
    "part_dow": ("date_part('isodow', tz)", "date_part('isodow', tz)::bigint"),
    "part_epoch": ("date_part('epoch', tz)", None),
    "extract_doy": ("extract(doy FROM tz)", "extract(doy FROM tz)::bigint"),
}


def fmt_ts(t):
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "")


def tz_text(rnd, t):
    """An instant t (aware) as text with a random offset spelling."""
    off_min = rnd.choice([0, 0, 60, -300, 330, 345, -210, 780, -720, 840])
    local = (t + dt.timedelta(minutes=off_min)).replace(tzinfo=None)
    sign = "+" if off_min >= 0 else "-"
    h, m = divmod(abs(off_min), 60)
    spelled = rnd.choice([f"{sign}{h:02d}:{m:02d}", f"{sign}{h:02d}{m:02d}"] +
                         ([f"{sign}{h:02d}"] if m == 0 else []) +
                         (["Z", ""] if off_min == 0 else []))
    sep = " " if spelled and spelled != "Z" and rnd.random() < 0.2 else ""
    return fmt_ts(local) + sep + spelled


def rows():
    rnd = random.Random(1601)
    base = []
    for day in CHANGE_DAYS:  # every half hour across the change, local and UTC
        d0 = dt.datetime.fromisoformat(day)
        for h in range(0, 9):
            base.append(d0 + dt.timedelta(minutes=30 * h))
    for day in ["2000-02-29", "2024-02-29", "1900-03-01", "2023-01-31", "2024-12-31",
                "2100-02-28", "1970-01-01", "1969-12-31"]:
        base.append(dt.datetime.fromisoformat(day + " 23:59:59.999999"))
        base.append(dt.datetime.fromisoformat(day))
    lo, hi = dt.datetime(1901, 1, 1), dt.datetime(2150, 1, 1)
    for _ in range(500):
        t = lo + dt.timedelta(seconds=rnd.randrange(int((hi - lo).total_seconds())))
        if rnd.random() < 0.3:
            t = t.replace(microsecond=rnd.randrange(1000000))
        base.append(t)
    out = []
    for i, t in enumerate(base):
        null = rnd.random() < 0.03
        out.append({
            "id": i,
            "ts": None if null else fmt_ts(t),
            "tz": None if rnd.random() < 0.03 else tz_text(rnd, t.replace(tzinfo=UTC)),
            "d": t.strftime("%Y-%m-%d"),
            "zone": None if rnd.random() < 0.03 else ZONES[i % len(ZONES)],
            "s": t.strftime("%Y-%m-%d %H:%M:%S"),
            "k": i % 7,
        })
    return out


SCHEMA = {"id": ("int64", "bigint"), "ts": ("timestamp", "timestamp"),
          "tz": ("timestamptz", "timestamptz"), "d": ("date", "date"),
          "zone": ("string", "text"), "s": ("string", "text"), "k": ("int32", "integer")}


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def db(pg_server):
    with pg.database(pg_server) as dsn:
        yield dsn


def yaml_str(text):
    return json.dumps(text, ensure_ascii=False)


def write_jsonl(path, data):
    with open(path, "w", encoding="utf-8") as f:
        for r in data:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def run_dag(tmp_path, text, env=None, executors=2):
    dag = tmp_path / "job.yaml"
    dag.write_text(text, encoding="utf-8")
    return run_cli("run", dag, "--executors", executors, env=env)


def select_dag(src, schema, funcs, table="mr_out", fmt="jsonl"):
    cols = "".join(f"      {n}: {yaml_str(e)}\n" for n, (e, _) in funcs.items())
    sch = "".join(f"      {c}: {t}\n" for c, (t, _) in schema.items())
    return ("version: 1\nname: time_functions\n"
            'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'
            f"nodes:\n  src:\n    op: read\n    format: {fmt}\n    path: {src}\n    schema:\n{sch}"
            f"  calc:\n    op: select\n    input: src\n    columns:\n      id: id\n{cols}"
            f"  out:\n    op: write\n    input: calc\n    to: warehouse\n    table: {table}\n"
            "    mode: overwrite\n")


def compare(tmp_path, dsn, data, schema, funcs):
    """Runs funcs over data in millrace and in PostgreSQL; returns the
    mismatches as {name: [(id, input, millrace, postgres), ...]}."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, data)
    r = run_dag(tmp_path, select_dag(src, schema, funcs), env={"MILLRACE_WAREHOUSE_DSN": dsn})
    assert r.returncode == 0, r.stdout + r.stderr
    names = list(schema)
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE TABLE src (" + ", ".join(
            f"{c} {pgt}" for c, (_, pgt) in schema.items()) + ")")
        with con.cursor().copy(f"COPY src ({', '.join(names)}) FROM STDIN") as cp:
            for row in data:
                cp.write_row([row[c] for c in names])
        sel = ", ".join(f"{p or e} AS {n}" for n, (e, p) in funcs.items())
        want = {r[0]: r[1:] for r in con.execute(f"SELECT id, {sel} FROM src").fetchall()}
        got = {r[0]: r[1:] for r in con.execute(
            f"SELECT id, {', '.join(funcs)} FROM mr_out").fetchall()}
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'mr_out'").fetchall())
    assert sorted(got) == sorted(want) == [r["id"] for r in data]
    bad = {}
    for k, name in enumerate(funcs):
        for i in sorted(want):
            if got[i][k] != want[i][k]:
                bad.setdefault(name, []).append((i, data[i], got[i][k], want[i][k]))
    return bad, types


def test_time_functions_match_postgres(tmp_path, db):
    data = rows()
    bad, types = compare(tmp_path, db, data, SCHEMA, FUNCS)
    assert not bad, "\n".join(f"{n}: {len(v)} rows differ, first {v[:3]}" for n, v in bad.items())
    assert types["tz_in"] == "timestamp with time zone"
    assert types["paris"] == "timestamp without time zone"
    assert types["sydney"] == "timestamp with time zone"
    assert types["to_d"] == "date"


INTERVALS = ["1 day", "1 day 2 hours", "2 hours 1 day", "-1 day +2 hours", "1 year 2 mons",
             "1 year -2 mons 3 days -04:05:06.5", "1.5 years", "1.5 months", "1.25 days",
             "3 weeks", "1 week 2 days", "90 minutes", "1000 seconds", "0.000001 seconds",
             "123 milliseconds", "7 microseconds", "01:02:03", "-01:30", "100:00:00",
             "@ 3 days ago", "1 hour ago", "2 decades", "1 century", "1 millennium",
             "10 years 11 mons 12 days 13:14:15.161718", "0 seconds", "-0.5 days", "5",
             "1 yr 2 mon 3 d 4 hr 5 min 6 sec", "1 mon -30 days", "48:00:00", "-1 year -1 day",
             "1 day -24:00:00", "2 mons 29 days 23:59:59.999999"]


def test_interval_literals_match_postgres(tmp_path, db):
    data = [{"id": i, "s": s} for i, s in enumerate(INTERVALS)] + [{"id": len(INTERVALS),
                                                                      "s": None}]
    funcs = {
        "txt": ("CAST(CAST(s AS interval) AS text)", "s::interval::text"),
        "epoch": ("extract(epoch FROM CAST(s AS interval))",
                  "extract(epoch FROM s::interval)::float8"),
        "gt_month": ("CAST(s AS interval) > INTERVAL '1 mon'", "s::interval > INTERVAL '1 mon'"),
        "eq_30d": ("CAST(s AS interval) = INTERVAL '30 days'", "s::interval = INTERVAL '30 days'"),
        "plus": ("CAST(timestamp '2024-01-31 12:00' + CAST(s AS interval) AS text)",
                 "(timestamp '2024-01-31 12:00' + s::interval)::text"),
        "minus": ("CAST(timestamptz '2024-02-29 00:00Z' - CAST(s AS interval) AS text)",
                  "replace((timestamptz '2024-02-29 00:00Z' - s::interval)::text, '+00', "
                  "'+00:00')"),
        "lit": ("CAST(INTERVAL '1 day 2 hours' + CAST(s AS interval) AS text)",
                "(INTERVAL '1 day 2 hours' + s::interval)::text"),
        "neg": ("CAST(-CAST(s AS interval) AS text)", "(-s::interval)::text"),
        "great": ("CAST(greatest(CAST(s AS interval), INTERVAL '1 mon') AS text)",
                  "greatest(s::interval, INTERVAL '1 mon')::text"),
        "least_iv": ("CAST(least(CAST(s AS interval), INTERVAL '29 days 12:00') AS text)",
                  "least(s::interval, INTERVAL '29 days 12:00')::text"),
        "nullif_iv": ("CAST(nullif(CAST(s AS interval), INTERVAL '1 day') AS text)",
                   "nullif(s::interval, INTERVAL '1 day')::text"),
        "in_list": ("CAST(s AS interval) IN (INTERVAL '24 hours', INTERVAL '30 days')",
                    "s::interval IN (INTERVAL '24 hours', INTERVAL '30 days')"),
        "case_iv": ("CAST(CASE WHEN s LIKE '%day%' THEN CAST(s AS interval) ELSE INTERVAL '-1 mon' "
                 "END AS text)", "(CASE WHEN s LIKE '%day%' THEN s::interval ELSE "
                 "INTERVAL '-1 mon' END)::text"),
    }
    bad, _ = compare(tmp_path, db, data, {"id": ("int64", "bigint"), "s": ("string", "text")},
                     funcs)
    assert not bad, "\n".join(f"{n}: {len(v)} rows differ, first {v[:3]}" for n, v in bad.items())


INSTANTS = [("2024-03-10 12:00:00+02", dt.datetime(2024, 3, 10, 10, tzinfo=UTC)),
            ("2024-03-10 12:00:00Z", dt.datetime(2024, 3, 10, 12, tzinfo=UTC)),
            ("2024-03-10T12:00:00.25-0330", dt.datetime(2024, 3, 10, 15, 30, 0, 250000, UTC)),
            ("2024-02-29 23:30:00 +05:45", dt.datetime(2024, 2, 29, 17, 45, tzinfo=UTC)),
            ("2000-01-01 00:00:00", dt.datetime(2000, 1, 1, tzinfo=UTC)),
            ("1969-12-31 23:59:59.999999-14:00",
             dt.datetime(1970, 1, 1, 13, 59, 59, 999999, UTC))]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_timestamptz_round_trip(tmp_path, db, fmt):
    src = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        src.write_text("id,t\n" + "".join(f"{i},{s}\n" for i, (s, _) in enumerate(INSTANTS)) +
                       f"{len(INSTANTS)},\n")
    else:
        write_jsonl(src, [{"id": i, "t": s} for i, (s, _) in enumerate(INSTANTS)] +
                    [{"id": len(INSTANTS), "t": None}])
    want = {i: w for i, (_, w) in enumerate(INSTANTS)}
    want[len(INSTANTS)] = None
    schema = "{id: int64, t: timestamptz}"
    for wh, table in (("postgres", "pg_t"), ("sqlite", "lite_t")):
        where = ('driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"' if wh == "postgres"
                 else f"path: {tmp_path / 'wh.db'}")
        r = run_dag(tmp_path, f"version: 1\nname: tz_{fmt}\nwarehouse:\n  {where}\nnodes:\n"
                    f"  r: {{op: read, format: {fmt}, path: {src}, schema: {schema}}}\n"
                    f"  w: {{op: write, input: r, to: warehouse, table: {table}, "
                    "mode: overwrite}\n", env={"MILLRACE_WAREHOUSE_DSN": db})
        assert r.returncode == 0, r.stdout + r.stderr
    got = dict(pg.query(db, "SELECT id, t FROM pg_t"))
    assert got == want
    assert pg.query(db, "SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = 'pg_t' AND column_name = 't'") == [
        ("timestamp with time zone",)]
    con = sqlite3.connect(tmp_path / "wh.db")
    lite = dict(con.execute("SELECT id, t FROM lite_t").fetchall())
    con.close()
    for i, w in want.items():
        if w is None:
            assert lite[i] is None
        else:  # ISO text with +00:00 that reads back to the same instant
            assert lite[i].endswith("+00:00"), lite[i]
            assert dt.datetime.fromisoformat(lite[i]) == w


def test_timestamptz_inferred(tmp_path):
    """A column of timestamps, some with offsets, is inferred timestamptz;
    without offsets it stays timestamp."""
    (tmp_path / "a.csv").write_text("id,t,u\n1,2024-01-01 10:00:00+01,2024-01-01 10:00:00\n"
                                    "2,2024-01-02 10:00:00,2024-01-02 11:00:00\n")
    (tmp_path / "b.jsonl").write_text('{"id": 1, "t": "2024-01-01T10:00:00Z", '
                                      '"u": "2024-01-01 10:00:00"}\n')
    for src in ("a.csv", "b.jsonl"):
        fmt = src.split(".")[1]
        r = run_dag(tmp_path, f"version: 1\nname: inf\nwarehouse: {{path: {tmp_path / 'w.db'}}}\n"
                    f"nodes:\n  r: {{op: read, format: {fmt}, path: {tmp_path / src}}}\n"
                    "  w: {op: write, input: r, to: warehouse, table: t, mode: overwrite}\n")
        assert r.returncode == 0, r.stdout + r.stderr
        con = sqlite3.connect(tmp_path / "w.db")
        decl = {c[1]: c[2] for c in con.execute("PRAGMA table_info(t)")}
        first = con.execute("SELECT t FROM t WHERE id = 1").fetchone()[0]
        con.close()
        assert decl["t"] == "TIMESTAMPTZ" and decl["u"] == "TIMESTAMP", (src, decl)
        assert first == ("2024-01-01 09:00:00+00:00" if fmt == "csv"
                         else "2024-01-01 10:00:00+00:00")


def validate(tmp_path, columns, schema="{t: timestamp, z: string}"):
    (tmp_path / "a.csv").write_text("t,z\n2024-01-01 00:00:00,UTC\n")
    cols = "".join(f"      {n}: {yaml_str(e)}\n" for n, e in columns.items())
    dag = tmp_path / "v.yaml"
    dag.write_text(f"version: 1\nname: v\nwarehouse: {{path: {tmp_path / 'w.db'}}}\nnodes:\n"
                   f"  r: {{op: read, format: csv, path: {tmp_path / 'a.csv'}, schema: {schema}}}\n"
                   f"  d:\n    op: select\n    input: r\n    columns:\n{cols}"
                   "  w: {op: write, input: d, to: warehouse, table: t}\n")
    return run_cli("validate", dag)


def test_bad_input_is_a_validation_error_with_its_place(tmp_path):
    r = validate(tmp_path, {"a": "t AT TIME ZONE 'Europe/Pariss'"})
    assert r.returncode == 2
    assert re.search(r"v\.yaml:10:26: error: in column 'a': time zone \"Europe/Pariss\" not "
                     "recognized", r.stderr), r.stderr
    r = validate(tmp_path, {"a": "t + INTERVAL '3 fortnights'"})
    assert r.returncode == 2 and "v.yaml:10:24:" in r.stderr, r.stderr
    assert "bad interval literal '3 fortnights'" in r.stderr, r.stderr
    r = validate(tmp_path, {"a": "TIMESTAMPTZ '2024-02-30 00:00+01'"})
    assert r.returncode == 2 and "bad timestamptz literal" in r.stderr, r.stderr
    r = validate(tmp_path, {"a": "t - t"})  # an interval column cannot be written
    assert r.returncode == 2
    assert "an interval is not a storable column type: cast it to text" in r.stderr, r.stderr
    r = validate(tmp_path, {"a": "make_date(2023, 2, 29)"})  # constant: checked at once
    assert r.returncode == 2 and "date field value out of range: 2023-02-29" in r.stderr
    r = validate(tmp_path, {"a": "t"}, schema="{t: interval, z: string}")
    assert r.returncode == 2 and "interval is not a storable column type" in r.stderr
    r = validate(tmp_path, {"a": "t + 1"})
    assert r.returncode == 2 and "operator '+' cannot apply to timestamp and int32" in r.stderr
    r = validate(tmp_path, {"a": "CAST(t - t AS text)", "b": "t AT TIME ZONE z",
                            "c": "extract(epoch FROM t - t)"})
    assert r.returncode == 0, r.stderr


def run_one(tmp_path, expr, rows_csv="t,z,s\n2024-01-01 00:00:00,UTC,x\n"):
    (tmp_path / "a.csv").write_text(rows_csv)
    db = tmp_path / "w.db"
    r = run_dag(tmp_path, f"version: 1\nname: one\nwarehouse: {{path: {db}}}\nnodes:\n"
                f"  r: {{op: read, format: csv, path: {tmp_path / 'a.csv'}, "
                "schema: {t: timestamp, z: string, s: string}}\n"
                f"  d:\n    op: select\n    input: r\n    columns:\n      a: {yaml_str(expr)}\n"
                "  w: {op: write, input: d, to: warehouse, table: t, mode: overwrite}\n")
    if r.returncode != 0:
        return r, None
    con = sqlite3.connect(db)
    got = [x[0] for x in con.execute("SELECT a FROM t")]
    con.close()
    return r, got


@pytest.mark.parametrize("expr, message", [
    ("t AT TIME ZONE z", 'time zone "Mars/Olympus" not recognized'),
    ("to_date(s, 'YYYY-MM-DD')", 'to_date(): invalid value "xx-01-01" for "YYYY"'),
    ("to_timestamp(s, 'DD Mon YYYY')", 'invalid value "xx-01-01" for "DD"'),
    ("make_date(2023, 2, length(s) + 21)", "date field value out of range: 2023-02-29"),
    ("CAST(s AS timestamptz)", "cannot cast 'xx-01-01' to timestamptz"),
    ("CAST(CAST(s AS interval) AS text)", "cannot cast 'xx-01-01' to interval"),
    ("t + INTERVAL '300000 years'", "timestamp out of range"),
])
def test_bad_values_fail_the_job_clearly(tmp_path, expr, message):
    r, _ = run_one(tmp_path, expr, "t,z,s\n2024-01-01 00:00:00,Mars/Olympus,xx-01-01\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert message in r.stdout + r.stderr, r.stdout + r.stderr


def test_out_of_range_dates_and_try_cast(tmp_path):
    rows_csv = ("t,z,s\n2024-01-01 00:00:00,UTC,2024-02-30 10:00:00+01\n"
                "2024-01-01 00:00:00,UTC,2024-02-29 10:00:00+01\n"
                "2024-01-01 00:00:00,UTC,2023-02-29\n"
                "2024-01-01 00:00:00,UTC,2024-01-01 25:00\n"
                "2024-01-01 00:00:00,UTC,2024-01-01 10:00+16:00\n")
    r, got = run_one(tmp_path, "CAST(try_cast(s AS timestamptz) AS text)", rows_csv)
    assert r.returncode == 0, r.stderr
    assert got == [None, "2024-02-29 09:00:00+00:00", None, None, None]
    r, got = run_one(tmp_path, "CAST(try_cast(s AS interval) AS text)",
                     "t,z,s\n2024-01-01 00:00:00,UTC,1 day\n2024-01-01 00:00:00,UTC,1 dya\n")
    assert r.returncode == 0 and got == ["1 day", None]
    r, _ = run_one(tmp_path, "to_date(s, 'YYYY-MM-DD')", rows_csv.replace(
        "2024-02-30 10:00:00+01", "2023-02-29"))
    assert r.returncode == 1 and "date/time field value out of range" in r.stdout + r.stderr


def test_now_is_one_instant_on_every_executor(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    for f in range(8):
        (data / f"p{f}.csv").write_text("k,v\n" + "".join(f"{f},{i}\n" for i in range(200)))
    db = tmp_path / "w.db"
    before = dt.datetime.now(UTC)
    r = run_dag(tmp_path, f"version: 1\nname: now\nwarehouse: {{path: {db}}}\nnodes:\n"
                f"  r: {{op: read, format: csv, path: {data}, schema: {{k: int32, v: int32}}}}\n"
                "  d:\n    op: select\n    input: r\n    columns:\n      k: k\n"
                "      n: now()\n      c: current_timestamp\n"
                "      same: now() = current_timestamp\n"
                "      local: now() AT TIME ZONE 'Asia/Tokyo'\n"
                "  w: {op: write, input: d, to: warehouse, table: t, mode: overwrite}\n",
                executors=4)
    after = dt.datetime.now(UTC)
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(db)
    got = con.execute("SELECT count(*), count(DISTINCT n), count(DISTINCT c), min(same), "
                      "count(DISTINCT k), min(n), min(local) FROM t").fetchone()
    con.close()
    assert got[:5] == (1600, 1, 1, 1, 8)
    now = dt.datetime.fromisoformat(got[5])
    assert before - dt.timedelta(seconds=1) <= now <= after
    assert dt.datetime.fromisoformat(got[6]) == (now + dt.timedelta(hours=9)).replace(tzinfo=None)


def test_timestamptz_keys_through_shuffle_sort_and_union(tmp_path, db):
    """Group, sort and union on a timestamptz column across executors (the
    shuffle carries it, hash and sort keys order it), against PostgreSQL."""
    rnd = random.Random(77)
    inst = [dt.datetime(2024, 3, 31, 0, 30, tzinfo=UTC) + dt.timedelta(minutes=17 * rnd.randrange(40))
            for _ in range(600)]
    data = [{"id": i, "tz": None if i % 50 == 0 else tz_text(rnd, t), "ts": fmt_ts(t)}
            for i, t in enumerate(inst)]
    src = tmp_path / "in.jsonl"
    write_jsonl(src, data)
    r = run_dag(tmp_path, "version: 1\nname: keys\n"
                'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'
                f"nodes:\n  r: {{op: read, format: jsonl, path: {src}, "
                "schema: {id: int64, tz: timestamptz, ts: timestamp}}\n"
                "  g: {op: aggregate, input: r, group_by: [tz], aggregates: {n: count(*), "
                "lo: min(ts), hi: max(tz)}}\n"
                "  s: {op: sort, input: g, by: [\"tz desc\"]}\n"
                "  w: {op: write, input: s, to: warehouse, table: g_out, mode: overwrite}\n"
                "  u: {op: union, inputs: [r, r2]}\n"
                "  r2: {op: select, input: r, columns: {id: id, tz: ts, ts: ts}}\n"
                "  d: {op: distinct, input: u}\n"
                "  w2: {op: write, input: d, to: warehouse, table: u_out, mode: overwrite}\n",
                env={"MILLRACE_WAREHOUSE_DSN": db}, executors=3)
    assert r.returncode == 0, r.stdout + r.stderr
    with psycopg.connect(db, autocommit=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE TABLE src (id bigint, tz timestamptz, ts timestamp)")
        with con.cursor().copy("COPY src (id, tz, ts) FROM STDIN") as cp:
            for row in data:
                cp.write_row([row["id"], row["tz"], row["ts"]])
        want = con.execute("SELECT tz, count(*), min(ts), max(tz) FROM src GROUP BY tz "
                           "ORDER BY tz DESC NULLS LAST").fetchall()
        got = con.execute("SELECT tz, n, lo, hi FROM g_out").fetchall()
        assert sorted(got, key=repr) == sorted(want, key=repr)
        assert [g[0] for g in got if g[0]] == [w[0] for w in want if w[0]]  # written in order
        want_u = con.execute("SELECT id, tz, ts FROM src UNION SELECT id, ts::timestamptz, ts "
                             "FROM src").fetchall()
        got_u = con.execute("SELECT id, tz, ts FROM u_out").fetchall()
        assert sorted(got_u, key=repr) == sorted(want_u, key=repr)
        assert con.execute("SELECT data_type FROM information_schema.columns WHERE "
                           "table_name = 'u_out' AND column_name = 'tz'").fetchone()[0] == \
            "timestamp with time zone"


def test_parquet_utc_timestamps_read_as_timestamptz(tmp_path):
    """isAdjustedToUTC timestamps are instants (timestamptz); plain ones stay
    timestamp; both keep their microseconds (checked against pyarrow)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    vals = [dt.datetime(2024, 3, 31, 1, 30, 0, 250000), None, dt.datetime(1969, 12, 31, 23, 59, 59)]
    table = pa.table({"id": [1, 2, 3],
                      "at": pa.array([v and v.replace(tzinfo=UTC) for v in vals],
                                     pa.timestamp("us", tz="UTC")),
                      "ms": pa.array([v and v.replace(tzinfo=UTC) for v in vals],
                                     pa.timestamp("ms", tz="Europe/Paris")),
                      "wall": pa.array(vals, pa.timestamp("us"))})
    pq.write_table(table, tmp_path / "t.parquet")
    db = tmp_path / "w.db"
    r = run_dag(tmp_path, f"version: 1\nname: pq\nwarehouse: {{path: {db}}}\nnodes:\n"
                f"  r: {{op: read, format: parquet, path: {tmp_path / 't.parquet'}}}\n"
                "  d: {op: derive, input: r, columns: {paris: \"at AT TIME ZONE 'Europe/Paris'\"}}\n"
                "  w: {op: write, input: d, to: warehouse, table: t, mode: overwrite}\n")
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(db)
    decl = {c[1]: c[2] for c in con.execute("PRAGMA table_info(t)")}
    got = con.execute("SELECT at, ms, wall, paris FROM t ORDER BY id").fetchall()
    con.close()
    assert decl == {"id": "BIGINT", "at": "TIMESTAMPTZ", "ms": "TIMESTAMPTZ", "wall": "TIMESTAMP",
                    "paris": "TIMESTAMP"}, decl
    assert got[0] == ("2024-03-31 01:30:00.25+00:00", "2024-03-31 01:30:00.25+00:00",
                      "2024-03-31 01:30:00.25", "2024-03-31 03:30:00.25")
    assert got[1] == (None, None, None, None)
    assert got[2] == ("1969-12-31 23:59:59+00:00", "1969-12-31 23:59:59+00:00",
                      "1969-12-31 23:59:59", "1970-01-01 00:59:59")


def test_now_survives_a_retry(cluster_factory, tmp_path):
    """An executor killed mid-job: the retried tasks, run later elsewhere,
    still see the job's one start instant."""
    import os
    import signal
    import time
    data = tmp_path / "data"
    data.mkdir()
    for f in range(6):
        (data / f"p{f}.csv").write_text("k,v\n" + "".join(f"{f},{i}\n" for i in range(60000)))
    os.environ["MILLRACE_TEST_BATCH_DELAY_MS"] = "25"
    try:
        c = cluster_factory(executors=3, extra=("--lost-after-ms", "1000"))
    finally:
        del os.environ["MILLRACE_TEST_BATCH_DELAY_MS"]
    dag = ("version: 1\nname: now_retry\nwarehouse: {path: wh.db}\nnodes:\n"
           "  r: {op: read, format: csv, path: data, schema: {k: int32, v: int32}}\n"
           "  d: {op: select, input: r, columns: {k: k, n: now()}}\n"
           "  w: {op: write, input: d, to: warehouse, table: t, mode: overwrite}\n")
    r = c.post("/v1/jobs", json={"dag": dag})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    end = time.time() + 60
    while time.time() < end:
        j = c.get(f"/v1/jobs/{job_id}").json()
        if j["stages"][0]["tasks"]["succeeded"] >= 1 and j["state"] == "running":
            break
        assert j["state"] in ("queued", "running"), j
        time.sleep(0.02)
    busy = [e for e in c.get("/v1/executors").json()["executors"]
            if e["running_tasks"] > 0 and e["state"] == "alive"]
    assert busy, "no executor was running a task"
    c.executors[int(busy[0]["id"].split("-")[1])].send_signal(signal.SIGKILL)
    done = c.wait_job(job_id, timeout=180)
    assert done["state"] == "succeeded", done
    assert sum(s["tasks"]["retried"] for s in done["stages"]) >= 1, done
    con = sqlite3.connect(tmp_path / "wh.db")
    got = con.execute("SELECT count(*), count(DISTINCT n), count(DISTINCT k) FROM t").fetchone()
    con.close()
    assert got == (360000, 1, 6)
