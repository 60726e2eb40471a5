"""CrossWatch's Tautulli provider, backed by the Rust Tautulli plugin.

Install into CrossWatch by making ``providers/sync/_mod_TAUTULLI.py`` this one line::

    import sys, crosswatch_tautulli.provider as _m; sys.modules[__name__] = _m

(``crosswatch_tautulli.provider`` is the whole engine module surface.) The plugin file
ships inside this package; ``CW_TAUTULLI_PLUGIN`` points at another one.
"""

from ._native import CONTRACT_VERSION, Plugin, PluginError, Source

__all__ = ["CONTRACT_VERSION", "Plugin", "PluginError", "Source", "load_plugin"]

_PLUGIN = None


def load_plugin() -> Plugin:
    """The plugin, loaded once per process (libraries are never unloaded)."""
    global _PLUGIN
    if _PLUGIN is None:
        import os
        from pathlib import Path

        path = os.environ.get("CW_TAUTULLI_PLUGIN") or str(
            Path(__file__).resolve().parent / Plugin.file_name()
        )
        _PLUGIN = Plugin.load(path)
    return _PLUGIN
