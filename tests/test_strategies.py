"""The pattern strategies against naive oracles: LoadBalancer, FairQueue, ActiveSet, Exclusive.

A fake pipe implements the PipeLike protocol. Its owner behaves like the real
socket (``trio_zmq._pipe.Pipe``): it calls ``activate`` when a pipe's inbound
queue goes from empty to non-empty, and when its outbound queue goes from full
to having room (drained by the writer, or a raised HWM).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from trio_zmq._strategies import Exclusive, FairQueue, LoadBalancer, Message, PipeLike
from trio_zmq._strategies._active_set import ActiveSet


class FakePipe:
    """A PipeLike with an outbound capacity (None: unlimited) and an inbound queue."""

    def queue_subscription(self, topic: bytes, subscribe: bool) -> None:
        raise AssertionError("strategies never subscribe")

    def discard_outbound(self) -> int:
        raise AssertionError("strategies never discard")

    def __init__(self, name: int, capacity: int | None = None) -> None:
        self.name = name
        self.dead = False
        self.dropped = 0
        self.capacity = capacity
        self.out: list[Message] = []
        self.inbox: deque[Message] = deque()
        self.reads: list[Message] = []  # every message taken by read()
        self.on_readable: Callable[[FakePipe], None] | None = None

    def __repr__(self) -> str:
        return (
            f"FakePipe({self.name}, cap={self.capacity}, out={len(self.out)}, in={len(self.inbox)})"
        )

    def can_write(self) -> bool:
        return self.capacity is None or len(self.out) < self.capacity

    def write(self, msg: Message) -> None:
        assert self.can_write(), "write() to a pipe with no room"
        self.out.append(msg)

    def offer(self, msg: Message) -> bool:
        if not self.can_write():
            return False
        self.write(msg)
        return True

    def read(self) -> Message | None:
        if not self.inbox:
            return None
        msg = self.inbox.popleft()
        self.reads.append(msg)
        return msg

    def peek(self) -> Message | None:
        return self.inbox[0] if self.inbox else None

    def take_single(self) -> Message | None:
        msg = self.peek()
        return msg if msg is None or len(msg) != 1 else self.read()

    def deliver(self, msgs: list[Message]) -> None:
        was_empty = not self.inbox
        self.inbox.extend(msgs)
        if was_empty and self.inbox and self.on_readable is not None:
            self.on_readable(self)


def _check_pipe_protocol(pipe: PipeLike) -> None:
    """FakePipe satisfies PipeLike (checked by mypy at this call)."""


_check_pipe_protocol(FakePipe(0))


def check_active_set(s: ActiveSet[FakePipe], attached: list[FakePipe]) -> None:
    """ActiveSet's internal invariants."""
    pipes = [s.pipe_at(i) for i in range(len(s))]
    assert sorted(p.name for p in pipes) == sorted(p.name for p in attached)
    assert len(set(map(id, pipes))) == len(pipes)
    for i, p in enumerate(pipes):
        assert p in s
        assert s.is_active(p) == (i < s.active)
        assert s._index[p] == i
    assert 0 <= s.active <= len(s)
    assert 0 <= s.current < s.active or s.current == 0
    assert list(s) == pipes


capacities = st.sampled_from([None, None, 0, 1, 2, 3])
#: Mostly unlimited, so that windows where every pipe has room are common.
lb_capacities = st.sampled_from([None, None, None, None, None, 0, 1, 3])


# --- LoadBalancer ----------------------------------------------------------------------


