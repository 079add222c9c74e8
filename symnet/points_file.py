"""Reading raw input points from a file: CSV (numbers, an optional header row of
names) or NumPy ``.npy``, one point per row, one column per raw input.

The CSV rows are read with the ``csv`` module and converted cell by cell rather than
with ``numpy.loadtxt`` so that a bad cell is reported by its row and column on one line.
"""

import csv
from pathlib import Path

import numpy as np

from .errors import SymnetError


class DataFileError(SymnetError):
    """A file of input points is missing, unreadable or does not fit the model."""


def read_points(path, n_inputs):
    """(n_points, n_inputs) finite raw inputs from a ``.csv`` or ``.npy`` file.

    Raises:
        DataFileError: naming the file and the problem (missing, unreadable, wrong
            column count, a non-numeric or non-finite value, no rows).
    """
    path = Path(path)
    readers = {".csv": _read_csv, ".npy": _read_npy}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataFileError(f"unknown data file type {path.suffix!r} (expected .csv or .npy)", path)
    if not path.is_file():
        raise DataFileError("no such file" if not path.exists() else "not a file", path)
    try:
        return reader(path, n_inputs)
    except DataFileError as error:
        raise error.with_source(path) from None
    except OSError as error:
        raise DataFileError(f"cannot read: {error.strerror or error}", path) from None


def _read_csv(path, n_inputs):
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            rows = [row for row in csv.reader(stream) if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataFileError(f"not a readable CSV file: {error}") from None
    if rows and not all(_is_number(cell) for cell in rows[0]):
        _check_width(rows[0], n_inputs, "the first row (not numbers, so read as a header of names)")
        rows = rows[1:]
    if not rows:
        raise DataFileError("has no data rows")
    values = []
    for number, row in enumerate(rows, start=1):
        _check_width(row, n_inputs, f"data row {number}")
        values.append([_number(cell, number, column) for column, cell in enumerate(row, start=1)])
    return np.array(values, dtype=float)


def _check_width(row, n_inputs, what):
    if len(row) != n_inputs:
        raise DataFileError(f"{what} has {_count(len(row), 'column')}; the model has"
                            f" {_count(n_inputs, 'raw input')}")


def _count(number, noun):
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(cell, row, column):
    if not _is_number(cell):
        raise DataFileError(f"data row {row}, column {column}: {cell.strip()!r} is not a number")
    value = float(cell)
    if not np.isfinite(value):
        raise DataFileError(f"data row {row}, column {column} is {cell.strip()} (every value must be finite)")
    return value


def _read_npy(path, n_inputs):
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as error:   # numpy's words for a malformed or object file
        raise DataFileError(f"not a readable .npy file: {error}") from None
    if array.dtype.kind not in "biuf":
        raise DataFileError(f"holds {array.dtype} values, expected numbers")
    if array.ndim != 2 or array.shape[1] != n_inputs:
        raise DataFileError(f"has shape {array.shape}, expected (n_points, {n_inputs})")
    if array.shape[0] == 0:
        raise DataFileError("has no data rows")
    array = array.astype(float)
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        row, column = bad[0]
        raise DataFileError(f"row {row + 1}, column {column + 1} is {array[row, column]}"
                            " (every value must be finite)")
    return array
