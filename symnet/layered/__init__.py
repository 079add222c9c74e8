"""The layered stage: a network folded into layers of dense steps (network.py), scheduled
into derivative programs (schedule.py, steps.py), with fused elementwise kernels
(fusion.py), buffer lifetimes (lifetimes.py) and memory layouts (memory.py).
"""
