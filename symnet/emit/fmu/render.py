"""The ``fmu`` backend's renderer: one FMI 2.0 archive NAME.fmu (Model Exchange and
Co-Simulation) around the C backend's value and Jacobian functions."""

import dataclasses
import hashlib
import uuid
from importlib import resources

from ...errors import UnsupportedError
from ...unrolled.derive import derivative_program
from ...unrolled.simplify import simplify
from ...unrolled.symbolic import forward_program
from ..c.literals import c_literal
from ..c.unrolled import render_c
from ..common import render
from ..layered_common import layered_programs
from .archive import build_binary, zip_archive
from .model_description import model_description, variables

#: the C functions the wrapper calls
NEEDED = ("value", "jacobian")

#: vendored FMI 2.0.5 headers (BSD-2-Clause, licence in the same folder)
HEADERS = ("fmi2Functions.h", "fmi2FunctionTypes.h", "fmi2TypesPlatform.h")

#: classic RK4 steps per Co-Simulation communication step of a neural ODE
RK4_SUBSTEPS = 10


def unrolled_program(net, what):
    """The simplified unrolled program of ``what``, as the driver builds it (``symnet.derive``)."""
    return simplify(derivative_program(forward_program(net), what))


def render_fmu(request):
    """{NAME.fmu: bytes}: modelDescription.xml, sources/ and, where gcc is found,
    binaries/linux64/NAME.so."""
    n_states = check_states(request)
    name = request.name
    c_files = render_c(c_request(request))
    start_values = [0.0] * request.network.n_inputs
    guid = model_guid(c_files, n_states)
    wrapper = render("fmu/fmi2.c.j2", name=name, macro=name.upper(), header=request.header, n_states=n_states,
                     substeps=RK4_SUBSTEPS, guid=guid, start_values=[c_literal(v) for v in start_values])
    sources = {f"{name}.h": c_files[f"{name}.h"], f"{name}.c": c_files[f"{name}.c"], f"{name}_fmi2.c": wrapper,
               **{header: template_text(header) for header in HEADERS}}
    description = model_description(name, guid, f"{name}: a trained network, derivatives by symnet",
                                    variables(request.network, n_states, start_values),
                                    [f"{name}.c", f"{name}_fmi2.c"], c_literal)
    members = {"modelDescription.xml": description,
               "documentation/LICENSE-fmi-headers.txt": template_text("LICENSE-fmi-headers.txt"),
               **{f"sources/{file_name}": text for file_name, text in sources.items()},
               **build_binary(name, sources)}
    return {f"{name}.fmu": zip_archive(members)}


def check_states(request):
    """The number of states of a neural ODE (0: a static block), checked against the network."""
    net, n_states = request.network, request.ode_states
    if n_states < 0 or n_states > min(net.n_inputs, net.n_outputs):
        raise UnsupportedError(
            f"--ode {n_states}: a neural ODE needs as many states as its first outputs (the derivatives)"
            f" and its first inputs (the states); this network has {net.n_inputs} inputs and"
            f" {net.n_outputs} outputs")
    return n_states


def c_request(request):
    """The request for the C backend: doubles, and the value and Jacobian the wrapper calls
    besides whatever else was asked for (their C functions are in sources/ too)."""
    wanted = tuple(dict.fromkeys(NEEDED + tuple(request.derivatives)))
    order = ("value", "gradient", "jacobian", "hessian")
    wanted = tuple(what for what in order if what in wanted)
    if request.strategy == "layered":
        have = dict(request.layered)
        layered = tuple((what, have[what]) if what in have else layered_programs(request.network, (what,))[0]
                        for what in wanted)
        return dataclasses.replace(request, precision="double", derivatives=wanted, layered=layered)
    have = dict(request.programs)
    programs = tuple((what, have[what] if have.get(what) is not None
                      else unrolled_program(request.network, what)) for what in wanted)
    return dataclasses.replace(request, precision="double", derivatives=wanted, programs=programs)


def model_guid(c_files, n_states):
    """A GUID fixed by the generated code: the same model gives the same GUID."""
    digest = hashlib.sha256(f"{n_states}\n".encode() + "".join(sorted(c_files.values())).encode()).hexdigest()
    return "{" + str(uuid.UUID(digest[:32])) + "}"


def template_text(file_name):
    return resources.files("symnet").joinpath("templates", "fmu", file_name).read_text(encoding="utf-8")