class LoadBalancerMachine(RuleBasedStateMachine):
    pipes = Bundle("pipes")

    def __init__(self) -> None:
        super().__init__()
        self.lb: LoadBalancer[FakePipe] = LoadBalancer()
        self.attached: list[FakePipe] = []
        self.detached: dict[FakePipe, int] = {}  # pipe -> len(out) when detached
        self.next_name = 0
        self.sent = 0
        self.drained = 0
        # sends since the last event other than a send to a set of pipes that all had room
        self.window: Counter[int] = Counter()

    def _reset_window(self) -> None:
        self.window = Counter()

    def _writable(self, pipe: FakePipe) -> None:
        # what the real pipe's owner does when a pipe gets room again
        self._activate(pipe)

    def _activate(self, pipe: FakePipe) -> None:
        # activating a pipe never changes which pipe is next, if there is one
        before = self.lb.select()
        self.lb.activate(pipe)
        if before is not None:
            assert self.lb.select() is before

    @rule(target=pipes, capacity=lb_capacities)
    def attach(self, capacity: int | None) -> FakePipe:
        pipe = FakePipe(self.next_name, capacity)
        self.next_name += 1
        self.lb.attach(pipe)
        self.attached.append(pipe)
        self._reset_window()
        return pipe

    @rule(pipe=pipes)
    def detach(self, pipe: FakePipe) -> None:
        self.lb.detach(pipe)
        if pipe in self.attached:
            self.attached.remove(pipe)
            self.detached[pipe] = len(pipe.out)
        self._reset_window()

    @rule(pipe=pipes)
    def reattach(self, pipe: FakePipe) -> None:
        self.lb.attach(pipe)
        if pipe not in self.attached:
            self.attached.append(pipe)
            del self.detached[pipe]
        self._reset_window()

    @rule(pipe=pipes, n=st.integers(1, 3))
    def drain(self, pipe: FakePipe, n: int) -> None:
        """The peer's writer takes messages off the pipe."""
        was_full = not pipe.can_write()
        taken = pipe.out[:n]
        del pipe.out[:n]
        self.drained += len(taken)
        if pipe in self.detached:
            self.detached[pipe] = len(pipe.out)
        if was_full and pipe.can_write():
            self._writable(pipe)
        self._reset_window()

    @rule(pipe=pipes, capacity=lb_capacities)
    def set_capacity(self, pipe: FakePipe, capacity: int | None) -> None:
        """SNDHWM changed: the real pipe re-announces itself if it has room."""
        pipe.capacity = capacity
        if pipe.can_write():
            self._writable(pipe)
        self._reset_window()

    @rule(pipe=pipes)
    def spurious_activate(self, pipe: FakePipe) -> None:
        """Announcing room twice, or for a full or detached pipe, is harmless."""
        self._activate(pipe)
        self._reset_window()

    @rule(with_select=st.booleans())
    def send(self, with_select: bool) -> None:
        roomy = [p for p in self.attached if p.can_write()]
        all_roomy = len(roomy) == len(self.attached)
        before = {p: len(p.out) for p in [*self.attached, *self.detached]}
        msg = [b"m%d" % self.sent]
        chosen = self.lb.select() if with_select else None
        got = self.lb.send(msg)
        if with_select:
            assert got is chosen
        if not roomy:
            assert got is None
            assert all(len(p.out) == n for p, n in before.items())
            self._reset_window()
            return
        assert got is not None
        assert got in roomy
        assert got.out[-1] is msg
        for p, n in before.items():
            assert len(p.out) == n + (p is got)
        self.sent += 1
        if not all_roomy:
            self._reset_window()
            return
        # fairness: with every pipe having room, round-robin is exact
        self.window[got.name] += 1
        counts = [self.window[p.name] for p in self.attached]
        assert max(counts) - min(counts) <= 1, counts

    @rule(n=st.integers(2, 12))
    def send_many(self, n: int) -> None:
        for _ in range(n):
            self.send(with_select=False)

    @invariant()
    def internal_state(self) -> None:
        check_active_set(self.lb, self.attached)
        assert len(self.lb) == len(self.attached)

    @invariant()
    def pipes_with_room_are_active(self) -> None:
        for p in self.attached:
            if p.can_write():
                assert self.lb.is_active(p), p

    @invariant()
    def detached_pipes_never_receive(self) -> None:
        for p, n in self.detached.items():
            assert len(p.out) == n

    @invariant()
    def no_message_lost(self) -> None:
        queued = sum(len(p.out) for p in [*self.attached, *self.detached])
        assert queued + self.drained == self.sent


TestLoadBalancer = LoadBalancerMachine.TestCase


def test_load_balancer_round_robin_in_attach_order() -> None:
    lb: LoadBalancer[FakePipe] = LoadBalancer()
    pipes = [FakePipe(i) for i in range(3)]
    for p in pipes:
        lb.attach(p)
    got = [lb.send([b"%d" % i]) for i in range(9)]
    assert got == pipes * 3
    assert [len(p.out) for p in pipes] == [3, 3, 3]


