"""The errors symnet raises on purpose.

Every message names the file (when there is one), the place in it and the
problem, so that the command line can print it on one line and stop.
"""


#: Longest problem text printed (a hostile file can make a quoted name arbitrarily long).
MAX_PROBLEM = 1000


def printable(text, limit=None):
    """``text`` on one line, every run of white space one blank and every other
    control or invisible character escaped (\\x1b): a hostile file name or model
    string cannot move the cursor, change colours or fake a second line."""
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in " ".join(str(text).split()))
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


class SymnetError(Exception):
    """Base of every error that is the input's fault, not symnet's."""

    def __init__(self, problem, source=None):
        self.problem = str(problem)
        self.source = None if source is None else str(source)
        super().__init__(self.one_line())

    def one_line(self):
        problem = printable(self.problem, MAX_PROBLEM)
        return f"{printable(self.source)}: {problem}" if self.source else problem

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
