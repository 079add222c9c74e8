"""modelDescription.xml of an FMI 2.0 unit: the network's raw inputs and outputs as
scalar variables, and the dependency structure of a dense network (every output
depends on every input and state)."""

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..common import safe_identifier


@dataclass(frozen=True)
class Variable:
    """One FMI scalar variable: ``reference`` is its value reference, ``kind`` one of
    input, state, derivative, output."""

    name: str
    reference: int
    kind: str
    start: float = None
    state: int = None   # for a derivative: the 1-based index of its state's variable


ATTRIBUTES = {
    "input": {"causality": "input", "variability": "continuous"},
    "state": {"causality": "output", "variability": "continuous", "initial": "exact"},
    "derivative": {"causality": "local", "variability": "continuous", "initial": "calculated"},
    "output": {"causality": "output", "variability": "continuous", "initial": "calculated"},
}


def element_names(items, sizes):
    """Flat names of every element: ``name`` for a size-1 item, ``name_1``... otherwise,
    sanitized to identifiers (safe in XML and in any tool) and made unique."""
    names, seen = [], set()
    for item, size in zip(items, sizes):
        base = safe_identifier(item, fallback="v")
        for k in range(size):
            name = base if size == 1 else f"{base}_{k + 1}"
            while name in seen:
                name += "_"
            seen.add(name)
            names.append(name)
    return names


def variables(net, n_states, start_values):
    """The FMU's variables in value-reference order: inputs (states first), then outputs
    (state derivatives first)."""
    inputs = element_names([i.name for i in net.inputs], [i.size for i in net.inputs])
    outputs = element_names([o.name for o in net.outputs], [net.output_size(o) for o in net.outputs])
    result = [Variable(name, k, "state" if k < n_states else "input", start_values[k])
              for k, name in enumerate(inputs)]
    for i, name in enumerate(outputs):
        reference = net.n_inputs + i
        if i < n_states:
            result.append(Variable(f"der({inputs[i]})", reference, "derivative", state=i + 1))
        else:
            result.append(Variable(name, reference, "output"))
    return result


def model_description(name, guid, description, variables_, source_files, literal):
    """The text of modelDescription.xml (ElementTree escapes every attribute)."""
    root = ET.Element("fmiModelDescription", {
        "fmiVersion": "2.0", "modelName": name, "guid": guid, "description": description,
        "generationTool": "symnet", "variableNamingConvention": "flat", "numberOfEventIndicators": "0"})
    for kind, extra in (("ModelExchange", {"completedIntegratorStepNotNeeded": "true"}),
                        ("CoSimulation", {"canHandleVariableCommunicationStepSize": "true"})):
        interface = ET.SubElement(root, kind, {"modelIdentifier": name, "providesDirectionalDerivative": "true",
                                               "canNotUseMemoryManagementFunctions": "true", **extra})
        files = ET.SubElement(interface, "SourceFiles")
        for file_name in source_files:
            ET.SubElement(files, "File", {"name": file_name})
    model_variables = ET.SubElement(root, "ModelVariables")
    for variable in variables_:
        scalar = ET.SubElement(model_variables, "ScalarVariable", {
            "name": variable.name, "valueReference": str(variable.reference), **ATTRIBUTES[variable.kind]})
        real = {"start": literal(variable.start)} if variable.start is not None else {}
        if variable.state is not None:
            real["derivative"] = str(variable.state)
        ET.SubElement(scalar, "Real", real)
    structure(ET.SubElement(root, "ModelStructure"), variables_)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def structure(parent, variables_):
    """Outputs, Derivatives and InitialUnknowns with their dependencies (1-based indices)."""
    index = {variable.reference: position for position, variable in enumerate(variables_, start=1)}
    knowns = [index[v.reference] for v in variables_ if v.kind in ("input", "state")]
    computed = {"dependencies": " ".join(map(str, knowns)), "dependenciesKind": " ".join(["dependent"] * len(knowns))}
    outputs = ET.SubElement(parent, "Outputs")
    derivatives = [v for v in variables_ if v.kind == "derivative"]
    for variable in variables_:
        if variable.kind == "state":   # a state read as an output: itself, with a fixed factor 1
            ET.SubElement(outputs, "Unknown", {"index": str(index[variable.reference]),
                                               "dependencies": str(index[variable.reference]),
                                               "dependenciesKind": "fixed"})
        elif variable.kind == "output":
            ET.SubElement(outputs, "Unknown", {"index": str(index[variable.reference]), **computed})
    if derivatives:
        element = ET.SubElement(parent, "Derivatives")
        for variable in derivatives:
            ET.SubElement(element, "Unknown", {"index": str(index[variable.reference]), **computed})
    initial = ET.SubElement(parent, "InitialUnknowns")
    for variable in variables_:
        if variable.kind in ("derivative", "output"):
            ET.SubElement(initial, "Unknown", {"index": str(index[variable.reference]), **computed})
