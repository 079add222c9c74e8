"""Sensitivities: the numbers against a Jacobian derived by hand, the table, and the
points file reader with each of its errors."""

import subprocess
import sys

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output
from symnet.cli import main
from symnet.points_file import DataFileError, read_points
from symnet.sensitivities import input_names, output_names, table_lines
from symnet.slices import axis_line, derivative_slice, partial_dependence

from conftest import REPO

EXAMPLE = REPO / "examples" / "pxyz.json"

# The README's one-hidden-layer formula with known weights: 2 inputs, 3 tanh units, 2 outputs,
# mapminmax on both sides: y = (b2 + LW tanh(b1 + IW xn) - ymin) / gain_y + yoffset,
# xn = gain_x (x - xoffset) + ymin.
X_OFFSET, X_GAIN = np.array([10.0, -2.0]), np.array([0.2, 0.5])       # x1 in [10, 20], x2 in [-2, 2]
X_RANGE = np.array([[10.0, 20.0], [-2.0, 2.0]])
IW = np.array([[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8]])
B1 = np.array([0.1, -0.2, 0.3])
LW = np.array([[1.0, -0.5, 2.0], [0.3, 0.9, -1.2]])
B2 = np.array([0.05, -0.1])
Y_OFFSET, Y_GAIN = np.array([100.0, -3.0]), np.array([0.01, 2.0])


def tiny_net(input_name="x", output_name="y"):
    return Network(
        [Input(input_name, 2, [MapMinMax(X_OFFSET, X_GAIN, -1.0)], value_range=X_RANGE)],
        [Layer(3, "tansig", B1, [(0, IW)]), Layer(2, "purelin", B2, [], [(0, LW)])],
        [Output(output_name, 1, [MapMinMax(Y_OFFSET, Y_GAIN, -1.0)])], name="tiny")


def hand_hidden(X):
    return np.tanh(B1 + ((X - X_OFFSET) * X_GAIN - 1.0) @ IW.T)


def hand_values(X):
    return (B2 + hand_hidden(X) @ LW.T + 1.0) / Y_GAIN + Y_OFFSET


def hand_jacobian(X):
    """diag(1/gain_y) LW diag(1 - h^2) IW diag(gain_x) at each point."""
    slope = 1.0 - hand_hidden(X) ** 2
    return np.stack([np.diag(1 / Y_GAIN) @ LW @ np.diag(s) @ IW @ np.diag(X_GAIN) for s in slope])


POINTS = np.array([[11.0, -1.5], [14.0, 0.2], [19.5, 1.9], [10.0, 1.0]])   # dy1/dx2 changes sign