def test_load_balancer_skips_full_pipes_until_activated() -> None:
    lb: LoadBalancer[FakePipe] = LoadBalancer()
    a, b = FakePipe(0, capacity=1), FakePipe(1)
    lb.attach(a)
    lb.attach(b)
    assert lb.send([b"1"]) is a
    assert lb.send([b"2"]) is b
    assert lb.send([b"3"]) is b  # a is full
    a.out.clear()
    assert lb.send([b"4"]) is b  # a not announced yet: still skipped
    lb.activate(a)
    assert {lb.send([b"5"]), lb.send([b"6"])} == {a, b}
    assert lb.send([b"7"]) is b
    lb.detach(b)
    assert lb.send([b"8"]) is None
    assert lb.select() is None


# --- FairQueue ---------------------------------------------------------------------------


class FairQueueMachine(RuleBasedStateMachine):
    pipes = Bundle("pipes")

    def __init__(self) -> None:
        super().__init__()
        self.fq: FairQueue[FakePipe] = FairQueue()
        self.attached: list[FakePipe] = []
        self.detached: list[FakePipe] = []
        self.next_name = 0
        self.next_msg = 0
        self.delivered: dict[bytes, FakePipe] = {}
        self.received: list[bytes] = []
        self.window: Counter[int] = Counter()

    def _readable(self, pipe: FakePipe) -> None:
        # Pipe.deliver -> socket -> pattern.pipe_readable -> fq.activate
        self._activate(pipe)

    def _activate(self, pipe: FakePipe) -> None:
        # activating a pipe never changes which pipe is next, if there is one
        before = self.fq.peek()
        self.fq.activate(pipe)
        if before is not None:
            after = self.fq.peek()
            assert after is not None
            assert after[0] is before[0]

    @rule(target=pipes, n=st.integers(0, 3))
    def attach(self, n: int) -> FakePipe:
        pipe = FakePipe(self.next_name)
        self.next_name += 1
        pipe.on_readable = self._readable
        self._deliver(pipe, n)  # messages may arrive before the pattern attaches it
        self.fq.attach(pipe)
        self.attached.append(pipe)
        self.window = Counter()
        return pipe

    def _deliver(self, pipe: FakePipe, n: int) -> None:
        msgs = []
        for _ in range(n):
            token = b"%d" % self.next_msg
            self.next_msg += 1
            self.delivered[token] = pipe
            # Odd tokens are single-frame messages (for take_single).
            msgs.append([token] if self.next_msg % 2 else [token, b"part2"])
        pipe.deliver(msgs)

    @rule(pipe=pipes, n=st.integers(1, 3))
    def deliver(self, pipe: FakePipe, n: int) -> None:
        self._deliver(pipe, n)
        self.window = Counter()

    @rule(pipe=consumes(pipes))
    def detach(self, pipe: FakePipe) -> None:
        self.fq.detach(pipe)
        self.attached.remove(pipe)
        self.detached.append(pipe)
        self.window = Counter()

    @rule(pipe=pipes)
    def spurious_activate(self, pipe: FakePipe) -> None:
        self._activate(pipe)
        self.window = Counter()

    @rule(with_peek=st.booleans())
    def recv(self, with_peek: bool) -> None:
        full = [p for p in self.attached if p.inbox]
        all_full = len(full) == len(self.attached)
        heads = {p: p.inbox[0] for p in full}
        reads_before = {p: len(p.reads) for p in [*self.attached, *self.detached]}
        peeked = self.fq.peek() if with_peek else None
        if with_peek:
            assert all(len(p.reads) == n for p, n in reads_before.items()), "peek read"
        got = self.fq.recv()
        if with_peek:
            assert got == peeked
        if not full:
            assert got is None
            self.window = Counter()
            return
        assert got is not None
        pipe, msg = got
        # from an attached pipe that had a message, in that pipe's order
        assert pipe in full
        assert msg is heads[pipe]
        assert self.delivered[msg[0]] is pipe
        # exactly one message was taken, the one returned: none lost
        for p, n in reads_before.items():
            assert len(p.reads) == n + (p is pipe)
        assert pipe.reads[-1] is msg
        assert msg[0] not in self.received
        self.received.append(msg[0])
        if not all_full:
            self.window = Counter()
            return
        # fairness: while every pipe holds messages, k recvs hit k distinct pipes
        self.window[pipe.name] += 1
        counts = [self.window[p.name] for p in self.attached]
        assert max(counts) - min(counts) <= 1, counts

    @rule()
    def take_single(self) -> None:
        """Takes the next message only if it has one frame; otherwise returns it, untaken."""
        reads_before = {p: len(p.reads) for p in [*self.attached, *self.detached]}
        peeked = self.fq.peek()
        got = self.fq.take_single()
        assert got == (None if peeked is None else peeked[1])
        if peeked is None or got is None:
            return
        pipe, msg = peeked
        taken = len(msg) == 1
        for p, n in reads_before.items():
            assert len(p.reads) == n + (taken and p is pipe)
        if taken:
            assert pipe.reads[-1] is got
            self.received.append(msg[0])
        else:
            assert self.fq.peek() == peeked  # still next, in place
        self.window = Counter()

    @rule(n=st.integers(1, 4))
    def deliver_to_all(self, n: int) -> None:
        for pipe in self.attached:
            self._deliver(pipe, n)
        self.window = Counter()

    @rule(n=st.integers(2, 12))
    def recv_many(self, n: int) -> None:
        for _ in range(n):
            self.recv(with_peek=False)

    @rule()
    def drain_everything(self) -> None:
        while (got := self.fq.recv()) is not None:
            pipe, msg = got
            assert pipe in self.attached
            assert msg[0] not in self.received
            self.received.append(msg[0])
        assert all(not p.inbox for p in self.attached)
        self.window = Counter()

    @invariant()
    def internal_state(self) -> None:
        check_active_set(self.fq, self.attached)
        assert len(self.fq) == len(self.attached)

    @invariant()
    def pipes_with_messages_are_active(self) -> None:
        for p in self.attached:
            if p.inbox:
                assert self.fq.is_active(p), p

    @invariant()
    def nothing_lost_or_duplicated(self) -> None:
        remaining = [m[0] for p in [*self.attached, *self.detached] for m in p.inbox]
        assert sorted(self.received + remaining) == sorted(self.delivered)
        taken = [m[0] for p in [*self.attached, *self.detached] for m in p.reads]
        assert sorted(taken) == sorted(self.received)


