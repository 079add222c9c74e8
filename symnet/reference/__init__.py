"""Independent references the generated derivatives are checked against: finite
differences (finite_differences.py) and high-precision forward and reverse evaluation
(high_precision.py, high_precision_reverse.py, jets.py, fixed_point.py).
"""
