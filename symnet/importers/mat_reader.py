"""scipy's MAT-file reader, run in a child process.

``scipy.io.loadmat`` is not hardened against malformed files: some crash the
interpreter (a segmentation fault in its compiled reader; the bounded fuzz in
tests/test_fuzz_importers.py finds such files within a few hundred byte
edits).  symnet therefore reads a MAT-file in a separate Python process, so
that a crash, an error or a hang there becomes a ModelFormatError instead of
killing the caller.  The child sends back the one variable it read, pickled;
the parent unpickles nothing but numpy arrays and scipy's MATLAB structs.
"""

import pickle
import subprocess
import sys

from ..errors import ModelFormatError
from .mat_sizes import check_variable_size

#: seconds the child may take (a MAT-file of a network is small)
TIMEOUT_S = 120

_CHILD = r"""
import pickle, sys
from scipy.io import loadmat
try:
    data = loadmat(sys.argv[1], squeeze_me=False, struct_as_record=False, variable_names=[sys.argv[2]])
    result = ("found", data[sys.argv[2]]) if sys.argv[2] in data else ("missing", None)
except NotImplementedError:
    result = ("version 7.3", None)
except Exception as error:  # scipy raises several types for files that are not MAT-files
    result = ("error", f"{type(error).__name__}: {error}")
sys.stdout.buffer.write(pickle.dumps(result, protocol=4))
"""

_ALLOWED = {("copyreg", "_reconstructor"), ("builtins", "object"), ("builtins", "complex")}


class _MatUnpickler(pickle.Unpickler):
    """Only what loadmat returns: numpy arrays and scalars, and scipy's MATLAB objects."""

    def find_class(self, module, name):
        if module.split(".")[0] == "numpy" or module.startswith("scipy.io.matlab") or (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a MAT-file")


def read_variable(path, variable):
    """(status, value): ("found", value), ("missing", None), ("version 7.3", None) or ("error", text).

    The variable's declared sizes are checked first (SizeLimitError), before scipy inflates anything."""
    check_variable_size(path, variable)
    try:
        child = subprocess.run([sys.executable, "-c", _CHILD, str(path), variable], capture_output=True,
                               timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ModelFormatError(f"not a readable MAT-file (reading it took longer than {TIMEOUT_S} s)") from None
    if child.returncode != 0:
        how = f"signal {-child.returncode}" if child.returncode < 0 else f"exit code {child.returncode}"
        raise ModelFormatError(f"not a readable MAT-file (scipy's MAT reader stopped with {how})")
    try:
        import io
        return _MatUnpickler(io.BytesIO(child.stdout)).load()
    except Exception as error:  # what the child sent is not what loadmat returns
        raise ModelFormatError(f"not a readable MAT-file ({type(error).__name__}: {error})") from None
