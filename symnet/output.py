"""Writing generated files into the output folder: all or nothing, never torn, never
through a symbolic link.

The driver renders every target in memory first and hands the whole set here, so a
failure while generating leaves the folder as it was.  Each file is written under a
temporary name in the output folder itself and renamed into place (``os.replace``,
atomic on POSIX): a reader, or a second run writing the same names, sees the old file
or the new one, never a mix.  Runs writing into one folder take turns (an advisory lock
on the folder, where the platform has ``fcntl``), so the folder ends up with one run's
complete set of files, not a mix of two.

A symbolic link among the names to be written is refused before anything is written:
writing through it would change a file outside the folder.  (``os.replace`` would
replace the link itself, not its target, so a link planted between the check and the
rename cannot redirect the write either.)  The output folder itself may be a link: it
is the path the user named, as with any compiler's ``-o``.
"""

import contextlib
import logging
import os
import secrets
from pathlib import Path

from .errors import SymnetError, printable

try:
    import fcntl
except ImportError:   # Windows: no advisory locks; each file is still replaced atomically
    fcntl = None

LOG = logging.getLogger(__name__)

#: How many replaced file names the notice lists before it only counts them.
LISTED_NAMES = 6


class OutputPathError(SymnetError):
    """The output folder or a file in it cannot be written safely."""


def write_files(out_dir, files):
    """Write ``files`` ({file name: text, or bytes of an archive}) into ``out_dir``, each one atomically.

    Refuses (OutputPathError, nothing written) when ``out_dir`` is not a folder or one of
    the names is a symbolic link or something other than a plain file.  Existing plain
    files are replaced; a one-line notice on the ``symnet.output`` logger names them.

    Returns:
        list of Path: the written files, in the order of ``files``.
    """
    out_dir = Path(out_dir)
    contents = {name: text if isinstance(text, bytes) else text.encode("utf-8") for name, text in files.items()}
    for name in contents:
        _check_plain_name(name)
    _make_folder(out_dir)
    with _locked(out_dir):
        replaced = [name for name in contents if _existing_plain_file(out_dir, name)]
        _write_then_rename(out_dir, contents)
    if replaced:
        LOG.warning(_replaced_notice(out_dir, replaced))
    return [out_dir / name for name in contents]


def _check_plain_name(name):
    # names come from safe_identifier; a separator here is a bug, not bad input
    if not name or name in (".", "..") or "/" in name or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f"not a plain file name: {name!r}")


def _make_folder(out_dir):
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        what = "a broken symbolic link" if out_dir.is_symlink() else "a file" if out_dir.is_file() else "not a folder"
        raise OutputPathError(f"the output folder is {what}; --out names the folder to write into", out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _locked(out_dir):
    """Hold an exclusive advisory lock on the folder (its own descriptor: no lock file left behind)."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(out_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)   # closing releases the lock


def _existing_plain_file(out_dir, name):
    """Whether ``name`` exists in the folder as a plain file; refuses a link or anything else."""
    path = out_dir / name
    if path.is_symlink():
        raise OutputPathError("is a symbolic link; symnet does not write through links"
                              " (remove it or choose another --out or --name)", path)
    if not os.path.lexists(path):
        return False
    if not path.is_file():
        raise OutputPathError("exists and is not a plain file; remove it or choose another --out or --name",
                              path)
    return True


def _write_then_rename(out_dir, contents):
    """Every file under a temporary name first; then the renames, so a failed write leaves nothing."""
    temporary = {}
    try:
        for name, data in contents.items():
            temporary[name] = _write_temporary(out_dir, name, data)
        for name in contents:
            os.replace(temporary[name], out_dir / name)
            del temporary[name]
    finally:
        for path in temporary.values():
            with contextlib.suppress(OSError):
                os.unlink(path)


def _write_temporary(out_dir, name, data):
    """A new file (O_EXCL: never an existing file or link) in ``out_dir`` holding ``data``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    while True:
        path = out_dir / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            descriptor = os.open(path, flags, 0o666)   # the umask applies, as for any new file
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


def _replaced_notice(out_dir, replaced):
    listed = ", ".join(replaced[:LISTED_NAMES]) + (", ..." if len(replaced) > LISTED_NAMES else "")
    files = "file" if len(replaced) == 1 else "files"
    return f"replaced {len(replaced)} existing {files} in {printable(out_dir)}: {listed}"
