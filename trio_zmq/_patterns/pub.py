"""PUB (RFC 29; libzmq's xpub.cpp with the PUB flavour): fan-out by topic prefix.

Each message goes to every peer with a subscription that is a prefix of its
first frame; the set of those peers comes from the trie once per message.
A peer whose queue is full misses that message (counted for that peer):
PUB never blocks. Subscriptions arrive both as ZMTP 3.1 SUBSCRIBE/CANCEL
commands and as messages whose frames start with 0x01/0x00 (every frame is
looked at, as libzmq does by default), on every connection.

A peer's subscriptions form a set (libzmq's mtrie): a second SUBSCRIBE to a
topic changes nothing and one CANCEL removes it; the counting is done on the
subscriber's side.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._options import Options
from .._strategies import Message, PipeLike, PrefixTrie
from .._zmtp import Cancel, Event, SocketType, Subscribe
from ._base import Pattern


class Pub(Pattern):
    socket_type = SocketType.PUB
    can_send = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._pipes: set[PipeLike] = set()
        self._trie: PrefixTrie[PipeLike] = PrefixTrie(counted=False)

    def attach(self, pipe: PipeLike) -> bool:
        self._pipes.add(pipe)
        return True

    def detach(self, pipe: PipeLike) -> None:
        self._pipes.discard(pipe)
        every = list(self._trie.subscriptions(pipe))
        emptied = self._trie.remove_all(pipe)
        self._peer_gone(pipe, emptied, every)

    def send(self, msg: Message) -> bool:
        matching = self._trie.match(msg[0])
        if not self._may_send(matching):
            return False
        for pipe in matching:
            if pipe.can_write():
                pipe.write(msg)
            else:
                pipe.dropped += 1  # a full subscriber misses this one
                self.dropped += 1
        return True

    def process_inbound(self, pipe: PipeLike, events: Sequence[Event], only_messages: bool) -> int:
        dropped = 0
        for event in events:
            if type(event) is list:
                user: Message = []
                for frame in event:
                    if frame and frame[0] <= 1:
                        self._subscription(pipe, frame[1:], frame[0] == 1)
                    else:
                        user.append(frame)
                if user:
                    dropped += self._user_message(pipe, user)
            elif type(event) is Subscribe:
                self._subscription(pipe, event.topic, True)
            elif type(event) is Cancel:
                self._subscription(pipe, event.topic, False)
        return dropped

    def _subscription(self, pipe: PipeLike, topic: bytes, subscribe: bool) -> None:
        if subscribe:
            self._trie.add(topic, pipe)
        else:
            self._trie.remove(topic, pipe)

    # --- what XPUB adds --------------------------------------------------------

    def _may_send(self, matching: set[PipeLike]) -> bool:
        return True

    def _user_message(self, pipe: PipeLike, msg: Message) -> int:
        return 1  # PUB has nobody to give it to: dropped

    def _peer_gone(self, pipe: PipeLike, emptied: list[bytes], every: list[bytes]) -> None:
        pass
