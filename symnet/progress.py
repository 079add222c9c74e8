"""Progress of long stages, on one line of stderr when stderr is a terminal.

A stage is opened with ``stage(name, total)`` (or a loop wrapped in ``over``);
stages nest ("c: layered > self-check vectors 2/4 > layer 1/3").  Nothing is
written until the outermost stage has run for ``DELAY`` seconds, so quick runs
print nothing; then a background thread rewrites the line with ``\\r`` a few times
a second (a stage without steps still shows its elapsed time), and the line is
cleared when the outermost stage ends.  Nothing at all is written when stderr
is not a terminal, or after ``set_quiet()``.

Standard library only: a progress bar library would be one more run-time
dependency for a single line of text.
"""

import contextlib
import os
import sys
import threading
import time

#: Seconds before progress appears (the environment variable SYMNET_PROGRESS_DELAY overrides it).
DELAY = 2.0

#: Seconds between two rewrites of the line.
INTERVAL = 0.25

_state = {"quiet": False}


def set_quiet(quiet=True):
    """Show no progress in this process (the command line's ``--quiet``)."""
    _state["quiet"] = quiet


class _Stage:
    def __init__(self, name, total):
        self.name, self.total, self.done = name, total, 0

    def advance(self, steps=1):
        self.done += steps
        _LINE.show_if_due()

    def text(self):
        return self.name if self.total is None else f"{self.name} {self.done}/{self.total}"


class _Line:
    """The one progress line of the process and the thread that keeps it fresh."""

    def __init__(self):
        self.stages, self.lock, self.width, self.started, self.shown_at = [], threading.RLock(), 0, 0.0, 0.0
        self.done = threading.Event()

    def push(self, stage):
        with self.lock:
            if not self.stages:
                self.started, self.shown_at = time.monotonic(), 0.0
                self.done = threading.Event()   # one per run: an old thread never outlives its run
                if _enabled():
                    threading.Thread(target=self._refresh, args=(self.done,), daemon=True,
                                     name="symnet-progress").start()
            self.stages.append(stage)
        self.show_if_due(force=True)

    def pop(self, stage):
        with self.lock:
            self.stages.remove(stage)
            if not self.stages:
                self.done.set()
                self._clear()
            else:
                self.show_if_due(force=True)

    def show_if_due(self, force=False):
        with self.lock:
            now = time.monotonic()
            if not self.stages or not _enabled() or now - self.started < _delay():
                return
            if not force and now - self.shown_at < INTERVAL / 2:
                return
            elapsed = f"({now - self.started:.0f} s)"
            text = "symnet: " + " > ".join(stage.text() for stage in self.stages) + " " + elapsed
            text = text[:_columns() - 1]
            _write("\r" + text.ljust(self.width))
            self.width, self.shown_at = len(text), now

    def _refresh(self, done):
        while not done.wait(INTERVAL):
            self.show_if_due(force=True)

    def _clear(self):
        if self.width:
            _write("\r" + " " * self.width + "\r")
            self.width = 0


_LINE = _Line()


@contextlib.contextmanager
def stage(name, total=None):
    """A stage of work; call ``.advance()`` on what it yields after each of ``total`` steps."""
    current = _Stage(name, total)
    _LINE.push(current)
    try:
        yield current
    finally:
        _LINE.pop(current)


def over(items, name, total=None):
    """Iterate over ``items`` as a stage named ``name``, one step per item."""
    items = list(items) if total is None and not hasattr(items, "__len__") else items
    with stage(name, len(items) if total is None else total) as current:
        for item in items:
            yield item
            current.advance()


def _enabled():
    stream = sys.stderr
    return not _state["quiet"] and stream is not None and hasattr(stream, "isatty") and stream.isatty()


def _delay():
    try:
        return float(os.environ.get("SYMNET_PROGRESS_DELAY", DELAY))
    except ValueError:
        return DELAY


def _columns():
    """The terminal's width; 80 where it does not say (0 on a fresh pseudo-terminal)."""
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return max(20, columns) if columns else 80


def _write(text):
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):   # the terminal went away: progress is not worth an error
        pass
