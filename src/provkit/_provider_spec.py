"""Turn a provider spec (``module:attr`` or a shortcut) into a factory, for plugin and CLI.

Every failure raises ``ProviderSpecError`` with one line naming the cause; nothing here
creates a provider.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any, cast

from provkit.contract import ProviderFactory

SHORTCUTS: dict[str, str] = {
    "sqlite-memory": "provkit.reference_providers.sqlite:InMemorySqliteFactory",
    "sqlite-file": "provkit.reference_providers.sqlite:FileSqliteFactory",
    "postgres": "provkit.reference_providers.postgres:PostgresFactory",
    "memory": "provkit.reference_providers.memory:MemoryFactory",
}
"""Names for the reference providers, usable wherever a spec is."""


class ProviderSpecError(Exception):
    """A ``--provider`` spec that does not name a usable factory; the message is one line."""


def load_factory(spec: str, search_dir: Path) -> ProviderFactory:
    """The factory ``spec`` names.

    ``module:attr`` (``attr`` may be dotted) names a factory class (instantiated without
    arguments), a factory instance, or a zero-argument callable returning one. A module
    that is not importable from ``sys.path`` is looked for in ``search_dir`` too (the
    invocation directory), as ``python -m pytest`` would.
    """
    module_name, attr_path = _split(spec)
    module = _import(module_name, spec, search_dir)
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ProviderSpecError(
                f"module {module_name!r} has no attribute {attr_path!r} (from --provider={spec})"
            ) from None
    if not isinstance(obj, type) and hasattr(obj, "create_provider"):
        return cast(ProviderFactory, obj)
    if not callable(obj) or inspect.iscoroutinefunction(obj):
        raise ProviderSpecError(
            f"{module_name}:{attr_path} is {_kind(obj)}, not a provider factory "
            f"(from --provider={spec})"
        )
    try:
        factory = obj()
    except Exception as exc:
        raise ProviderSpecError(
            f"{module_name}:{attr_path}() raised {describe(exc)} (from --provider={spec})"
        ) from None
    if not callable(getattr(factory, "create_provider", None)):
        raise ProviderSpecError(
            f"{module_name}:{attr_path}() gave a {type(factory).__name__}, which is not a "
            f"provider factory: it has no create_provider() method (from --provider={spec})"
        )
    return cast(ProviderFactory, factory)


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, for one-line error reports."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _kind(obj: object) -> str:
    if inspect.iscoroutinefunction(obj):
        return "a coroutine function"
    return f"an object of type {type(obj).__name__}"


def _split(spec: str) -> tuple[str, str]:
    target = SHORTCUTS.get(spec, spec)
    module_name, colon, attr_path = target.partition(":")
    if not (colon and module_name and attr_path):
        raise ProviderSpecError(
            f"--provider={spec} is neither module:attr nor one of {', '.join(SHORTCUTS)}"
        )
    return module_name, attr_path


def _import(module_name: str, spec: str, search_dir: Path) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not _names_module(exc, module_name):
            raise _import_failed(module_name, spec, exc) from None
    except Exception as exc:
        raise _import_failed(module_name, spec, exc) from None
    entry = str(search_dir)
    if entry in sys.path:
        raise _not_found(module_name, spec)
    # Appended, not prepended: the invocation directory must never shadow installed modules.
    sys.path.append(entry)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        sys.path.remove(entry)
        if _names_module(exc, module_name):
            raise _not_found(module_name, spec) from None
        raise _import_failed(module_name, spec, exc) from None
    except Exception as exc:
        sys.path.remove(entry)
        raise _import_failed(module_name, spec, exc) from None


def _names_module(exc: ModuleNotFoundError, module_name: str) -> bool:
    """True when the missing module is ``module_name`` or one of its parent packages."""
    missing = exc.name or ""
    return missing == module_name or module_name.startswith(missing + ".")


def _not_found(module_name: str, spec: str) -> ProviderSpecError:
    return ProviderSpecError(f"cannot import module {module_name!r} from --provider={spec}")


def _import_failed(module_name: str, spec: str, exc: BaseException) -> ProviderSpecError:
    return ProviderSpecError(
        f"importing module {module_name!r} from --provider={spec} raised {describe(exc)}"
    )
