"""Tracing a ``torch.nn.Module`` for the PyTorch importer.

Three things come out of a forward before any node is read: the ``torch.fx``
graph, with the source line of the user's code that made each node; the
number of features of each tensor argument; and the concrete value of every
node at a small probe batch.  The probe values give the shapes that slicing,
``split`` and ``cat`` act on, the numbers ``x.size(0)`` stands for, and the
constants a forward computes from its buffers (``2 / (self.ub - self.lb)``),
all in double precision.
"""

import contextlib
import copy
import inspect
import itertools
import re
import weakref
from pathlib import Path

from ..errors import UnsupportedError

#: samples in the probe batch (more than one, so that a reshape that mixes samples shows)
PROBE_BATCH = 3
#: feature counts tried for a forward of one tensor argument, and for each of several
SEARCHED_SIZE, SEARCHED_SIZE_EACH, MAX_SEARCHED_ARGUMENTS = 512, 8, 4
#: conversions that change only the dtype or the device: the probe runs them as no-ops,
#: so that every value stays in double precision
CONVERSIONS = ("to", "float", "double", "type", "contiguous", "cpu", "cuda", "clone", "requires_grad_")

_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def trace(torch, module):
    """The GraphModule of ``module``'s forward, each node with its stack trace."""
    tracer = torch.fx.Tracer()
    tracer.record_stack_traces = True
    with _tensor_guards_pass(torch):
        graph = tracer.trace(module)
    return torch.fx.GraphModule(tracer.root, graph, type(module).__name__)


@contextlib.contextmanager
def _tensor_guards_pass(torch):
    """While fx traces, ``torch.is_tensor`` is true of a traced value, and ``torch.from_numpy``,
    ``torch.as_tensor`` and ``torch.tensor`` hand it back unchanged: a forward that converts
    NumPy input (``if not torch.is_tensor(x): x = torch.from_numpy(x)``, or the same with
    ``isinstance``) traces as its tensor path.  Restored on the way out, error or not."""
    proxy = torch.fx.Proxy
    saved = {name: getattr(torch, name) for name in ("is_tensor", "from_numpy", "as_tensor", "tensor")}

    def passing(original):
        def convert(data, *args, **kwargs):
            return data if isinstance(data, proxy) else original(data, *args, **kwargs)
        return convert
    torch.is_tensor = lambda obj: isinstance(obj, proxy) or saved["is_tensor"](obj)
    for name in ("from_numpy", "as_tensor", "tensor"):
        setattr(torch, name, passing(saved[name]))
    try:
        yield
    finally:
        for name, original in saved.items():
            setattr(torch, name, original)


def source_line(node, module):
    """``file.py:line`` of the user's code that made ``node`` (its forward's ``def`` line
    for an argument), or None where torch kept no trace."""
    frames = [f for f in _FRAME.findall(node.meta.get("stack_trace") or "") if _users(f[0])]
    if frames:
        file, line, _ = frames[-1]
        return f"{Path(file).name}:{line}"
    try:
        forward = type(module).forward
        file = inspect.getsourcefile(forward)
        return f"{Path(file).name}:{inspect.getsourcelines(forward)[1]}" if _users(file) else None
    except (OSError, TypeError):
        return None


def _users(file):
    """True for a file of the user's code, not of torch (nn.Sequential's forward is torch's)."""
    return "/torch/" not in str(file).replace("\\", "/")


def probe(torch, graph_module, sizes):
    """node -> its value when the forward runs on a batch of PROBE_BATCH samples of ``sizes``
    features each, in double precision; None if the forward fails on that batch."""
    copied = _double_copy(graph_module)
    runner = _probe_class(torch)(copied, garbage_collect_values=False)
    dtype = next((p.dtype for p in copied.parameters() if p.is_floating_point()), torch.float64)
    inputs = [torch.full((PROBE_BATCH, size), 0.25, dtype=dtype) for size in sizes]
    try:
        with torch.no_grad():
            runner.run(*inputs)
    except Exception:   # the user's forward rejects these sizes, whatever it raises
        return None
    by_name = {node.name: value for node, value in runner.env.items()}   # the copy has its own nodes
    return {node: by_name[node.name] for node in graph_module.graph.nodes if node.name in by_name}


