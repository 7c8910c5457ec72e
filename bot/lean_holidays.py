"""The `holidays` package with only the countries asked for in memory.

`holidays` loads a country lazily, but the package holding them (`holidays.countries`) imports
all 250 country modules as soon as one of them is asked for: ~8 MB in the worker, which
needs one or two calendars. `load()` puts a bare `holidays.countries` package in their place
first: a country module is then imported when its calendar is built, and a name asked of the
package (`from holidays.countries import France`) is looked up in the library's registry.
`country_codes()` answers what `holidays.list_supported_countries()` answers, from the
registry, without importing any country.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_PACKAGE = "holidays.countries"
_lock = threading.Lock()


def load() -> types.ModuleType:
    """The `holidays` module, its countries package made lazy (once, before any country)."""
    with _lock:
        if _PACKAGE not in sys.modules:
            spec = importlib.util.find_spec(_PACKAGE)
            if spec is not None and spec.submodule_search_locations is not None:
                sys.modules[_PACKAGE] = _bare_package(spec)
    import holidays

    return holidays


def _bare_package(spec: Any) -> types.ModuleType:
    package = types.ModuleType(_PACKAGE)
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__package__ = _PACKAGE
    package.__file__ = spec.origin

    def attribute(name: str) -> Any:  # PEP 562: names of the real package, from the registry
        from holidays.registry import COUNTRIES

        for module, names in COUNTRIES.items():
            if name in names:
                return getattr(importlib.import_module(f"{_PACKAGE}.{module}"), name)
        raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}")

    package.__getattr__ = attribute  # type: ignore[method-assign]
    return package


@functools.cache
def country_codes() -> frozenset[str]:
    """Every country code (aliases included) `holidays` has a calendar for."""
    load()
    from holidays.registry import EntityLoader

    return frozenset(EntityLoader.get_country_codes(True))
