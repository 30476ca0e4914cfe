"""``Waiters``: the parking lot of trio_zmq's own waits, made for the per-message path.

It does what trio's ``ParkingLot`` does for the two operations trio_zmq uses
(``park``, ``unpark_all``) with fewer steps: a ``ParkingLot``'s truth test and
``unpark_all`` are Python calls that go through a generator, and the
receiver's and the writer's lots are tested and woken on every message. A
``Waiters`` is a dict of the parked tasks, so testing it is the dict's own
length check.
"""

from __future__ import annotations

from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled


class Waiters(dict[Task, None]):
    """Tasks parked until ``unpark_all``, in the order they came. True while any wait."""

    __slots__ = ()

    async def park(self) -> None:
        """Wait until ``unpark_all`` is called.

        A checkpoint (it always yields). If cancelled, the task leaves the
        lot and nothing else has changed.
        """
        task = current_task()
        self[task] = None

        def abort(_: object) -> Abort:
            del self[task]
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    def unpark_all(self) -> None:
        """Wake every parked task (they run at the next scheduler pass). Not a checkpoint."""
        if self:
            tasks = list(self)
            self.clear()
            for task in tasks:
                reschedule(task)
