"""Pickled models (``.pkl``, ``.pickle``, ``.joblib``): read only with explicit trust.

Unpickling runs whatever code the file names, so a model file from anyone else
could do anything to your machine.  symnet refuses such files unless the caller
says it trusts this one (``--trust-pickle`` on the command line,
``trust_pickle=True`` in ``symnet.load``); the object read is then imported
like any other Python object (a scikit-learn estimator, a torch module).
"""

import pickle

from ..errors import MissingExtraError, ModelFormatError, UnsupportedError

REFUSAL = ("refusing to unpickle: loading a pickle runs code from the file. Pass --trust-pickle"
           " (trust_pickle=True in symnet.load) only for a file you trust")


#: package a pickled model may need -> the symnet extra that installs it
_EXTRAS = {"sklearn": "sklearn", "torch": "torch", "joblib": "sklearn", "onnx": "onnx"}


def load_pickle(path, trust_pickle=False):
    """A Network from a pickled model object, only when ``trust_pickle`` is true."""
    if not trust_pickle:
        raise UnsupportedError(REFUSAL)
    obj = _unpickle(path)
    from . import load
    return load(obj)


def _unpickle(path):
    if str(path).lower().endswith(".joblib"):
        try:
            import joblib
        except ImportError:
            raise MissingExtraError("reading .joblib files needs joblib: pip install symnet[sklearn]") from None
        reader = joblib.load
    else:
        def reader(file_name):
            with open(file_name, "rb") as handle:
                return pickle.load(handle)
    try:
        return reader(str(path))
    except ImportError as error:
        package = (getattr(error, "name", None) or "").split(".")[0]
        extra = _EXTRAS.get(package)
        advice = f": pip install symnet[{extra}]" if extra else ""
        raise MissingExtraError(f"the pickled model needs {package or 'a package'}, which is not installed"
                                f"{advice}") from None
    except Exception as error:  # a damaged pickle raises nearly anything
        raise ModelFormatError(f"cannot unpickle: {type(error).__name__}: {error}") from None
