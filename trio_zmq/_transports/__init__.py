"""Transports turn endpoints into listeners and byte streams.

Only tcp exists so far; ipc, inproc and pgm/epgm come in their own issue.
"""

from . import _tcp as tcp

__all__ = ["tcp"]
