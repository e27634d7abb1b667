"""gen_text.py - vectorised delimited-text rows for the data generators (numpy).

The generators (gen_tickit.py, gen_tpch.py) make millions of rows; formatting
them one at a time in Python runs at a few MB/s. Here every column of a chunk
of rows becomes a byte matrix (one row per record, as wide as the column's
widest value) plus a length per record, built with whole-array numpy
operations: integers by digit extraction, decimals as integer + '.' +
fraction digits, and strings, dates and other small vocabularies by lookup in
a pre-rendered table.

`Rows.tobytes` lays the records out in a 2-D buffer with one fixed stride per
record (the sum of the column widths plus a delimiter each), writing each
column's full matrix at that record's running offset, then the delimiter
right after the value's real length. A column's padding spills into the
space of the next column, which is written afterwards and overwrites it; the
last column's padding stays past the record's end. A mask of the bytes before
each record's end then compacts the buffer into the final text, records in
order. Nothing here loops over records in Python.

Memory: about (stride + 8 x widest column) bytes per record of the chunk, so
callers keep chunks to a few hundred thousand records.
"""
import numpy as np

NULL = None


def vocab(values):
    """A lookup table for `Rows.add_lookup`: (matrix, lengths) of the UTF-8
    bytes of each value (None is the empty string, a NULL field)."""
    enc = [b"" if v is None else str(v).encode("utf-8") for v in values]
    width = max(1, max(len(e) for e in enc))
    mat = np.zeros((len(enc), width), dtype=np.uint8)
    for i, e in enumerate(enc):
        mat[i, :len(e)] = np.frombuffer(e, dtype=np.uint8)
    return mat, np.array([len(e) for e in enc], dtype=np.int64)


def digits(values, min_width=1):
    """Decimal digits of non-negative integers, left-aligned, at least
    `min_width` digits each (zero-padded on the left): (matrix, lengths)."""
    v = np.asarray(values, dtype=np.int64)
    if v.size and v.min() < 0:
        raise ValueError("digits: negative values are not supported")
    top = int(v.max()) if v.size else 0
    width = max(min_width, len(str(top)))
    lens = np.full(v.shape, 1, dtype=np.int64)
    p = 10
    for k in range(2, width + 1):
        lens += v >= p
        p *= 10
    np.maximum(lens, min_width, out=lens)
    # right-aligned digits, four at a time from a table of 0000..9999
    groups = (width + 3) // 4
    right = np.empty((v.shape[0], groups * 4), dtype=np.uint8)
    rest = v.copy()
    for g in range(groups - 1, -1, -1):
        right[:, 4 * g:4 * g + 4] = _QUADS[rest % 10000]
        rest //= 10000
    # left-align: digit k of a value with L digits is right[, groups*4 - L + k]
    idx = (groups * 4 - lens)[:, None] + np.arange(width)[None, :]
    mat = np.take_along_axis(right, np.minimum(idx, groups * 4 - 1), axis=1)
    mat[idx >= groups * 4] = 0
    return mat, lens


_QUADS = (np.arange(10000)[:, None] // np.array([1000, 100, 10, 1])[None, :] % 10 + 48).astype(np.uint8)


class Rows:
    """The columns of one chunk of `n` records, added left to right."""

    def __init__(self, n):
        self.n = n
        self.cols = []

    def add(self, mat, lens, null=None):
        """A column as (matrix, lengths); records where `null` is true get an
        empty field."""
        assert mat.shape[0] == self.n and lens.shape[0] == self.n
        if null is not None:
            lens = np.where(null, 0, lens)
        self.cols.append((mat, lens))

    def add_int(self, values, min_width=1, null=None):
        self.add(*digits(values, min_width), null=null)

    def add_lookup(self, table, index):
        """The table's value at each record's index (see `vocab`)."""
        mat, lens = table
        self.add(mat[index], lens[index])

    def add_const(self, text):
        """The same text in every record."""
        mat, lens = vocab([text])
        zero = np.zeros(self.n, dtype=np.int64)
        self.add(mat[zero], lens[zero])

    def add_decimal(self, scaled, scale=2):
        """Non-negative fixed-point values given as integers times 10**scale,
        written with exactly `scale` fraction digits ('12.50')."""
        scaled = np.asarray(scaled, dtype=np.int64)
        unit = 10 ** scale
        imat, ilens = digits(scaled // unit)
        fmat, _ = digits(scaled % unit, min_width=scale)
        mat = np.zeros((self.n, imat.shape[1] + 1 + scale), dtype=np.uint8)
        mat[:, :imat.shape[1]] = imat
        rows = np.arange(self.n)
        mat[rows, ilens] = ord(".")
        for k in range(scale):
            mat[rows, ilens + 1 + k] = fmat[:, k]
        self.add(mat, ilens + 1 + scale)

    def add_concat(self, *parts):
        """One field made of several pieces, each a (matrix, lengths) pair or
        a str that every record holds."""
        zero = np.zeros(self.n, dtype=np.int64)
        sub = Rows(self.n)
        for p in parts:
            if isinstance(p, str):
                mat, lens = vocab([p])
                p = (mat[zero], lens[zero])
            sub.add(*p)
        width = sum(m.shape[1] for m, _ in sub.cols)
        mat, lens = sub._layout(None, width)
        self.add(mat, lens)

    def _layout(self, delim, stride):
        """The records in a (n, stride) buffer and each one's length; `delim`
        (a byte) goes after every column, None joins them directly."""
        buf = np.zeros((self.n, stride), dtype=np.uint8)
        off = np.zeros(self.n, dtype=np.int64)
        rows = np.arange(self.n)
        for mat, lens in self.cols:
            w = mat.shape[1]
            cols = off[:, None] + np.arange(w)[None, :]
            np.put_along_axis(buf, cols, mat, axis=1)
            off += lens
            if delim is not None:
                buf[rows, off] = delim
                off += 1
        return buf, off

    def tobytes(self, delim=b"|", newline=b"\n"):
        """The records as text: fields joined by `delim`, each record ending
        in `newline` (both one byte)."""
        if self.n == 0:
            return b""
        stride = sum(m.shape[1] for m, _ in self.cols) + len(self.cols)
        buf, off = self._layout(delim[0], stride)
        buf[np.arange(self.n), off - 1] = newline[0]
        mask = np.arange(stride)[None, :] < off[:, None]
        return buf[mask].tobytes()
