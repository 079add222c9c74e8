"""Hostile names: a model whose every name (model, inputs, layers, outputs) carries
code, comment terminators, template syntax, control characters, unicode or
language keywords generates, in every registered target and strategy, code that
compiles (or imports, or runs in Octave, or typesets), computes exactly what the
same model with plain names computes, and holds none of the injected text as code.
"""

import re
import zipfile

import numpy as np
import pytest

import symnet
from symnet import Input, Layer, MapMinMax, Network, Output
from symnet.reference.finite_differences import sample_points
from symnet.emit import get_target
from symnet.emit.common import safe_identifier

from helpers import closed_form
from runners import DOCUMENTS, build, variant_id, variants

#: every payload carries a marker PWNEDn, so that what survives sanitizing can be found
PAYLOADS = (
    'x"""; import os; os.system("echo PWNED1") #',
    "a\nPWNED2 = 1\n",
    "*/ int PWNED3; /*",
    "%{\nPWNED4\n%}",
    "# PWNED5 \\",
    "name\\\nPWNED6",
    "{{ PWNED7 }}{% if true %}{# c #}",
    "#include <PWNED8.h>",
    "\u00dcn\u00ef\u00e7\u00f8d\u00e9 \u2713 \u540d\u524d \u202e PWNED9",
    "\\input{/etc/passwd} $PWNED10$ \\def\\x{} & ^ _ ~",
    "??/ PWNED11 ??=",
    "it's \"PWNED12\" '",
    "\r\nPWNED13\r\n\x1b[31m\x00",
    "100% PWNED14 %",
    "end); PWNED15(); function",
)
#: names that are keywords (or modules) in some target language
KEYWORDS = ("return", "end", "function", "None", "class", "math", "numpy", "if", "static", "", "__init__")


def hostile_network(plain=False):
    """Two inputs, three layers, three outputs; with ``plain`` the same numbers under plain names."""
    names = iter(PAYLOADS + KEYWORDS)

    def name(plain_name):
        return plain_name if plain else next(names)
    rng = np.random.default_rng(5)
    inputs = [Input(name("u"), 2, [MapMinMax([0.0, 1.0], [1.0, 0.5], -1.0)]), Input(name("v"), 1)]
    layers = [Layer(3, "tansig", rng.normal(size=3), [(0, rng.normal(size=(3, 2))), (1, rng.normal(size=(3, 1)))],
                    name=name("hidden")),
              Layer(2, "logsig", rng.normal(size=2), layer_weights=[(0, rng.normal(size=(2, 3)))], name=name("gate")),
              Layer(2, "purelin", rng.normal(size=2), layer_weights=[(1, rng.normal(size=(2, 2)))], name=name("out"))]
    outputs = [Output(name("y"), 2, [MapMinMax([1.0, -2.0], [0.5, 2.0], -1.0)]), Output(name("g"), 1),
               Output(name("h"), 0)]
    model = "model" if plain else "\n".join(PAYLOADS + KEYWORDS)
    return Network(inputs, layers, outputs, name=model)


def comment_line(target, line):
    """Whether ``line`` is a comment in ``target``'s generated files (its Backend says how they start)."""
    return line.lstrip().startswith(get_target(target).comment_lines)


def texts(path):
    """(name, text) of a generated file, or of each text member of an archive (an FMU);
    an XML attribute name="..." holds a sanitized identifier, not payload."""
    if path.suffix != ".fmu":
        return [(path.name, path.read_text())]
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.namelist() if m.endswith((".c", ".h", ".xml"))]
        pieces = [(m, archive.read(m).decode("utf-8")) for m in members]
    for member, text in pieces:
        if member.endswith(".xml"):
            names = re.findall(r' name="([^"]*)"', text)
            assert all(re.fullmatch(r"(der\()?[A-Za-z][A-Za-z0-9_]*\)?|[A-Za-z0-9_.]+\.c", n) for n in names), names
    return [(m, re.sub(r' name="[^"]*"', " ", t) if m.endswith(".xml") else t) for m, t in pieces]


def assert_nothing_injected(target, paths, base):
    """``base``: the sanitized model name, an identifier the code may use anywhere."""
    for path in paths:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*\.[a-z]+", path.name), path.name
        for member, text in texts(path):
            assert_clean_text(target, path, member, text, base)


def assert_clean_text(target, path, member, text, base):
    if target in DOCUMENTS:   # LaTeX's own escapes (\_ for an underscore) are not payload
        text = re.sub(r"\\[_&%$#{}]", " ", text)
    for payload in PAYLOADS:   # no line of a payload that holds syntax survives verbatim
        for piece in re.split(r"[\r\n]+", payload):
            if re.search(r"[^A-Za-z0-9 =]", piece) and len(piece.strip()) >= 3:
                assert piece not in text, f"{path.name}:{member} holds {piece!r} of the payload {payload!r}"
    for number, line in enumerate(text.splitlines(), start=1):
        if "PWNED" in line.replace(base, "").replace(base.upper(), ""):
            if target in DOCUMENTS:
                assert not re.search(r"\\(input|def|include)|\$PWNED", line), f"{path.name}:{member}:{number}: {line}"
            else:
                assert comment_line(target, line), f"{path.name}:{member}:{number} is code: {line}"
        assert all(c.isprintable() or c in "\t" for c in line), f"{path.name}:{member}:{number}: {line!r}"


