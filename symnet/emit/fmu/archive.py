"""The .fmu archive: a zip with fixed timestamps and sorted members, and the Linux
binary built with gcc at generation time where gcc is on the PATH."""

import io
import logging
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ...errors import SymnetError

LOG = logging.getLogger(__name__)

#: every member's timestamp: the zip format's earliest, so the same files give the same bytes
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

#: the flags the generated sources must pass without a warning
BUILD_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-shared", "-fPIC")


class FmuBuildError(SymnetError):
    """gcc did not build the FMU's binary from its generated sources."""


def host_platform():
    """The FMI platform folder this machine builds for, or None where symnet builds no binary."""
    if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64"):
        return "linux64"
    return None


def build_binary(name, sources, compiler=None):
    """``{"binaries/linux64/NAME.so": bytes}``, built from ``sources`` ({file name: text}),
    or {} (a source-only FMU) where there is no gcc or the host is not linux64."""
    folder_name = host_platform()
    compiler = compiler or shutil.which("gcc")
    if folder_name is None or compiler is None:
        LOG.warning("no gcc here, or not a linux64 host: %s.fmu is a source FMU"
                    " (the importing tool builds sources/)", name)
        return {}
    with tempfile.TemporaryDirectory(prefix="symnet_fmu_") as folder:
        for file_name, text in sources.items():
            (Path(folder) / file_name).write_text(text, encoding="utf-8")
        library = f"{name}.so"
        c_files = sorted(f for f in sources if f.endswith(".c"))
        result = subprocess.run([compiler, *BUILD_FLAGS, *c_files, "-lm", "-o", library], cwd=folder,
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise FmuBuildError(f"gcc could not build the FMU binary: {result.stderr.strip()[-2000:]}", name)
        return {f"binaries/{folder_name}/{library}": (Path(folder) / library).read_bytes()}


def zip_archive(members):
    """The bytes of a zip holding ``members`` ({path: bytes or text}), sorted, with fixed
    timestamps and permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(members):
            data = members[path]
            info = zipfile.ZipInfo(path, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            info.create_system = 3   # Unix, whatever the host: the permissions above mean the same everywhere
            archive.writestr(info, data if isinstance(data, bytes) else data.encode("utf-8"))
    return buffer.getvalue()
