import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent


# --- property-based tests: a small, reproducible budget by default, more with --long ------

def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="run the property-based and fuzz tests with a large budget of random examples")


def pytest_configure(config):
    try:
        from hypothesis import HealthCheck, Phase, settings
    except ImportError:   # hypothesis is in the test extra; without it those tests are not collected
        return
    common = dict(deadline=None, print_blob=True,
                  phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    # CI: the same few examples on every run (derandomized), so a failure reproduces.
    settings.register_profile("ci", max_examples=4, derandomize=True, **common)
    settings.register_profile("long", max_examples=200, **common)
    settings.load_profile("long" if config.getoption("--long") else "ci")


def budget(ci, long):
    """Examples for one property: ``ci`` by default, ``long`` under --long."""
    from hypothesis import settings
    return long if settings.default.max_examples >= 200 else ci
