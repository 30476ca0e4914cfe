"""XSUB (libzmq's xsub.cpp): subscriptions written by the application, messages fair-queued.

``send`` takes messages whose frames starting with 0x01 subscribe and 0x00
unsubscribe (counted locally: an unsubscribe goes upstream only when it
removes the last reference); the message is forwarded to every publisher,
as it is (a frame that cancels nothing is left out). Other messages go
upstream unchanged (XPUB peers receive them). A full publisher misses what
is sent to it (counted). ``recv`` fair-queues what the publishers send,
unfiltered.

Subscriptions are queued in the pipe in order with the messages (never
refused at SNDHWM) and sent as SUBSCRIBE/CANCEL commands to ZMTP 3.1 peers,
0x01/0x00 messages to 3.0 ones. A new publisher gets every topic once, when
its pipe is attached. When a publisher reconnects, what was still queued
for it is dropped (counted) and every topic is queued again, once: libzmq's
pipe hiccup. ``subscribe``/``unsubscribe`` are the same as sending the
subscription message, as commands.
"""

from __future__ import annotations

from .._options import Options
from .._strategies import FairQueue, Message, PipeLike, PrefixTrie
from .._zmtp import HandshakeComplete, SocketType
from ._base import Pattern


class XSub(Pattern):
    socket_type = SocketType.XSUB
    can_send = True
    can_recv = True
    default_linger = 0.0  # libzmq's xsub.cpp sets linger 0

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._fq: FairQueue[PipeLike] = FairQueue()
        self._pipes: set[PipeLike] = set()
        self._handshaken: set[PipeLike] = set()  # pipes that have had a connection
        self._topics: PrefixTrie[int] = PrefixTrie()  # refcounted, one subscriber: us

    def attach(self, pipe: PipeLike) -> bool:
        self._fq.attach(pipe)
        self._pipes.add(pipe)
        self._queue_all(pipe)
        return True

    def peer_ready(self, pipe: PipeLike, handshake: HandshakeComplete) -> bool:
        if pipe in self._handshaken:
            # A reconnection: the new publisher knows nothing of what the old
            # connection carried, so start its queue over with every topic.
            dropped = pipe.discard_outbound()
            pipe.dropped += dropped
            self.dropped += dropped
            self._queue_all(pipe)
        else:
            self._handshaken.add(pipe)
        return True

    def _queue_all(self, pipe: PipeLike) -> None:
        for topic, _ in self._topics.topics():
            pipe.queue_subscription(topic, True)

    def detach(self, pipe: PipeLike) -> None:
        self._fq.detach(pipe)
        self._pipes.discard(pipe)
        self._handshaken.discard(pipe)

    def pipe_readable(self, pipe: PipeLike) -> None:
        self._fq.activate(pipe)

    def send(self, msg: Message) -> bool:
        forward: Message = []
        for frame in msg:
            if frame and frame[0] == 1:
                self._topics.add(frame[1:], 0)
            elif frame and frame[0] == 0 and not self._topics.remove(frame[1:], 0):
                continue  # cancels nothing, or leaves references: not forwarded
            forward.append(frame)
        if forward:
            self._to_all(forward)
        return True

    def _to_all(self, msg: Message) -> None:
        for pipe in self._pipes:
            if pipe.can_write():
                pipe.write(msg)
            else:
                pipe.dropped += 1
                self.dropped += 1

    def subscribe(self, topic: bytes) -> None:
        self._topics.add(topic, 0)
        for pipe in self._pipes:
            pipe.queue_subscription(topic, True)  # every subscribe goes upstream

    def unsubscribe(self, topic: bytes) -> None:
        if self._topics.remove(topic, 0):  # only the last reference goes upstream
            for pipe in self._pipes:
                pipe.queue_subscription(topic, False)

    def peek(self) -> Message | None:
        found = self._fq.peek()
        return None if found is None else found[1]

    def recv(self) -> Message | None:
        found = self._fq.recv()
        return None if found is None else found[1]

    def recv_single(self) -> Message | None:
        return self._fq.take_single()  # one walk, where the base class would peek and recv
