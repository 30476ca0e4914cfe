"""One small module per socket type, each composed from ``_strategies``."""

from __future__ import annotations

from .._zmtp import SocketType
from ._base import Pattern as Pattern
from .dealer import Dealer
from .pair import Pair
from .pub import Pub
from .pull import Pull
from .push import Push
from .rep import Rep
from .req import Req
from .router import Router
from .stream import Stream
from .sub import Sub
from .xpub import XPub
from .xsub import XSub

PATTERNS: dict[SocketType, type[Pattern]] = {
    SocketType.PAIR: Pair,
    SocketType.PULL: Pull,
    SocketType.PUSH: Push,
    SocketType.REQ: Req,
    SocketType.REP: Rep,
    SocketType.DEALER: Dealer,
    SocketType.ROUTER: Router,
    SocketType.PUB: Pub,
    SocketType.SUB: Sub,
    SocketType.XPUB: XPub,
    SocketType.XSUB: XSub,
    SocketType.STREAM: Stream,
}
