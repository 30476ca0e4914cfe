"""Frames and topics from the user, checked and turned into ``bytes``."""

from __future__ import annotations

from collections.abc import Iterable

from ._strategies import Message

#: What ``send_multipart`` accepts as a frame.
Frame = bytes | bytearray | memoryview


def as_message(frames: Iterable[Frame]) -> Message:
    """Validate frames into a message of ``bytes`` (copying mutable buffers)."""
    if isinstance(frames, bytes | bytearray | memoryview | str):
        raise TypeError("send_multipart takes a list of frames, not a single bytes-like object")
    msg = list(frames)
    for i, frame in enumerate(msg):
        if type(frame) is not bytes:
            msg[i] = as_frame(frame)
    if not msg:
        raise ValueError("a message needs at least one frame")
    return msg  # type: ignore[return-value]


def as_topic(topic: object) -> bytes:
    if isinstance(topic, str):
        return topic.encode("utf-8")
    if isinstance(topic, bytes | bytearray | memoryview):
        return bytes(topic)
    raise TypeError(f"a topic must be bytes or str, not {type(topic).__name__}")


def as_frame(frame: object) -> bytes:
    if isinstance(frame, bytes | bytearray | memoryview):
        return bytes(frame)  # a copy: the caller may change its buffer after send
    if isinstance(frame, str):
        raise TypeError("frames must be bytes-like; use send_string() for str")
    raise TypeError(f"frames must be bytes, bytearray or memoryview, not {type(frame).__name__}")
