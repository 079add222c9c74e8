"""generated/ holds what symnet emits today for the bundled examples."""

import subprocess
import sys

from conftest import REPO


def test_generated_folder_matches_a_fresh_regeneration():
    result = subprocess.run([sys.executable, str(REPO / "tools" / "regenerate.py"), "--check"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr
