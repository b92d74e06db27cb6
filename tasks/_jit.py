"""numba's `njit` and `prange`, with numba imported on a kernel's first call instead of at import.

Importing numba takes about half a second, and `bench tasks`, `bench --help` and every bad-input error
import the task modules without generating any data. A kernel decorated here is a `LazyKernel`; its first
call imports numba, points the names it calls (other lazy kernels, `prange`) at their numba versions, and
compiles exactly as `numba.njit` would have (same options, same on-disk cache).

A plug-in compiled by numba itself may call a lazy kernel (`from longdep_tasks._rng import sample_key` in a
`@numba.njit` function): numba's `numba_extensions` entry point runs `register_with_numba`, which types a
lazy kernel as the numba dispatcher it stands for.
"""

from __future__ import annotations

from typing import Any, Callable


def prange(*args: int) -> range:
    """numba's prange inside a compiled kernel (the name is re-pointed at compile time); range outside."""
    return range(*args)


class LazyKernel:
    """A function to be compiled by `numba.njit(**options)` on its first call."""

    def __init__(self, function: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func, self.options = function, options  # py_func: as numba's dispatchers call it
        self._dispatcher: Any = None
        self.__name__, self.__doc__ = function.__name__, function.__doc__
        self.__module__, self.__qualname__ = function.__module__, function.__qualname__

    def dispatcher(self) -> Any:
        """The numba dispatcher (compilation itself still happens on the first call with given types)."""
        if self._dispatcher is None:
            import numba

            register_with_numba()
            self._dispatcher = numba.njit(**self.options)(self.py_func)
            _point_at_numba(self.py_func.__globals__, numba)
        return self._dispatcher

    def __call__(self, *args: Any) -> Any:
        return self.dispatcher()(*args)

    def __reduce__(self) -> tuple:  # pickled by name, like a module-level function
        return _lookup, (self.__module__, self.__qualname__)

    def __repr__(self) -> str:
        return f"<lazy numba kernel {self.__module__}.{self.__qualname__}>"


def _point_at_numba(names: dict[str, Any], numba: Any) -> None:
    """Re-point a module's lazy kernels and `prange` at their numba versions, as numba resolves a kernel's
    globals when it compiles it."""
    for name, value in list(names.items()):
        if value is prange:
            names[name] = numba.prange
        elif isinstance(value, LazyKernel):
            names[name] = value.dispatcher()


def njit(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`@njit` or `@njit(parallel=True, cache=True)`, as numba's."""
    if function is None:
        return lambda inner: LazyKernel(inner, options)
    return LazyKernel(function, options)


_registered = False


def register_with_numba() -> None:
    """Teach numba's typing that a LazyKernel is its dispatcher (for plug-ins compiled by numba itself)."""
    global _registered
    if _registered:
        return
    _registered = True
    from numba.extending import typeof_impl

    @typeof_impl.register(LazyKernel)
    def _typeof_lazy(value: LazyKernel, context: Any) -> Any:
        return typeof_impl(value.dispatcher(), context)


def _lookup(module: str, qualname: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), qualname)

