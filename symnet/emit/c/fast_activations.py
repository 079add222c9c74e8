"""The c backend's fast activations (``activations="fast"``, symnet.layered.fast): the
numbers of templates/c/fast_activations.c.j2 for each precision.

Both functions reduce y = -2|x| (tanh) or -|x| (logistic) to 2^k·e^r, |r| <= ln2/2, and
take e^r - 1 = r + r²·P(r) from one polynomial P: a Chebyshev fit of (expm1(r) - r)/r² on
[-1.01·ln2/2, 1.01·ln2/2] (mpmath.chebyfit at 40 digits; its error times |r| is 4e-17
relative in double, degree 9, and 5e-10 in float, degree 5, well under half an ulp).  |x|
is clamped where the result has saturated (at 20 and 9.5 for tanh, which rounds to ±1
from 19.1 in double and 9.1 in float; at 40 and 20 for the logistic, whose e^-|x| is
below 2 ulp of 1 from 37 and 16), so that 2^k is always a normal number and one power
of two does.
"""

#: Per precision: the C suffix of literals, the integer type of a number's bits and its
#: exponent's place and bias, the rounding constant 1.5·2^(mantissa bits), ln2 in two
#: parts (k·high exact for every k), the clamps, and P's coefficients (highest degree first).
FAST_MATH = {
    "double": {
        "suffix": "", "bits": "uint64_t", "shift": 52, "bias": "1023u", "round": "6755399441055744.0",
        "log2e": "1.4426950408889634", "ln2_high": "6.93147180369123816490e-01",
        "ln2_low": "1.90821492927058770002e-10", "tanh_clamp": "20.0", "logistic_clamp": "40.0",
        "coefficients": ["2.510134692835034e-8", "2.7621338669142924e-7", "2.7557266418612304e-6",
                         "2.4801518641395994e-5", "1.9841269864380513e-4", "1.3888888918939168e-3",
                         "8.3333333333297935e-3", "4.1666666666620639e-2", "1.6666666666666668e-1",
                         "5.0000000000000011e-1"],
    },
    "float": {
        "suffix": "f", "bits": "uint32_t", "shift": 23, "bias": "127u", "round": "12582912.0f",
        "log2e": "1.44269504f", "ln2_high": "0.693145751953125f", "ln2_low": "1.42860677e-06f",
        "tanh_clamp": "9.5f", "logistic_clamp": "20.0f",
        "coefficients": ["1.98919813e-4f", "1.39345419e-3f", "8.33331002e-3f", "4.16664568e-2f",
                         "1.66666667e-1f", "5.00000001e-1f"],
    },
}

#: The names the printer gives the fast functions (symnet.layered.fast), in either precision.
FAST_FUNCTIONS = {"symnet_fast_tanh": "symnet_fast_tanh", "symnet_fast_logistic": "symnet_fast_logistic"}
