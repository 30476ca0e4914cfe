"""The sans-IO ZMTP 3.x core: no trio, no sockets; bytes in, events out.

Nothing here imports trio or does I/O (a test checks it). The I/O layer
(``trio_zmq._peer``) drives a :class:`Connection` per peer.
"""

from ._commands import Cancel as Cancel
from ._commands import Ping as Ping
from ._commands import Pong as Pong
from ._commands import QueuedSubscription as QueuedSubscription
from ._commands import Subscribe as Subscribe
from ._connection import Connection as Connection
from ._connection import Event as Event
from ._connection import HandshakeComplete as HandshakeComplete
from ._connection import Stage as Stage
from ._errors import HandshakeRejected as HandshakeRejected
from ._errors import IncompatibleSocketType as IncompatibleSocketType
from ._errors import LocalProtocolError as LocalProtocolError
from ._errors import MechanismMismatch as MechanismMismatch
from ._errors import MessageTooLarge as MessageTooLarge
from ._errors import ProtocolError as ProtocolError
from ._errors import UnsupportedVersion as UnsupportedVersion
from ._errors import ZMTPError as ZMTPError
from ._mechanism import Mechanism as Mechanism
from ._mechanism import NullMechanism as NullMechanism
from ._socket_type import COMPATIBLE as COMPATIBLE
from ._socket_type import SENDS_IDENTITY as SENDS_IDENTITY
from ._socket_type import SocketType as SocketType
