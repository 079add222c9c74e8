"""The unrolled stage: one scalar expression per entry, built symbolically (symbolic.py),
differentiated (derive.py) and simplified (simplify.py) as straight-line programs
(program.py); size.py estimates the result before anything is built.
"""