@pytest.mark.parametrize("variant", variants(computing=False), ids=variant_id)
def test_hostile_names_generate_safe_code_that_behaves_identically(variant, tmp_path):
    target, strategy = variant
    derivatives = ("value", "jacobian", "hessian")
    hostile = build(target, hostile_network(), tmp_path / "hostile", derivatives,
                    name=None, strategy=strategy)
    assert_nothing_injected(target, hostile.paths, safe_identifier(hostile_network().name))
    hostile.check()   # compiles, imports, runs its self-check, or typesets
    if hostile.evaluate is None:
        return
    plain = build(target, hostile_network(plain=True), tmp_path / "plain", derivatives, strategy=strategy)
    X = sample_points(hostile_network(plain=True), 4, seed=3)
    for what in derivatives:
        np.testing.assert_array_equal(hostile.evaluate(what, X), plain.evaluate(what, X), err_msg=what)
        np.testing.assert_allclose(plain.evaluate(what, X), closed_form(hostile_network(), what)(X),
                                   rtol=1e-12, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("name", PAYLOADS + KEYWORDS + ("../../escape", "/etc/passwd", "a" * 300, "con"))
def test_a_hostile_base_name_gives_a_safe_identifier_inside_the_output_folder(name, tmp_path):
    net = hostile_network(plain=True)
    out = tmp_path / "out"
    paths = symnet.generate(net, ["python"], out, derivatives=["value"], name=name)
    for path in paths:
        assert path.parent == out
        stem = path.stem
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", stem), stem
        assert stem.split("_check")[0].lower() not in {k.lower() for k in KEYWORDS if k} | {"con"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_hostile_names_from_a_json_file_through_the_command_line(tmp_path):
    """The same model saved as JSON (names survive the round trip) and generated by
    the command line for every target: the file names are safe and inspect prints
    the names escaped, one line each."""
    from symnet.importers.json_format import save_json

    from test_bad_input import run_cli
    path = tmp_path / "hostile.json"
    save_json(hostile_network(), path)
    assert symnet.load(path).inputs[0].name == PAYLOADS[0]
    code, out, err = run_cli("generate", path, "--target", "all", "--out", tmp_path / "out",
                             "--derivatives", "value,jacobian")
    assert code == 0, err
    for line in out.splitlines():
        assert re.fullmatch(r".*/out/[A-Za-z][A-Za-z0-9_]*\.[a-z]+", line), line
    code, out, err = run_cli("inspect", path)
    assert code == 0, err
    assert not any(line.startswith(("PWNED", "%}")) for line in out.splitlines())
    assert all(c.isprintable() for line in out.splitlines() for c in line)


def hostile_onnx(path):
    """A Gemm-Tanh-Gemm graph whose graph, tensor and node names are payloads."""
    from helpers import require_module
    require_module("onnx")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    p = PAYLOADS
    weights = {p[7]: rng.normal(size=(4, 3)), p[8]: rng.normal(size=4), p[9]: rng.normal(size=(2, 4)),
               p[10]: rng.normal(size=2)}
    nodes = [helper.make_node("Gemm", [p[0], p[7], p[8]], [p[1]], transB=1, name=p[2]),
             helper.make_node("Tanh", [p[1]], [p[3]], name=p[4]),
             helper.make_node("Gemm", [p[3], p[9], p[10]], [p[5]], transB=1, name=p[6])]
    graph = helper.make_graph(nodes, p[11], [helper.make_tensor_value_info(p[0], TensorProto.FLOAT, ["n", 3])],
                              [helper.make_tensor_value_info(p[5], TensorProto.FLOAT, ["n", 2])],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()])
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def generates_safe_working_code(target, strategy, net, tmp_path):
    """The value and Jacobian of an imported three-input network in ``target``: no payload
    reaches code, the generated code checks itself and its Jacobian is the closed form's."""
    built = build(target, net, tmp_path / "out", ("value", "jacobian"), name=None, strategy=strategy)
    assert_nothing_injected(target, built.paths, safe_identifier(net.name))
    built.check()
    if built.evaluate is not None:
        X = np.random.default_rng(1).normal(size=(3, 3))
        np.testing.assert_allclose(built.evaluate("jacobian", X), closed_form(net, "jacobian")(X), rtol=1e-12)


@pytest.mark.parametrize("variant", variants(computing=False), ids=variant_id)
def test_hostile_names_from_an_onnx_graph(variant, tmp_path):
    target, strategy = variant
    net = symnet.load(hostile_onnx(tmp_path / "graph.onnx"))
    assert net.inputs[0].name == PAYLOADS[0]   # the names did come through the importer
    generates_safe_working_code(target, strategy, net, tmp_path)


def hostile_keras(path):
    """A Keras 3 archive whose model, input and layer names are payloads (its weights found by
    the names Keras tracks them under, which are plain)."""
    from helpers import require_module
    require_module("h5py")
    from keras_files import keras_archive, small_keras3_model
    config, variables = small_keras3_model()
    layers = config["config"]["layers"]
    config["config"]["name"] = PAYLOADS[11]
    for entry, payload in zip(layers, PAYLOADS):
        entry["config"]["name"] = payload
    path.write_bytes(keras_archive(config, [(tracked, None, arrays) for tracked, _, arrays in variables]))
    return path


@pytest.mark.parametrize("variant", variants(computing=False), ids=variant_id)
def test_hostile_names_from_a_keras_archive(variant, tmp_path):
    target, strategy = variant
    net = symnet.load(hostile_keras(tmp_path / "model.keras"))
    assert net.inputs[0].name == PAYLOADS[0] and net.outputs[0].name == PAYLOADS[2]
    generates_safe_working_code(target, strategy, net, tmp_path)