def test_jacobian_and_summaries_match_the_hand_derivation():
    result = symnet.sensitivity(tiny_net(), POINTS)
    J = hand_jacobian(POINTS)
    widths = np.array([10.0, 4.0])
    np.testing.assert_allclose(result.jacobian, J, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(result.mean_abs, np.abs(J).mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(result.mean, J.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(result.range_width, widths)
    np.testing.assert_allclose(result.scaled_mean_abs, np.abs(J).mean(axis=0) * widths, rtol=1e-13)
    np.testing.assert_allclose(result.scaled_mean, J.mean(axis=0) * widths, rtol=1e-13)
    # signs differ between points for some entries, so |mean| < mean |.| there
    assert np.any(np.abs(result.mean) < result.mean_abs - 1e-12)


def test_default_points_are_a_seeded_sample_of_the_training_range():
    result = symnet.sensitivity(tiny_net(), points=50, seed=3)
    assert result.points.shape == (50, 2)
    assert np.all((result.points >= X_RANGE[:, 0]) & (result.points <= X_RANGE[:, 1]))
    np.testing.assert_allclose(result.jacobian, hand_jacobian(result.points), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(symnet.sensitivity(tiny_net(), points=50, seed=3).points, result.points)
    assert not np.array_equal(symnet.sensitivity(tiny_net(), points=50, seed=4).points, result.points)


def test_element_names_index_inputs_with_several_elements():
    net = symnet.load(EXAMPLE)
    assert input_names(net) == ("XYZ[0]", "XYZ[1]", "XYZ[2]")
    assert output_names(net) == ("P",)
    assert symnet.sensitivity(tiny_net(), POINTS).output_names == ("y[0]", "y[1]")
    unnamed = Network([Input("", 1), Input("", 2)], [Layer(2, "tansig", [0.0, 0.0], [(0, [[1.0], [2.0]])])],
                      [Output("", 0)])
    assert input_names(unnamed) == ("x1", "x2[0]", "x2[1]")
    assert output_names(unnamed) == ("y1[0]", "y1[1]")


def test_partial_dependence_follows_each_input_through_the_centre():
    centre = np.array([15.0, 0.5])
    for k in range(2):
        grid, values = partial_dependence(tiny_net(), centre, k, count=11)
        np.testing.assert_allclose(grid, np.linspace(*X_RANGE[k], 11))
        line = axis_line(tiny_net(), centre, k, 11)
        np.testing.assert_array_equal(np.delete(line, k, axis=1), np.delete(np.tile(centre, (11, 1)), k, axis=1))
        np.testing.assert_allclose(values, hand_values(line), rtol=1e-13)


def test_derivative_slice_agrees_with_hand_jacobian_and_finite_differences():
    net = tiny_net()
    piece = derivative_slice(net, symnet.derive(net, "jacobian"), np.array([12.0, -0.5]), 1, fine=31, coarse=7)
    line = axis_line(net, np.array([12.0, -0.5]), 1, 31)
    np.testing.assert_allclose(piece.exact, hand_jacobian(line)[:, :, 1], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(piece.finite_difference, piece.exact_at_coarse, rtol=1e-7, atol=1e-12)


def test_table_has_one_aligned_row_per_output_and_input_with_the_summaries():
    result = symnet.sensitivity(tiny_net("load", "stress"), POINTS)
    lines = table_lines(result)
    assert lines[0].split("  ")[0].strip() == "output"
    assert "mean |dy/dx|*range" in lines[0] and "mean dy/dx*range" in lines[0]
    assert len(lines) == 1 + 2 * 2
    assert len({len(line) for line in lines}) == 1          # right-aligned last column
    J = hand_jacobian(POINTS)
    for line, (i, k) in zip(lines[1:], [(0, 0), (0, 1), (1, 0), (1, 1)]):
        cells = line.split()
        assert cells[:2] == [f"stress[{i}]", f"load[{k}]"]
        expected = (np.abs(J[:, i, k]).mean(), J[:, i, k].mean(), (10.0, 4.0)[k],
                    np.abs(J[:, i, k]).mean() * (10.0, 4.0)[k], J[:, i, k].mean() * (10.0, 4.0)[k])
        np.testing.assert_allclose([float(c) for c in cells[2:]], expected, rtol=1e-5)


def test_cli_prints_the_table_with_names_escaped(tmp_path, capsys):
    path = tmp_path / "tiny.json"
    from symnet.importers.json_format import save_json
    save_json(tiny_net("in\x1b[31m", "out"), path)
    assert main(["sensitivity", str(path), "--points", "7"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "in\\x1b[31m[0]" in out and "out[1]" in out
    assert "Jacobian at 7 points" in out


def test_cli_reads_points_from_a_csv_file(tmp_path, capsys):
    csv = tmp_path / "points.csv"
    csv.write_text("X,Y,Z\n" + "\n".join(",".join(map(str, row)) for row in
                                        [[300.0, 0.02, 2.0], [260.0, 0.04, 4.5]]) + "\n")
    assert main(["sensitivity", str(EXAMPLE), "--data", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "Jacobian at 2 points" in out and str(csv) in out
    net = symnet.load(EXAMPLE)
    J = symnet.derive(net, "jacobian")(np.array([[300.0, 0.02, 2.0], [260.0, 0.04, 4.5]]))
    row = next(line for line in out.splitlines() if line.startswith("P ") and "XYZ[1]" in line)
    assert float(row.split()[3]) == pytest.approx(J[:, 0, 1].mean(), rel=1e-5)


# --- the points file -------------------------------------------------------------------

def test_csv_with_and_without_header_and_npy_read_the_same(tmp_path):
    values = np.array([[1.5, -2.0, 3e-3], [4.0, 5.25, 6.0]])
    plain, named, binary = tmp_path / "a.csv", tmp_path / "b.CSV", tmp_path / "c.npy"
    plain.write_text("1.5,-2,3e-3\n\n4, 5.25 ,6\n")
    named.write_text("\ufeffpressure,volume,temperature\r\n1.5,-2,0.003\r\n4,5.25,6\r\n")
    np.save(binary, values.astype(np.float32).astype(float))
    for path in (plain, named):
        np.testing.assert_array_equal(read_points(path, 3), values)
    np.testing.assert_array_equal(read_points(binary, 3), values.astype(np.float32).astype(float))
    np.save(tmp_path / "int.npy", np.array([[1, 2, 3]]))
    assert read_points(tmp_path / "int.npy", 3).dtype == float


def _write_npy(path, array):
    np.save(path, array)


@pytest.mark.parametrize("name, content, message", [
    ("columns.csv", "1,2,3\n4,5\n", "data row 2 has 2 columns; the model has 3 raw inputs"),
    ("header.csv", "a,b\n1,2\n", "the first row (not numbers, so read as a header of names) has 2 columns"),
    ("spaces.csv", "1 2 3\n", "header of names) has 1 column; the model has 3 raw inputs"),
    ("word.csv", "1,2,3\n4,five,6\n", "data row 2, column 2: 'five' is not a number"),
    ("nan.csv", "1,2,3\n4,nan,6\n", "data row 2, column 2 is nan (every value must be finite)"),
    ("inf.csv", "1,2,inf\n", "data row 1, column 3 is inf"),
    ("empty.csv", "", "has no data rows"),
    ("onlyheader.csv", "a,b,c\n", "has no data rows"),
    ("binary.csv", b"\xff\xfe\x00\x01", "not a readable CSV file"),
    ("points.txt", "1,2,3\n", "unknown data file type '.txt' (expected .csv or .npy)"),
    ("shape.npy", np.zeros((4, 2)), "has shape (4, 2), expected (n_points, 3)"),
    ("flat.npy", np.zeros(3), "has shape (3,), expected (n_points, 3)"),
    ("none.npy", np.zeros((0, 3)), "has no data rows"),
    ("text.npy", np.array([["a", "b", "c"]]), "holds <U1 values, expected numbers"),
    ("nan.npy", np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0]]), "row 2, column 2 is nan"),
    ("broken.npy", b"\x93NUMPY garbage", "not a readable .npy file"),
])
def test_each_bad_points_file_is_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(DataFileError) as caught:
        read_points(path, 3)
    text = caught.value.one_line()
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_object_npy_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([[1, None, 3]], dtype=object), allow_pickle=True)
    with pytest.raises(DataFileError, match="not a readable .npy file"):
        read_points(path, 3)


def test_cli_bad_or_missing_data_file_exits_2_with_one_line(tmp_path, capsys):
    for path, message in ((tmp_path / "absent.csv", "no such file"), (tmp_path, "unknown data file type")):
        assert main(["sensitivity", str(EXAMPLE), "--data", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"symnet: error: {path}: ") and message in err and err.count("\n") == 1
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert main(["sensitivity", str(EXAMPLE), "--data", str(folder)]) == 2
    assert "not a file" in capsys.readouterr().err


def test_cli_refuses_data_with_points_and_non_positive_points(capsys):
    for argv in (["--data", "x.csv", "--points", "5"], ["--points", "0"], ["--points", "-3"]):
        with pytest.raises(SystemExit) as caught:
            main(["sensitivity", str(EXAMPLE), *argv])
        assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_bad_model_is_one_line_exit_2_from_a_separate_process(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format_version": 1, "inputs": [], "layers": [], "outputs": []}')
    result = subprocess.run([sys.executable, "-m", "symnet", "sensitivity", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"symnet: error: {path}: ") and result.stderr.count("\n") == 1