TestFairQueue = FairQueueMachine.TestCase


def test_fair_queue_takes_one_message_per_pipe_in_turn() -> None:
    fq: FairQueue[FakePipe] = FairQueue()
    pipes = [FakePipe(i) for i in range(3)]
    for p in pipes:
        p.on_readable = fq.activate
        fq.attach(p)
    pipes[0].deliver([[b"a1"], [b"a2"], [b"a3"]])
    pipes[1].deliver([[b"b1"]])
    pipes[2].deliver([[b"c1"], [b"c2"]])
    order = []
    while (got := fq.recv()) is not None:
        order.append(got[1][0])
    assert order == [b"a1", b"b1", b"c1", b"a2", b"c2", b"a3"]
    assert fq.peek() is None
    pipes[1].deliver([[b"b2"]])
    assert fq.peek() == (pipes[1], [b"b2"])
    assert fq.recv() == (pipes[1], [b"b2"])


# --- ActiveSet ----------------------------------------------------------------------------


class ActiveSetMachine(RuleBasedStateMachine):
    pipes = Bundle("pipes")

    def __init__(self) -> None:
        super().__init__()
        self.s: ActiveSet[FakePipe] = ActiveSet()
        self.oracle: dict[FakePipe, bool] = {}  # attached pipe -> active
        self.next_name = 0

    @rule(target=pipes, active=st.booleans())
    def attach(self, active: bool) -> FakePipe:
        pipe = FakePipe(self.next_name)
        self.next_name += 1
        self.s.attach(pipe, active=active)
        self.oracle[pipe] = active
        return pipe

    @rule(pipe=pipes, active=st.booleans())
    def attach_again(self, pipe: FakePipe, active: bool) -> None:
        self.s.attach(pipe, active=active)
        if pipe not in self.oracle:
            self.oracle[pipe] = active  # otherwise: a no-op

    @rule(pipe=pipes)
    def activate(self, pipe: FakePipe) -> None:
        self.s.activate(pipe)
        if pipe in self.oracle:
            self.oracle[pipe] = True

    @precondition(lambda self: self.s.active > 0)
    @rule(data=st.data())
    def deactivate(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, self.s.active - 1))
        pipe = self.s.pipe_at(i)
        self.s.deactivate_at(i)
        self.oracle[pipe] = False

    @precondition(lambda self: self.s.active > 0)
    @rule()
    def deactivate_current(self) -> None:
        # what the strategies do to a pipe found full or empty
        current = self.s.pipe_at(self.s.current)
        self.s.deactivate_at(self.s.current)
        self.oracle[current] = False
        if self.s.active:
            assert self.s.current < self.s.active

    @rule(pipe=pipes)
    def detach(self, pipe: FakePipe) -> None:
        self.s.detach(pipe)
        self.oracle.pop(pipe, None)

    @rule()
    def advance_full_cycle(self) -> None:
        """``active`` advances visit every active pipe once and come back."""
        k = self.s.active
        if not k:
            self.s.advance()
            assert self.s.current == 0
            return
        seen = []
        for _ in range(k):
            seen.append(self.s.pipe_at(self.s.current))
            self.s.advance()
        assert len(set(map(id, seen))) == k
        assert {p.name for p in seen} == {p.name for p, a in self.oracle.items() if a}
        assert self.s.pipe_at(self.s.current) is seen[0]

    @invariant()
    def matches_oracle(self) -> None:
        check_active_set(self.s, list(self.oracle))
        assert len(self.s) == len(self.oracle)
        assert self.s.active == sum(self.oracle.values())
        for p, active in self.oracle.items():
            assert self.s.is_active(p) == active


