"""pytest plugin (`-p tautulli_shim`): installs this package's module as the engine's
TAUTULLI provider before the engine's own tests import it, as the README's one-line
`_mod_TAUTULLI.py` does."""

import sys

import crosswatch_tautulli.provider as ours

sys.modules["providers.sync._mod_TAUTULLI"] = ours
sys.modules["sync._mod_TAUTULLI"] = ours


def pytest_collection_modifyitems(config, items):
    """Keeps the engine's cases for TAUTULLI only (the other providers' are not ours)."""
    keep, drop = [], []
    for item in items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("case")
        (keep if getattr(case, "expected_name", None) == "TAUTULLI" else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
