"""The prefix trie checked against a naive oracle (DESIGN section 5)."""

from __future__ import annotations

from collections import Counter

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from trio_zmq._strategies._trie import PrefixTrie

# A small alphabet so that topics share prefixes, split edges and merge back.
topics = st.binary(max_size=6).map(lambda b: bytes(c % 3 + 97 for c in b))
subscribers = st.sampled_from(["p1", "p2", "p3"])


class TrieMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.trie: PrefixTrie[str] = PrefixTrie()
        self.oracle: Counter[tuple[bytes, str]] = Counter()

    def _subscribers_of(self, topic: bytes) -> set[str]:
        return {s for (t, s), n in self.oracle.items() if t == topic and n}

    @rule(topic=topics, sub=subscribers)
    def add(self, topic: bytes, sub: str) -> None:
        first = not self._subscribers_of(topic)
        assert self.trie.add(topic, sub) == first
        self.oracle[topic, sub] += 1

    @rule(topic=topics, sub=subscribers)
    def remove(self, topic: bytes, sub: str) -> None:
        result = self.trie.remove(topic, sub)
        if not self.oracle[topic, sub]:
            assert result is None
            return
        self.oracle[topic, sub] -= 1
        assert result == (not self._subscribers_of(topic))

    @precondition(lambda self: bool(+self.oracle))
    @rule(sub=subscribers)
    def remove_all(self, sub: str) -> None:
        before = {t for (t, s), n in self.oracle.items() if n}
        emptied = self.trie.remove_all(sub)
        for key in [k for k in self.oracle if k[1] == sub]:
            del self.oracle[key]
        after = {t for (t, s), n in self.oracle.items() if n}
        assert sorted(emptied) == sorted(before - after)

    @rule(topic=st.binary(max_size=8).map(lambda b: bytes(c % 3 + 97 for c in b)))
    def match(self, topic: bytes) -> None:
        expected = {s for (t, s), n in self.oracle.items() if n and topic.startswith(t)}
        assert self.trie.match(topic) == expected
        assert self.trie.matches_any(topic) == bool(expected)

    @invariant()
    def same_topics(self) -> None:
        expected: dict[bytes, dict[str, int]] = {}
        for (t, s), n in self.oracle.items():
            if n:
                expected.setdefault(t, {})[s] = n
        assert dict(self.trie.topics()) == expected
        for sub in ("p1", "p2", "p3"):
            mine = {t: n for (t, s), n in self.oracle.items() if s == sub and n}
            assert self.trie.subscriptions(sub) == mine


TestTrie = TrieMachine.TestCase


def test_nodes_are_pruned_and_merged() -> None:
    trie: PrefixTrie[str] = PrefixTrie()
    for topic in (b"abc", b"abd", b"a", b"abcdef"):
        trie.add(topic, "x")
    for topic in (b"abc", b"abd", b"a", b"abcdef"):
        assert trie.remove(topic, "x") is True
    assert trie._root.children == {}
    trie.add(b"abcdef", "x")
    trie.add(b"ab", "y")
    trie.remove(b"ab", "y")
    # the split node at "ab" merged back: one edge from the root
    ((label, _child),) = trie._root.children.values()
    assert label == b"abcdef"


def test_match_walks_only_the_topic() -> None:
    trie: PrefixTrie[int] = PrefixTrie()
    for i in range(10_000):
        trie.add(b"topic/%05d" % i, i)
    trie.add(b"", -1)
    assert trie.match(b"topic/00042/more") == {42, -1}
    assert trie.match(b"other") == {-1}
    assert len(trie) == 10_001


class SetTrieMachine(RuleBasedStateMachine):
    """``counted=False``: a subscriber is in a topic's set or not (libzmq's XPUB side)."""

    def __init__(self) -> None:
        super().__init__()
        self.trie: PrefixTrie[str] = PrefixTrie(counted=False)
        self.oracle: set[tuple[bytes, str]] = set()

    @rule(topic=topics, sub=subscribers)
    def add(self, topic: bytes, sub: str) -> None:
        first = not any(t == topic for t, _ in self.oracle)
        assert self.trie.add(topic, sub) == first
        self.oracle.add((topic, sub))

    @rule(topic=topics, sub=subscribers)
    def remove(self, topic: bytes, sub: str) -> None:
        result = self.trie.remove(topic, sub)
        if (topic, sub) not in self.oracle:
            assert result is None
            return
        self.oracle.discard((topic, sub))
        assert result == (not any(t == topic for t, _ in self.oracle))

    @rule(topic=st.binary(max_size=8).map(lambda b: bytes(c % 3 + 97 for c in b)))
    def match(self, topic: bytes) -> None:
        assert self.trie.match(topic) == {s for t, s in self.oracle if topic.startswith(t)}

    @invariant()
    def counts_are_one(self) -> None:
        for _topic, subs in self.trie.topics():
            assert set(subs.values()) <= {1}


TestSetTrie = SetTrieMachine.TestCase
