"""The intermediate representation every importer produces and every later stage reads:
the network (network.py), the registry of transfer functions (transfer.py), the text form
of their expressions (expression_text.py), output maps (output_map.py) and the direct
NumPy evaluation of a network (evaluation.py).
"""

from .delays import DelayLayout, InputTaps, LayerTaps
from .network import (MAX_SIZE, STEP_TYPES, Affine, Input, Layer, MapMinMax, MapStd, Network, Output,
                      RemoveConstantRows)

__all__ = ["DelayLayout", "InputTaps", "LayerTaps",
           "MAX_SIZE", "STEP_TYPES", "Affine", "Input", "Layer", "MapMinMax", "MapStd", "Network", "Output",
           "RemoveConstantRows"]
