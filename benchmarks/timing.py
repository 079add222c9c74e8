"""Best-of-several wall-clock timing of Python callables."""

import time


def best_seconds(function, argument, budget=0.2, repeats=5, limit=None):
    """Best time of one call of ``function(argument)`` (calls are batched so that
    one measurement takes at least about 10 ms): of at least ``repeats`` measurements,
    or, with ``limit``, only as many as fit in ``limit`` seconds (the calibration's
    counting as one), and more while ``budget`` seconds are not spent."""
    function(argument)   # warm up (compilation, caches)
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        elapsed = time.perf_counter() - start
        if elapsed > 0.01 or calls >= 1 << 20:
            break
        calls *= 2
    best, spent, rounds = elapsed / calls, elapsed, 0
    while (rounds < repeats and (limit is None or spent < limit)) or (spent < budget and rounds < 100):
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        elapsed = time.perf_counter() - start
        best, spent, rounds = min(best, elapsed / calls), spent + elapsed, rounds + 1
    return best
