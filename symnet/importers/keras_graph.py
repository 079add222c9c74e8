"""The walk over a Keras model configuration: Sequential layer lists and Functional
graphs (several named inputs and outputs, shared branches, Keras 2 and Keras 3 node
formats) become calls of the layer handlers in ``keras_layers``.

Every layer is checked before it is read: a class symnet does not know, or one that
is registered as a custom object, is refused with the layer and its class named; the
``module`` a config names is never imported.
"""

from ..errors import ModelFormatError, UnsupportedError
from .dataflow import NetworkBuilder
from .keras_layers import HANDLERS, KerasLayer, describe_layer, refusal, single

_MODELS = ("Sequential", "Functional", "Model")


def build_network(model_file, name):
    """A Network from a ``keras_model.KerasFile``."""
    config = model_file.config
    if not isinstance(config, dict) or config.get("class_name") not in _MODELS:
        found = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise UnsupportedError(f"the model is a {found!r}, not a Sequential or Functional model")
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise ModelFormatError("the model config has no list of layers")
    model_name = inner.get("name") if isinstance(inner, dict) else None
    walk = _Walk(model_file, NetworkBuilder(model_name if isinstance(model_name, str) else name))
    if config["class_name"] == "Sequential":
        return walk.sequential(layers)
    return walk.functional(layers, inner)


class _Walk:
    def __init__(self, model_file, builder):
        self.model_file = model_file
        self.builder = builder

    def layer(self, config, index):
        """The checked KerasLayer for entry ``index`` of the layer list."""
        class_name = config.get("class_name")
        settings = config.get("config")
        if not isinstance(class_name, str) or not isinstance(settings, dict):
            raise ModelFormatError(f"layer {index + 1} of the config has no class_name or config")
        name = settings.get("name", config.get("name", f"layer_{index + 1}"))
        where = describe_layer(name, class_name)
        custom = _custom_object(config)
        if custom:
            raise UnsupportedError(f"{where} is a custom object ({custom}); symnet reads built-in Keras layers"
                                   " only and never imports or runs code named in a model file")
        reason = refusal(class_name)
        if reason:
            raise UnsupportedError(f"{where}: {reason} is not supported; symnet imports feed-forward MLPs"
                                   " (Dense, activations, normalization, Concatenate/Add)")
        if class_name not in HANDLERS and class_name != "InputLayer":
            raise UnsupportedError(f"{where}: this layer class is not supported; symnet imports feed-forward"
                                   " MLPs (Dense, activations, normalization, Concatenate/Add)")
        weights = self.model_file.weights(config, index) if class_name != "InputLayer" else {}
        return KerasLayer(str(name), class_name, settings, weights, self.model_file.keras_major)

    def apply(self, layer, inputs):
        return HANDLERS[layer.class_name](layer, inputs, self.builder)

    def add_input(self, layer, shape):
        size = _feature_count(shape, layer.where)
        return (self.builder.add_input(layer.name, size),)

    def output(self, tensor, name, where):
        self.builder.output(single(self.builder, tensor, where), name, where)

    # --- Sequential -----------------------------------------------------------------

    def sequential(self, configs):
        layers = [self.layer(config, index) for index, config in enumerate(configs)]
        if not any(layer.class_name != "InputLayer" for layer in layers):
            raise ModelFormatError("the model has no layers")
        first = layers[0]
        shape = first.config.get("batch_shape", first.config.get("batch_input_shape"))
        input_name = first.name if first.class_name == "InputLayer" else "input"
        size = _feature_count(shape, first.where) if shape is not None else None
        tensor = (self.builder.add_input(input_name, size),)
        for layer in layers:
            if layer.class_name != "InputLayer":
                tensor = self.apply(layer, [tensor])
        last = layers[-1]
        self.output(tensor, last.name, f"the output of {last.where}")
        return self.builder.network()

    # --- Functional -----------------------------------------------------------------

    def functional(self, configs, model):
        layers = [self.layer(config, index) for index, config in enumerate(configs)]
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            raise ModelFormatError("two layers have the same name")
        tensors = {}
        inputs = _references(model.get("input_layers"), "input_layers")
        for layer_name, _, _ in inputs:
            if layer_name not in names:
                raise ModelFormatError(f"the model input {layer_name!r} is not a layer of the model")
            layer = layers[names.index(layer_name)]
            if layer.class_name != "InputLayer":
                raise UnsupportedError(f"the model input {layer.where} is not an InputLayer")
            shape = layer.config.get("batch_shape", layer.config.get("batch_input_shape"))
            tensors[(layer_name, 0, 0)] = self.add_input(layer, shape)
        calls = [(layer, number, node) for layer, config in zip(layers, configs)
                 for number, node in enumerate(_inbound_nodes(config, layer))]
        self._run(calls, tensors)
        used = set()
        for number, (layer_name, node, index) in enumerate(_references(model.get("output_layers"), "output_layers")):
            tensor = tensors.get((layer_name, node, index))
            if tensor is None:
                raise ModelFormatError(f"the model output {layer_name!r} is not computed by any layer")
            name = layer_name if layer_name not in used else f"{layer_name}_{number + 1}"
            used.add(name)
            self.output(tensor, name, f"the model output {layer_name!r}")
        return self.builder.network()

    def _run(self, calls, tensors):
        """Apply every layer call once its inputs exist.  The config lists layers in an order that
        is topological for most models, so one pass in that order usually does all; a call whose
        inputs come later (a layer shared between branches) waits for the next pass."""
        pending = list(calls)
        while pending:
            waiting = []
            for layer, number, node in pending:
                if not all(ref in tensors for ref in _flat(node)):
                    waiting.append((layer, number, node))
                    continue
                if layer.class_name == "InputLayer":
                    raise ModelFormatError(f"{layer.where} is called on another tensor")
                args = [tensors[ref] for ref in node] if isinstance(node, list) else [tensors[node]]
                tensors[(layer.name, number, 0)] = self.apply(layer, args)
            if len(waiting) == len(pending):
                layer, _, node = waiting[0]
                missing = next(ref for ref in _flat(node) if ref not in tensors)
                raise ModelFormatError(f"{layer.where} reads {missing[0]!r}, which no layer computes"
                                       " (or the graph has a cycle)")
            pending = waiting


