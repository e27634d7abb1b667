SELECT DISTINCT o_orderstatus, o_orderpriority FROM orders
