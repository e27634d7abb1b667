"""tables.py - the benchmark's input files and their column types, shared by
the DuckDB and Spark runners (bench/duck_jobs.py, bench/spark_jobs.py) so
that every engine reads the same files with the same types as millrace's
DAGs (bench/dags/*.yaml, dags/tickit.yaml).

Each table is (file name, [(column, type)]) with the type in one neutral
spelling; `duck_columns` and `spark_ddl` turn it into each engine's.
"""

LINEITEM = ("lineitem.csv", [
    ("l_orderkey", "int64"), ("l_partkey", "int32"), ("l_suppkey", "int32"),
    ("l_linenumber", "int32"), ("l_quantity", "decimal(12,2)"),
    ("l_extendedprice", "decimal(12,2)"), ("l_discount", "decimal(12,2)"),
    ("l_tax", "decimal(12,2)"), ("l_returnflag", "string"), ("l_linestatus", "string"),
    ("l_shipdate", "date"), ("l_commitdate", "date"), ("l_receiptdate", "date"),
    ("l_shipinstruct", "string"), ("l_shipmode", "string"), ("l_comment", "string")])

ORDERS = ("orders.csv", [
    ("o_orderkey", "int64"), ("o_custkey", "int32"), ("o_orderstatus", "string"),
    ("o_totalprice", "decimal(12,2)"), ("o_orderdate", "date"), ("o_orderpriority", "string"),
    ("o_clerk", "string"), ("o_shippriority", "int32"), ("o_comment", "string")])

LIKES = ["likesports", "liketheatre", "likeconcerts", "likejazz", "likeclassical", "likeopera",
         "likerock", "likevegas", "likebroadway", "likemusicals"]

TICKIT = {
    "users": ("allusers_pipe.txt", [
        ("userid", "int32"), ("username", "string"), ("firstname", "string"),
        ("lastname", "string"), ("city", "string"), ("state", "string"), ("email", "string"),
        ("phone", "string")] + [(c, "bool") for c in LIKES]),
    "venue": ("venue_pipe.txt", [
        ("venueid", "int32"), ("venuename", "string"), ("venuecity", "string"),
        ("venuestate", "string"), ("venueseats", "int32")]),
    "category": ("category_pipe.txt", [
        ("catid", "int32"), ("catgroup", "string"), ("catname", "string"), ("catdesc", "string")]),
    "date": ("date2008_pipe.txt", [
        ("dateid", "int32"), ("caldate", "date"), ("day", "string"), ("week", "int32"),
        ("month", "string"), ("qtr", "string"), ("year", "int32"), ("holiday", "bool")]),
    "event": ("allevents_pipe.txt", [
        ("eventid", "int32"), ("venueid", "int32"), ("catid", "int32"), ("dateid", "int32"),
        ("eventname", "string"), ("starttime", "timestamp")]),
    "sales": ("sales_pipe.txt", [
        ("salesid", "int32"), ("listid", "int32"), ("sellerid", "int32"), ("buyerid", "int32"),
        ("eventid", "int32"), ("dateid", "int32"), ("qtysold", "int32"),
        ("pricepaid", "decimal(8,2)"), ("commission", "decimal(8,2)"),
        ("saletime", "timestamp")]),
}

# the job's cut-off dates (the same literals as the DAGs)
Q1_SHIPDATE = "1998-09-02"
JOIN_ORDERDATE = "1995-03-15"

_DUCK = {"int32": "INTEGER", "int64": "BIGINT", "string": "VARCHAR", "date": "DATE",
         "timestamp": "TIMESTAMP", "bool": "BOOLEAN"}
_SPARK = {"int32": "INT", "int64": "BIGINT", "string": "STRING", "date": "DATE",
          "timestamp": "TIMESTAMP", "bool": "BOOLEAN"}


def _map(t, table):
    return t.upper() if t.startswith("decimal") else table[t]


def duck_columns(cols):
    """DuckDB read_csv's columns={...} argument."""
    return "{" + ", ".join(f"'{n}': '{_map(t, _DUCK)}'" for n, t in cols) + "}"


def spark_ddl(cols, bool_as_string=False):
    """A Spark DDL schema string; booleans read as strings when asked (Spark's
    CSV reader takes only true/false, the TICKIT files say t/f)."""
    return ", ".join(f"{n} {'STRING' if bool_as_string and t == 'bool' else _map(t, _SPARK)}"
                     for n, t in cols)
