"""The PNG pictures of ``symnet sensitivity --plot`` and ``symnet check --plot``, and the
one-line error without the plot extra."""

import subprocess
import sys

import numpy as np

from symnet.cli import main
from symnet.importers.json_format import save_json

from conftest import REPO
from helpers import require_module, random_network
from test_sensitivity import tiny_net

EXAMPLE = REPO / "examples" / "pxyz.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

image = require_module("matplotlib.image")


def read_png(path):
    """The picture as an array; fails unless the file is a PNG matplotlib can decode."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return image.imread(path)


def assert_drawn(pixels, min_width, min_height):
    """Large enough for its panels, and not blank: many distinct colours."""
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= min_height, pixels.shape
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50


def test_sensitivity_plot_of_the_example(tmp_path, capsys):
    path = tmp_path / "pxyz.png"
    assert main(["sensitivity", str(EXAMPLE), "--points", "20", "--plot", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"plot: {path}"
    assert path.stat().st_size > 20_000
    # one row: the bar chart and three slices, about 3.4 inches (90 dpi) each
    assert_drawn(read_png(path), min_width=4 * 280, min_height=200)


def test_sensitivity_plot_has_one_row_per_output_and_is_byte_identical(tmp_path):
    model = tmp_path / "two.json"
    save_json(tiny_net("load", "stress"), model)
    for name in ("a.png", "b.png"):
        assert main(["sensitivity", str(model), "--points", "30", "--plot", str(tmp_path / name)]) == 0
    pixels = read_png(tmp_path / "a.png")
    assert_drawn(pixels, min_width=3 * 280, min_height=2 * 220)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert b"Software" not in (tmp_path / "a.png").read_bytes()


def test_plots_take_hostile_names_and_cap_the_grid(tmp_path):
    """Mathtext would fail on '$\\frac' in a name; a wide network is drawn capped."""
    model = tmp_path / "hostile.json"
    save_json(tiny_net("cost $\\frac{$", "y\x1b[2J"), model)
    assert main(["sensitivity", str(model), "--plot", str(tmp_path / "s.png")]) == 0
    assert main(["check", str(model), "--plot", str(tmp_path / "c.png")]) == 0
    read_png(tmp_path / "s.png"), read_png(tmp_path / "c.png")
    wide = tmp_path / "wide.json"
    save_json(random_network(11, depth=2, transfers=("tansig",)), wide)
    assert main(["check", str(wide), "--plot", str(tmp_path / "w.png")]) == 0
    assert read_png(tmp_path / "w.png").shape[1] <= 6 * 3.4 * 90 + 10


def test_check_plot_is_written_by_the_command(tmp_path):
    path = tmp_path / "check.png"
    result = subprocess.run([sys.executable, "-m", "symnet", "check", str(EXAMPLE), "--plot", str(path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "jacobian: 5 points" in result.stdout and result.stdout.splitlines()[-1] == f"plot: {path}"
    assert path.stat().st_size > 20_000
    assert_drawn(read_png(path), min_width=3 * 280, min_height=200)


def test_without_matplotlib_plot_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)    # makes `import matplotlib...` raise ImportError
    for command in ("sensitivity", "check"):
        path = tmp_path / f"{command}.png"
        assert main([command, str(EXAMPLE), "--plot", str(path)]) == 2
        err = capsys.readouterr().err
        assert err == "symnet: error: drawing plots needs matplotlib: pip install symnet[plot]\n"
        assert not path.exists()
    assert main(["sensitivity", str(EXAMPLE), "--points", "3"]) == 0   # tables need no extra


def test_unwritable_plot_path_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "missing" / "out.png"
    assert main(["sensitivity", str(EXAMPLE), "--points", "3", "--plot", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symnet: error: ") and "out.png" in err and err.count("\n") == 1
