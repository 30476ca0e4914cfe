"""A refcounted prefix trie: who subscribed to what, and who matches a topic.

Publish-subscribe filters by prefix: a subscription to ``b"ab"`` matches
every message whose first frame starts with ``b"ab"``; ``b""`` matches all.
Subscriptions are counted per subscriber (subscribing twice needs two
unsubscribes, RFC 29), and a subscriber's subscriptions can be removed all
at once when it goes away.

With ``counted=False`` a subscriber is in a topic's set or not: subscribing
twice changes nothing and one cancel removes it. That is how a publisher
(libzmq's XPUB mtrie) keeps its peers' subscriptions: the counting happens
on the subscriber's side, which sends its last CANCEL only.

The trie is a radix tree: each edge carries a run of bytes, so it holds
about two nodes per distinct subscription whatever their lengths, and a
match walks only the bytes of the topic being matched: its cost grows with
the topic, not with the number of subscriptions. ``match`` returns the set
of subscribers once per message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

V = TypeVar("V")  # used as dict keys: must be hashable


class _Node(Generic[V]):
    __slots__ = ("children", "values")

    def __init__(self) -> None:
        #: first byte of an edge -> (the edge's bytes, the node it leads to)
        self.children: dict[int, tuple[bytes, _Node[V]]] = {}
        #: subscriber -> how many times it subscribed to exactly this prefix
        self.values: dict[V, int] = {}


class PrefixTrie(Generic[V]):
    """Topics (byte prefixes) mapped to refcounted subscribers."""

    __slots__ = ("_by_value", "_counted", "_root")

    def __init__(self, *, counted: bool = True) -> None:
        self._counted = counted
        self._root: _Node[V] = _Node()
        self._by_value: dict[V, dict[bytes, int]] = {}  # for remove_all

    def add(self, topic: bytes, value: V) -> bool:
        """Count one subscription; True if ``topic`` had no subscriber before."""
        node = self._find(topic, create=True)
        assert node is not None
        first = not node.values
        if value in node.values and not self._counted:
            return False
        node.values[value] = node.values.get(value, 0) + 1
        topics = self._by_value.setdefault(value, {})
        topics[topic] = topics.get(topic, 0) + 1
        return first

    def remove(self, topic: bytes, value: V, *, every: bool = False) -> bool | None:
        """Uncount one subscription (or, with ``every``, all of them).

        Returns None if ``value`` had no such subscription, True if ``topic``
        has no subscriber left, False if it still has some.
        """
        path = self._path(topic)
        if path is None:
            return None
        node = path[-1][1]
        count = node.values.get(value)
        if count is None:
            return None
        if count > 1 and not every:  # (never more than 1 unless counted)
            node.values[value] = count - 1
            self._by_value[value][topic] -= 1
        else:
            del node.values[value]
            topics = self._by_value[value]
            del topics[topic]
            if not topics:
                del self._by_value[value]
        if node.values:
            return False
        self._prune(path)
        return True

    def remove_all(self, value: V) -> list[bytes]:
        """Remove every subscription of ``value``; return the topics left with none."""
        topics = list(self._by_value.get(value, ()))
        return [topic for topic in topics if self.remove(topic, value, every=True)]

    def match(self, topic: bytes) -> set[V]:
        """Every subscriber with a subscription that is a prefix of ``topic``."""
        node = self._root
        found: set[V] = set(node.values)
        pos, end = 0, len(topic)
        while pos < end:
            edge = node.children.get(topic[pos])
            if edge is None:
                break
            label, child = edge
            if not topic.startswith(label, pos):
                break
            pos += len(label)
            node = child
            if node.values:
                found.update(node.values)
        return found

    def matches_any(self, topic: bytes) -> bool:
        """Whether any subscription is a prefix of ``topic`` (a SUB's own filter)."""
        node = self._root
        if node.values:
            return True
        pos, end = 0, len(topic)
        while pos < end:
            edge = node.children.get(topic[pos])
            if edge is None:
                return False
            label, child = edge
            if not topic.startswith(label, pos):
                return False
            pos += len(label)
            node = child
            if node.values:
                return True
        return False

    def topics(self) -> Iterator[tuple[bytes, dict[V, int]]]:
        """Every topic with at least one subscriber, and its subscribers' counts."""
        stack: list[tuple[bytes, _Node[V]]] = [(b"", self._root)]
        while stack:
            prefix, node = stack.pop()
            if node.values:
                yield prefix, dict(node.values)
            for label, child in node.children.values():
                stack.append((prefix + label, child))

    def subscriptions(self, value: V) -> dict[bytes, int]:
        """The topics ``value`` subscribed to, with their counts."""
        return dict(self._by_value.get(value, {}))

    def __len__(self) -> int:
        """The number of distinct topics with a subscriber."""
        return sum(1 for _ in self.topics())

    # --- the tree -----------------------------------------------------------

    def _find(self, topic: bytes, *, create: bool) -> _Node[V] | None:
        node = self._root
        pos, end = 0, len(topic)
        while pos < end:
            edge = node.children.get(topic[pos])
            if edge is None:
                if not create:
                    return None
                child: _Node[V] = _Node()
                node.children[topic[pos]] = (topic[pos:], child)
                return child
            label, child = edge
            common = _common_prefix(label, topic, pos)
            if common == len(label):
                pos += common
                node = child
                continue
            if not create:
                return None
            # Split the edge where the topic leaves it.
            middle: _Node[V] = _Node()
            middle.children[label[common]] = (label[common:], child)
            node.children[topic[pos]] = (label[:common], middle)
            pos += common
            node = middle
        return node

    def _path(self, topic: bytes) -> list[tuple[int, _Node[V]]] | None:
        """The nodes from the root to ``topic``'s node, each with its edge's first byte."""
        node = self._root
        path: list[tuple[int, _Node[V]]] = [(-1, node)]
        pos, end = 0, len(topic)
        while pos < end:
            edge = node.children.get(topic[pos])
            if edge is None:
                return None
            label, child = edge
            if not topic.startswith(label, pos):
                return None
            path.append((topic[pos], child))
            pos += len(label)
            node = child
        return path

    def _prune(self, path: list[tuple[int, _Node[V]]]) -> None:
        """Remove nodes left with no subscriber and no child; merge single-child nodes."""
        for i in range(len(path) - 1, 0, -1):
            key, node = path[i]
            parent = path[i - 1][1]
            if node.values:
                return
            if not node.children:
                del parent.children[key]
                continue
            if len(node.children) == 1:
                ((label, child),) = node.children.values()
                own_label = parent.children[key][0]
                parent.children[key] = (own_label + label, child)
            return


def _common_prefix(label: bytes, topic: bytes, pos: int) -> int:
    n = min(len(label), len(topic) - pos)
    i = 0
    while i < n and label[i] == topic[pos + i]:
        i += 1
    return i
