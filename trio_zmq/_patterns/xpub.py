"""XPUB (libzmq's xpub.cpp): PUB, plus the subscriptions delivered to the application.

``recv`` returns, in arrival order, one-frame messages ``0x01 + topic``
when a topic gets its first subscriber and ``0x00 + topic`` when it loses
its last one (also when a subscriber goes away), and the messages XSUB
peers send upstream. Options, as libzmq's:

* ``xpub_verbose``: every subscribe is passed on, duplicates included;
  ``xpub_verboser``: every unsubscribe too.
* ``xpub_manual``: subscriptions are not applied; every one is passed on,
  and the application decides: ``sock.subscribe(topic)`` subscribes the
  peer whose subscription it received last.
* ``xpub_welcome_msg``: sent to each new peer first (a SUB sees it only if
  it matches its subscriptions).
* ``xpub_nodrop``: ``send`` waits (or raises ``trio.WouldBlock``) while a
  matching peer is full, instead of dropping for it.
"""

from __future__ import annotations

from collections import deque

from .._errors import OperationNotSupported
from .._options import Options
from .._strategies import Message, PipeLike, PrefixTrie
from .._zmtp import SocketType
from .pub import Pub


class XPub(Pub):
    socket_type = SocketType.XPUB
    can_recv = True
    type_options = frozenset(
        {"xpub_verbose", "xpub_verboser", "xpub_manual", "xpub_welcome_msg", "xpub_nodrop"}
    )

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        #: What recv returns, with the peer it came from (for xpub_manual).
        self._pending: deque[tuple[Message, PipeLike | None]] = deque()
        #: xpub_manual: what each peer asked for (to report its unsubscriptions).
        self._asked: PrefixTrie[PipeLike] = PrefixTrie(counted=False)
        self._last_pipe: PipeLike | None = None

    def attach(self, pipe: PipeLike) -> bool:
        super().attach(pipe)
        welcome = self.options.xpub_welcome_msg
        if welcome:
            pipe.write([welcome])
        return True

    def _subscription(self, pipe: PipeLike, topic: bytes, subscribe: bool) -> None:
        prefix = b"\x01" if subscribe else b"\x00"
        if self.options.xpub_manual:
            if subscribe:
                self._asked.add(topic, pipe)
            else:
                self._asked.remove(topic, pipe)
            self._queue([prefix + topic], pipe)
            return
        if subscribe:
            unique = self._trie.add(topic, pipe)
            verbose = self.options.xpub_verbose or self.options.xpub_verboser
        else:
            unique = self._trie.remove(topic, pipe) is not False  # not found counts too
            verbose = self.options.xpub_verboser
        if unique or verbose:
            self._queue([prefix + topic], pipe)

    def _user_message(self, pipe: PipeLike, msg: Message) -> int:
        self._queue(msg, pipe)
        return 0

    def _peer_gone(self, pipe: PipeLike, emptied: list[bytes], every: list[bytes]) -> None:
        if self.options.xpub_manual:
            topics = list(self._asked.subscriptions(pipe))
            self._asked.remove_all(pipe)
        else:
            topics = every if self.options.xpub_verboser else emptied
        for topic in topics:
            self._queue([b"\x00" + topic], None)
        if pipe is self._last_pipe:
            self._last_pipe = None

    def _queue(self, msg: Message, pipe: PipeLike | None) -> None:
        was_empty = not self._pending
        self._pending.append((msg, pipe))
        if was_empty:
            self.wake_receivers()

    def _may_send(self, matching: set[PipeLike]) -> bool:
        if self.options.xpub_nodrop:
            return all(pipe.can_write() for pipe in matching)
        return True

    def peek(self) -> Message | None:
        return self._pending[0][0] if self._pending else None

    def recv(self) -> Message | None:
        if not self._pending:
            return None
        msg, pipe = self._pending.popleft()
        if self.options.xpub_manual:
            self._last_pipe = pipe
        return msg

    def subscribe(self, topic: bytes) -> None:
        self._manual_subscription(topic, True)

    def unsubscribe(self, topic: bytes) -> None:
        self._manual_subscription(topic, False)

    def _manual_subscription(self, topic: bytes, subscribe: bool) -> None:
        if not self.options.xpub_manual:
            raise OperationNotSupported("an XPUB socket subscribes its peers only with xpub_manual")
        pipe = self._last_pipe
        if pipe is None:
            return  # as libzmq: no peer to apply it to
        if subscribe:
            self._trie.add(topic, pipe)
        else:
            self._trie.remove(topic, pipe)
