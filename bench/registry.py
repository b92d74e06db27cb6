"""One registry type for tasks and models: duplicate names raise, unknown names suggest."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(LookupError):
    """An unknown registry name; the message says what exists and what was probably meant."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0])


class Registry(Generic[T]):
    """Names -> items of one kind ("task", "model")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T | None = None) -> T | Callable[[T], T]:
        """Register `item` under `name`; without `item`, return a decorator."""
        if item is None:
            return lambda obj: self._add(name, obj)
        return self._add(name, item)

    def _add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """The item called `name`, or UnknownNameError naming close matches."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """`unknown task 'addin'; did you mean 'adding'? (known: adding, copy)`."""
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ";"
        return f"unknown {self.kind} '{name}'{hint} (known: {', '.join(self.names())})"

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
