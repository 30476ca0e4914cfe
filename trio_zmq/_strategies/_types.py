"""What a strategy needs of a pipe: a structural type, so no trio is imported here."""

from __future__ import annotations

from typing import Protocol, TypeVar

Message = list[bytes]


class PipeLike(Protocol):
    """The synchronous face of a pipe (``trio_zmq._pipe.Pipe``)."""

    #: The peer is gone for good (its unread messages may still be readable).
    dead: bool
    #: Messages dropped on this pipe's way (counted per peer in statistics).
    dropped: int

    def can_write(self) -> bool:
        """Whether a message can be queued now (the pipe is alive and below SNDHWM)."""
        ...

    def write(self, msg: Message) -> None:
        """Queue a whole message for the peer."""
        ...

    def offer(self, msg: Message) -> bool:
        """``write`` if ``can_write``, in one call; whether it was written.

        It takes the list over when it returns True: the message goes to
        this pipe alone (the load balancer) and the caller built the list for
        it, so the pipe may hand it to the receiver as it is. A ``write``
        caller may share one list among pipes (PUB), so a pipe that hands
        messages to a receiving socket directly (inproc) copies it there.
        """
        ...

    def read(self) -> Message | None:
        """Take the next whole message from the peer, or None if there is none."""
        ...

    def peek(self) -> Message | None:
        """The next message from the peer without taking it, or None."""
        ...

    def take_single(self) -> Message | None:
        """The next message, taken only if it has one frame (the caller checks ``len``).

        ``peek`` and then ``read`` of a single-frame message in one call:
        the per-message receive step of PULL, DEALER, XSUB and PAIR. It
        repeats ``read``'s step (inlined for speed): keep the two alike.
        """
        ...

    def deliver(self, msgs: list[Message]) -> None:
        """Queue messages that arrived from the peer, for ``read``."""
        ...

    def queue_subscription(self, topic: bytes, subscribe: bool) -> None:
        """Queue a SUBSCRIBE (or CANCEL) for the peer, in order with messages."""
        ...

    def discard_outbound(self) -> int:
        """Drop what is queued for the peer and not taken yet; return how many."""
        ...


P = TypeVar("P", bound=PipeLike)
