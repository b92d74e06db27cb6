"""One registry type for tasks and models: duplicate names raise, unknown names suggest."""

from __future__ import annotations

import contextlib
import difflib
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
Origin = tuple[str, str]  # (path, sha256) of the plug-in file that registered a name
_current_origin: list[Origin] = []  # set while a plug-in file is imported


@contextlib.contextmanager
def registering_from(path: str, sha256: str) -> Iterator[None]:
    """Names registered inside this block come from the plug-in file `path` with content `sha256`: that
    goes into the key of every cell using them, and a newer version of the same file may replace them."""
    _current_origin.append((path, sha256))
    try:
        yield
    finally:
        _current_origin.pop()


class UnknownNameError(LookupError):
    """An unknown registry name; the message says what exists and what was probably meant."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0])


class PluginError(Exception):
    """A plug-in (a --plugin file or an installed entry point) could not be loaded."""


class _Lazy:
    """A registered name whose item is built on first use."""

    def __init__(self, load: Callable[[], object]) -> None:
        self.load = load


class Registry(Generic[T]):
    """Names -> items of one kind ("task", "model"), filled on first use by `discover` (which imports
    the built-in modules and the installed entry points, so each registers itself)."""

    def __init__(self, kind: str, discover: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origins: dict[str, Origin] = {}
        self._discover, self._discovered = discover, discover is None

    def discover(self) -> None:
        """Run the discovery hook once (later calls do nothing)."""
        if not self._discovered:
            self._discovered = True  # first: the modules it imports register into this very registry
            self._discover()

    def register(self, name: str, item: T | None = None) -> T | Callable[[T], T]:
        """Register `item` under `name`; without `item`, return a decorator."""
        if item is None:
            return lambda obj: self._add(name, obj)
        return self._add(name, item)

    def _add(self, name: str, item: T) -> T:
        origin = _current_origin[-1] if _current_origin else None
        if name in self._items and not self._replaces(name, origin):
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._items[name] = item
        if origin:
            self._origins[name] = origin
        return item

    def _replaces(self, name: str, origin: Origin | None) -> bool:
        """An edited plug-in file, loaded again into the same process, replaces what it registered."""
        before = self._origins.get(name)
        return bool(origin and before and before[0] == origin[0] and before[1] != origin[1])

    def origin(self, name: str) -> Origin | None:
        """(path, sha256) of the plug-in file that registered `name`; None for built-in names."""
        return self._origins.get(name)

    def register_lazy(self, name: str, load: Callable[[], T]) -> None:
        """Register `name` now and build its item with `load()` on first `get` (a built-in model's
        module imports torch: listing names must not)."""
        self._add(name, _Lazy(load))  # type: ignore[arg-type]

    def get(self, name: str) -> T:
        """The item called `name`, or UnknownNameError naming close matches."""
        self.discover()
        try:
            item = self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None
        if isinstance(item, _Lazy):
            item = self._items[name] = item.load()
        return item

    def unknown_message(self, name: str) -> str:
        """`unknown task 'addin'; did you mean 'adding'? (known: adding, copy)`."""
        close = difflib.get_close_matches(name.lower(), self.names(), n=3, cutoff=0.5)  # LSTM -> lstm
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ";"
        return f"unknown {self.kind} '{name}'{hint} (known: {', '.join(self.names())})"

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self.discover()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def load_entry_points(group: str, adopt: Callable[[str, object], None]) -> None:
    """Load every installed entry point of `group` (`bench.tasks`, `bench.models`). One that names a
    module registers what it defines on import; one that names an object is handed to `adopt`."""
    import types
    from importlib.metadata import entry_points

    for point in entry_points(group=group):
        try:
            loaded = point.load()
            if not isinstance(loaded, types.ModuleType):
                adopt(point.name, loaded)
        except Exception as error:
            raise PluginError(f"entry point '{point.name} = {point.value}' (group {group}) failed to load: "
                              f"{type(error).__name__}: {error}") from error


class VariantError(ValueError):
    """A malformed or invalid `NAME:key=value` string (of a task or a model)."""


def parse_variant(text: str, kind: str = "task") -> tuple[str, dict[str, str]]:
    """`adding:markers=anywhere,x=1` -> ("adding", {"markers": "anywhere", "x": "1"}); VariantError on a
    malformed string (an empty or repeated key, a pair without '=')."""
    name, colon, rest = text.partition(":")
    if not colon:
        return text, {}
    if not rest:
        raise VariantError(f"{kind} {text!r}: nothing after ':' (write NAME:key=value[,key=value])")
    params: dict[str, str] = {}
    for pair in rest.split(","):
        key, equals, value = pair.partition("=")
        if not equals or not key or not value:
            raise VariantError(f"{kind} {text!r}: {pair!r} is not key=value")
        if key in params:
            raise VariantError(f"{kind} {text!r}: {key} is given twice")
        params[key] = value
    return name, params


def split_variant_list(text: str) -> list[str]:
    """`adding:markers=anywhere,copy` -> two strings: a `key=value` item without a ':' of its own belongs
    to the string before it."""
    items: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if "=" in item and ":" not in item and items and ":" in items[-1]:
            items[-1] += "," + item
        else:
            items.append(item)
    return items
