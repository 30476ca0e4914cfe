"""Small helpers shared by the public modules."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


class NoPublicConstructor(type):
    """A metaclass whose classes can only be made through ``cls._create(...)``."""

    def __call__(cls, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{cls.__module__}.{cls.__qualname__} has no public constructor")

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]


def fixup_module_metadata(module_name: str, namespace: dict[str, Any]) -> None:
    """Make public objects say they live in ``module_name`` (as trio does)."""
    seen: set[int] = set()

    def fix(qualname: str, obj: object) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        mod = getattr(obj, "__module__", None)
        if mod is not None and mod.startswith("trio_zmq."):
            obj.__module__ = module_name
            if isinstance(obj, type):
                obj.__qualname__ = qualname

    for name, obj in namespace.items():
        if not name.startswith("_"):
            fix(name, obj)