def _feature_count(shape, where):
    if not isinstance(shape, list) or len(shape) != 2 or not isinstance(shape[1], int) \
            or isinstance(shape[1], bool) or shape[1] <= 0:
        raise UnsupportedError(f"{where}: input shape {shape!r} is not (batch, features); symnet imports"
                               " networks of feature vectors")
    return shape[1]


def _custom_object(config):
    """A description of why the layer is a custom object, or None for a built-in Keras layer."""
    registered = config.get("registered_name")
    module = config.get("module")
    if registered is not None and registered != config.get("class_name"):
        return f"registered as {registered!r}"
    if module is not None and not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
        return f"from module {module!r}"
    return None


def _references(value, what):
    """input_layers / output_layers: [name, node, tensor] or a list (or dict) of them."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ModelFormatError(f"the model config has no {what}")
    return [_reference(item, what) for item in value]


def _reference(item, what):
    if not (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in item[1:3])):
        raise ModelFormatError(f"{what}: {str(item)[:80]!r} is not a [layer, node, tensor] reference")
    if item[2] != 0:
        raise UnsupportedError(f"{what}: output {item[2]} of layer {item[0]!r}: layers with several outputs"
                               " are not supported")
    return (item[0], item[1], item[2])


def _inbound_nodes(config, layer):
    """Each call of the layer: one reference, or a list of references for a merge layer."""
    nodes = config.get("inbound_nodes", [])
    if not isinstance(nodes, list):
        raise ModelFormatError(f"{layer.where}: inbound_nodes is not a list")
    return [_node_inputs(node, layer) for node in nodes]


def _node_inputs(node, layer):
    if isinstance(node, dict):   # Keras 3: {"args": [tensor or [tensors]], "kwargs": {...}}
        args = node.get("args")
        if not isinstance(args, list) or not args:
            raise ModelFormatError(f"{layer.where}: an inbound node has no arguments")
        if len(args) > 1 or _holds_tensor(node.get("kwargs")):
            raise UnsupportedError(f"{layer.where}: calls with more than one tensor argument are not supported")
        first = args[0]
        if isinstance(first, list):
            return [_keras3_tensor(item, layer) for item in first]
        return _keras3_tensor(first, layer)
    if isinstance(node, list) and node:   # Keras 2: [[layer, node, tensor, kwargs], ...]
        references = [_reference(item, f"{layer.where}: inbound node") for item in node]
        return references if len(references) > 1 else references[0]
    raise ModelFormatError(f"{layer.where}: an inbound node is neither a Keras 2 list nor a Keras 3 dict")


def _keras3_tensor(item, layer):
    history = item.get("config", {}).get("keras_history") if isinstance(item, dict) else None
    if not isinstance(item, dict) or item.get("class_name") != "__keras_tensor__" or history is None:
        raise UnsupportedError(f"{layer.where}: an argument that is not a tensor of the model is not supported")
    return _reference(history, f"{layer.where}: inbound node")


def _holds_tensor(value):
    if isinstance(value, dict):
        return value.get("class_name") == "__keras_tensor__" or any(_holds_tensor(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_tensor(v) for v in value)
    return False


def _flat(node):
    return node if isinstance(node, list) else [node]