TestActiveSet = ActiveSetMachine.TestCase
TestActiveSet.settings = settings(stateful_step_count=30)


# --- Exclusive ------------------------------------------------------------------------------


class ExclusiveMachine(RuleBasedStateMachine):
    pipes = Bundle("pipes")

    def __init__(self) -> None:
        super().__init__()
        self.ex: Exclusive[FakePipe] = Exclusive()
        self.owner: FakePipe | None = None
        self.next_name = 0
        self.next_msg = 0

    @initialize(target=pipes)
    def first_pipe(self) -> FakePipe:
        return self._new_pipe(None)

    def _new_pipe(self, capacity: int | None) -> FakePipe:
        pipe = FakePipe(self.next_name, capacity)
        self.next_name += 1
        return pipe

    @rule(target=pipes, capacity=capacities)
    def new_pipe(self, capacity: int | None) -> FakePipe:
        return self._new_pipe(capacity)

    @rule(pipe=pipes)
    def attach(self, pipe: FakePipe) -> None:
        accepted = self.ex.attach(pipe)
        # the first pipe wins; others are refused while it lives
        assert accepted == (self.owner is None or self.owner is pipe)
        if accepted:
            self.owner = pipe

    @rule(pipe=pipes)
    def detach(self, pipe: FakePipe) -> None:
        self.ex.detach(pipe)
        if self.owner is pipe:
            self.owner = None

    @rule(pipe=pipes, n=st.integers(0, 2))
    def drain(self, pipe: FakePipe, n: int) -> None:
        del pipe.out[:n]

    @rule(pipe=pipes, n=st.integers(1, 2))
    def deliver(self, pipe: FakePipe, n: int) -> None:
        for _ in range(n):
            pipe.deliver([[b"%d" % self.next_msg]])
            self.next_msg += 1

    @rule()
    def send(self) -> None:
        msg = [b"s%d" % self.next_msg]
        self.next_msg += 1
        owner = self.owner
        room = owner is not None and owner.can_write()
        before = len(owner.out) if owner is not None else 0
        got = self.ex.send(msg)
        if owner is None:
            assert got is None
        elif not room:
            assert got is None
            assert len(owner.out) == before
        else:
            assert got is owner
            assert owner.out[-1] is msg
            assert len(owner.out) == before + 1

    @rule()
    def send_when_full_fails(self) -> None:
        owner = self.owner
        if owner is None or owner.capacity is None:
            return
        while owner.can_write():
            owner.write([b"fill"])
        n = len(owner.out)
        assert self.ex.send([b"x"]) is None
        assert len(owner.out) == n

    @rule()
    def recv(self) -> None:
        owner = self.owner
        expected = owner.inbox[0] if owner is not None and owner.inbox else None
        assert self.ex.peek() is expected
        got = self.ex.recv()
        assert got is expected
        if owner is not None and got is not None:
            assert owner.reads[-1] is got

    @invariant()
    def holds_the_owner(self) -> None:
        assert self.ex.pipe is self.owner


TestExclusive = ExclusiveMachine.TestCase
TestExclusive.settings = settings(stateful_step_count=30)
