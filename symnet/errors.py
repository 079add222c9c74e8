"""The errors symnet raises on purpose.

Every message names the file (when there is one), the place in it and the
problem, so that the command line can print it on one line and stop.
"""


class SymnetError(Exception):
    """Base of every error that is the input's fault, not symnet's."""

    def __init__(self, problem, source=None):
        self.problem = str(problem)
        self.source = None if source is None else str(source)
        super().__init__(self.one_line())

    def one_line(self):
        text = " ".join(self.problem.split())
        return f"{self.source}: {text}" if self.source else text

    def with_source(self, source):
        """Return the same error, now naming the file it came from."""
        if self.source is not None:
            return self
        error = type(self).__new__(type(self))
        SymnetError.__init__(error, self.problem, source)
        return error


class ModelFormatError(SymnetError):
    """The model file or object is malformed (syntax, shapes, values)."""


class UnsupportedError(SymnetError):
    """The model uses a layer, operation or transfer function symnet does not map."""


class SizeLimitError(SymnetError):
    """The request exceeds a documented size limit."""


class MissingExtraError(SymnetError):
    """An optional dependency for an importer or target is not installed."""