def input_sizes(torch, graph_module, given, where):
    """The features of each tensor argument: ``given`` (one number for all, one each, or a dict by name),
    else the smallest sizes the forward accepts, which must be unique; None if it accepts none tried."""
    names = [str(node.target).lstrip("*") for node in graph_module.graph.nodes if node.op == "placeholder"]
    count = len(names)
    if isinstance(given, dict):   # by argument name (the command line's --input-size NAME=N)
        unknown = sorted(set(given) - set(names))
        if unknown or len(given) != count:
            raise UnsupportedError(f"{where}: input sizes are given for {', '.join(map(repr, sorted(given)))},"
                                   f" but its arguments are {', '.join(map(repr, names))}")
        given = [given[name] for name in names]
    if given is not None:
        sizes = (int(given),) * count if isinstance(given, int) else tuple(int(s) for s in given)
        if len(sizes) != count:
            raise UnsupportedError(f"{where}: input_size gives {len(sizes)} sizes for {count} arguments")
        return sizes
    if count == 1:
        candidates = [(size,) for size in range(1, SEARCHED_SIZE + 1)]
    elif count <= MAX_SEARCHED_ARGUMENTS:
        candidates = sorted(itertools.product(range(1, SEARCHED_SIZE_EACH + 1), repeat=count), key=sum)
    else:
        candidates = []
    found = []
    for sizes in candidates:
        if found and sum(sizes) > sum(found[0]):
            break
        values = probe(torch, graph_module, sizes)
        if values is not None and not _broadcasts_data(torch, graph_module, values):
            found.append(sizes)
    if len(found) <= 1:
        return found[0] if found else None
    help_text = (f"pass input_size= (one number per argument; on the command line"
                 f" {' '.join(f'--input-size {name}=N' for name in names)})")
    raise UnsupportedError(f"{where}: the forward accepts several input sizes"
                           f" ({', '.join(map(str, found))}): {help_text}")


def _broadcasts_data(torch, graph_module, values):
    """True when an element-wise operation widens a tensor that depends on the arguments
    (x of one feature minus a mean of three): such sizes run, but are not the forward's."""
    data = set()
    for node in graph_module.graph.nodes:
        if node.op == "placeholder" or any(source in data for source in node.all_input_nodes):
            data.add(node)
        if node.op not in ("call_function", "call_method") or not _is_elementwise(node.target):
            continue
        result = values.get(node)
        for source in node.all_input_nodes:
            value = values.get(source)
            if source in data and isinstance(value, torch.Tensor) and isinstance(result, torch.Tensor) \
                    and value.numel() < result.numel():
                return True
    return False


def _is_elementwise(target):
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    return name.strip("_").removeprefix("i") in ("add", "sub", "mul", "truediv", "div", "subtract", "multiply")


def _double_copy(graph_module):
    """A float64 copy of ``graph_module``, made once however many sizes are tried."""
    copied = _DOUBLE_COPIES.get(graph_module)
    if copied is None:
        try:
            copied = copy.deepcopy(graph_module).double()
        except Exception:   # a module that cannot be copied runs as it is, in its own dtype
            copied = graph_module
        _DOUBLE_COPIES[graph_module] = copied
    return copied


_DOUBLE_COPIES = weakref.WeakKeyDictionary()


def _probe_class(torch):
    class Probe(torch.fx.Interpreter):
        """Runs the graph keeping every node's value; dtype and device conversions are no-ops."""

        def call_method(self, target, args, kwargs):
            if target in CONVERSIONS:
                return args[0]
            return super().call_method(target, args, kwargs)
    return Probe
