"""Strict reading and writing of the small CSV tables of the dataset format (stdlib csv + numpy, no pandas).

Every problem becomes a ``DatasetError`` whose one line names the file, the row and what is wrong.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.market.errors import DatasetError

MAX_TIMESTAMP_MS = 2**53  # far beyond any real date; keeps int64 maths safe

Column = npt.NDArray[Any]


def _parse_int(text: str, where: str) -> int:
    """A ms timestamp: an integer (``1700000000000`` or an integral float like ``1.7e12``)."""
    try:
        value = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise DatasetError(f"{where}: {text!r} is not an integer timestamp (ms UTC)") from None
        if not math.isfinite(f) or f != int(f):
            raise DatasetError(f"{where}: {text!r} is not an integer timestamp (ms UTC)") from None
        value = int(f)
    if not 0 <= value < MAX_TIMESTAMP_MS:
        raise DatasetError(f"{where}: timestamp {text!r} is out of range (expected ms UTC)")
    return value


def _parse_float(text: str, where: str) -> float:
    """A number; an empty field means unknown (NaN). Infinities are rejected."""
    if text.strip() == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{where}: {text!r} is not a number") from None
    if math.isinf(value):
        raise DatasetError(f"{where}: {text!r} is not a finite number")
    return value


def read_table(
    path: Path,
    int_columns: Sequence[str],
    float_columns: Sequence[str],
    str_columns: Sequence[str] = (),
) -> dict[str, Column]:
    """Read ``path`` (a CSV with a header row) into one numpy array per requested column.

    Ints → int64 (ms timestamps), floats → float64 (empty = NaN), strings → str arrays. Extra columns are
    ignored; a missing column, a short/long row or an unparsable value raises ``DatasetError``.
    """
    name = path.name
    wanted = [*int_columns, *float_columns, *str_columns]
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DatasetError(f"{name}: the file is empty (expected a header row: {','.join(wanted)})")
            header = [h.strip() for h in header]
            missing = [c for c in wanted if c not in header]
            if missing:
                raise DatasetError(
                    f"{name}: missing column(s) {', '.join(missing)} (header is {','.join(header)!r})"
                )
            index = {c: header.index(c) for c in wanted}
            ints: dict[str, list[int]] = {c: [] for c in int_columns}
            floats: dict[str, list[float]] = {c: [] for c in float_columns}
            strs: dict[str, list[str]] = {c: [] for c in str_columns}
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and row[0].strip() == ""):
                    continue  # blank line
                if len(row) != len(header):
                    raise DatasetError(
                        f"{name} line {line}: {len(row)} fields, expected {len(header)} ({','.join(header)})"
                    )
                for c in int_columns:
                    ints[c].append(_parse_int(row[index[c]].strip(), f"{name} line {line} column {c}"))
                for c in float_columns:
                    floats[c].append(_parse_float(row[index[c]], f"{name} line {line} column {c}"))
                for c in str_columns:
                    strs[c].append(row[index[c]].strip())
    except UnicodeDecodeError:
        raise DatasetError(f"{name}: not UTF-8 text") from None
    except csv.Error as exc:
        raise DatasetError(f"{name}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    out: dict[str, Column] = {}
    for c, iv in ints.items():
        out[c] = np.asarray(iv, dtype=np.int64)
    for c, fv in floats.items():
        out[c] = np.asarray(fv, dtype=np.float64)
    for c, sv in strs.items():
        out[c] = np.asarray(sv, dtype=np.str_)
    return out


def check_times(name: str, ts: npt.NDArray[np.int64], *, strict: bool = True) -> None:
    """Raise unless ``ts`` ascends (strictly when ``strict``: no duplicates)."""
    if ts.shape[0] < 2:
        return
    d = np.diff(ts)
    bad = np.flatnonzero(d <= 0) if strict else np.flatnonzero(d < 0)
    if bad.size:
        i = int(bad[0]) + 1
        problem = "duplicate" if d[i - 1] == 0 else "unsorted"
        raise DatasetError(
            f"{name}: {problem} timestamp {int(ts[i])} on data row {i + 1} "
            f"(timestamps must be ascending{' and unique' if strict else ''})"
        )


def _fmt(value: float) -> str:
    """Exact (round-trippable) text for a float; NaN → empty field."""
    return "" if math.isnan(value) else repr(float(value))


def write_table(path: Path, header: Sequence[str], columns: Sequence[npt.NDArray[np.generic]]) -> None:
    """Write equal-length columns as CSV: int64 as integers, floats exactly (NaN = empty), others as text."""
    n = int(columns[0].shape[0]) if columns else 0
    cells: list[list[str]] = []
    for col in columns:
        if col.dtype.kind in "iu":
            cells.append([str(int(v)) for v in col.tolist()])
        elif col.dtype.kind == "f":
            cells.append([_fmt(v) for v in col.tolist()])
        else:
            cells.append([str(v) for v in col.tolist()])
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(zip(*cells, strict=True) if n else [])
