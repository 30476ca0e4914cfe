"""trio_zmq: ZeroMQ in pure Python on Trio, wire-compatible with libzmq 4.3."""

from ._context import Context as Context
from ._context import SocketManager as SocketManager
from ._context import open_socket as open_socket
from ._errors import EndpointError as EndpointError
from ._errors import HostUnreachable as HostUnreachable
from ._errors import MultipartMessageError as MultipartMessageError
from ._errors import OperationNotSupported as OperationNotSupported
from ._errors import SocketStateError as SocketStateError
from ._errors import ZMQError as ZMQError
from ._proxy import proxy as proxy
from ._socket import Socket as Socket
from ._stats import PeerStatistics as PeerStatistics
from ._stats import SocketStatistics as SocketStatistics
from ._util import fixup_module_metadata as _fixup_module_metadata
from ._zmtp import SocketType as SocketType

PAIR = SocketType.PAIR
PUB = SocketType.PUB
SUB = SocketType.SUB
REQ = SocketType.REQ
REP = SocketType.REP
DEALER = SocketType.DEALER
ROUTER = SocketType.ROUTER
PULL = SocketType.PULL
PUSH = SocketType.PUSH
XPUB = SocketType.XPUB
XSUB = SocketType.XSUB
STREAM = SocketType.STREAM

__version__ = "0.1.0"

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
