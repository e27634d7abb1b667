WITH ranked AS (
  SELECT o_custkey, o_orderkey, o_totalprice,
         row_number() OVER (PARTITION BY o_custkey ORDER BY o_totalprice DESC, o_orderkey) AS rn
  FROM orders WHERE o_custkey IS NOT NULL
)
SELECT o_custkey, o_orderkey, o_totalprice FROM ranked WHERE rn <= 2
