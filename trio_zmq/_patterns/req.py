"""REQ (RFC 28; libzmq's req.cpp): one request at a time, the reply from the peer asked.

* ``send`` puts the empty delimiter (and, with ``req_correlate``, a 4-byte
  request id before it) in front of the request, round-robins it like
  DEALER, and drops every reply already waiting (libzmq does this so an old
  reply from another peer is never taken for the new one).
* ``recv`` takes only a reply from the peer the request went to, whose
  envelope is right (and, with ``req_correlate``, whose id matches); the
  others are dropped and counted.
* Strict alternation (``SocketStateError``) unless ``req_relaxed``, which
  allows a new request at any time; the pending one is then forgotten.
* A reply whose envelope is malformed at the wire level (not
  ``[id]? "" body...``) breaks the connection, as libzmq's ``req_session_t``.

The request id goes on the wire as libzmq puts it: a ``uint32`` copied in
host byte order.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence

from .._errors import SocketStateError
from .._options import Options
from .._strategies import Message, PipeLike
from .._zmtp import Event, ProtocolError, SocketType
from .dealer import Dealer


def _is_reply(msg: Message) -> bool:
    """libzmq's req_session_t: ``[4-byte id]? "" body...``, delimiters not last."""
    if len(msg) >= 2 and msg[0] == b"":
        return True
    return len(msg) >= 3 and len(msg[0]) == 4 and msg[1] == b""


class Req(Dealer):
    socket_type = SocketType.REQ
    alternates = True
    type_options = frozenset({"req_relaxed", "req_correlate", "probe_router"})

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._request_id = random.getrandbits(32)
        #: Whether a request waits for its reply.
        self._awaiting = False
        #: The pipe the pending request went to (None if it has gone: then, as
        #: in libzmq, a reply from any peer is taken).
        self._reply_pipe: PipeLike | None = None
        #: With req_correlate, the id the reply must carry.
        self._expected_id: bytes | None = None

    def detach(self, pipe: PipeLike) -> None:
        super().detach(pipe)
        if pipe is self._reply_pipe:
            self._reply_pipe = None

    def send(self, msg: Message) -> bool:
        if self._awaiting and not self.options.req_relaxed:
            raise SocketStateError(
                "a REQ socket must receive the reply before sending again (see req_relaxed)"
            )
        expected_id = None
        request = [b"", *msg]
        if self.options.req_correlate:
            request_id = (self._request_id + 1) & 0xFFFFFFFF
            expected_id = request_id.to_bytes(4, sys.byteorder)
            request.insert(0, expected_id)
        pipe = self._lb.send(request)
        if pipe is None:
            return False  # nothing changed
        if expected_id is not None:
            self._request_id = (self._request_id + 1) & 0xFFFFFFFF
        self._awaiting = True
        self._reply_pipe = pipe
        self._expected_id = expected_id
        while self._fq.recv() is not None:  # old replies are never taken for the new one
            self.dropped += 1
        return True

    def peek(self) -> Message | None:
        return self._next(consume=False)

    def recv(self) -> Message | None:
        return self._next(consume=True)

    def recv_single(self) -> Message | None:
        # One walk, where the base class would peek and then recv.
        return self._next(consume=True, only_single=True)

    def _next(self, *, consume: bool, only_single: bool = False) -> Message | None:
        if not self._awaiting:
            raise SocketStateError("a REQ socket must send a request before it can receive")
        while True:
            found = self._fq.peek()
            if found is None:
                return None
            pipe, msg = found
            body = self._reply_body(pipe, msg)
            if body is None:
                self._fq.recv()  # a stale or malformed reply: dropped
                self.dropped += 1
                continue
            if consume and (not only_single or len(body) == 1):
                self._fq.recv()
                self._awaiting = False
                self._reply_pipe = None
                self._expected_id = None
            return body

    def _reply_body(self, pipe: PipeLike, msg: Message) -> Message | None:
        if self._reply_pipe is not None and pipe is not self._reply_pipe:
            return None
        if self._expected_id is not None:
            if len(msg) >= 3 and msg[0] == self._expected_id and msg[1] == b"":
                return msg[2:]
            return None
        if len(msg) >= 2 and msg[0] == b"":
            return msg[1:]
        return None

    def process_inbound(self, pipe: PipeLike, events: Sequence[Event], only_messages: bool) -> int:
        for i, event in enumerate(events):
            if type(event) is list and not _is_reply(event):
                super().process_inbound(pipe, events[:i], only_messages)
                raise ProtocolError("a REQ socket received a reply without a valid envelope")
        return super().process_inbound(pipe, events, only_messages)
