"""Pattern policies as plain synchronous objects (no trio, no I/O).

Every socket type in ``trio_zmq._patterns`` is composed from these.
"""

from ._exclusive import Exclusive as Exclusive
from ._fair_queue import FairQueue as FairQueue
from ._load_balancer import LoadBalancer as LoadBalancer
from ._trie import PrefixTrie as PrefixTrie
from ._types import Message as Message
from ._types import PipeLike as PipeLike
