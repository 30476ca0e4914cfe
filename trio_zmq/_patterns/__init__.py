"""One small module per socket type, each composed from ``_strategies``."""

from __future__ import annotations

from collections.abc import Callable

from .._zmtp import SocketType
from ._base import Pattern as Pattern
from .pair import Pair
from .pull import Pull
from .push import Push

PATTERNS: dict[SocketType, Callable[[], Pattern]] = {
    SocketType.PAIR: Pair,
    SocketType.PULL: Pull,
    SocketType.PUSH: Push,
}
