"""Hypothesis profiles, the ``transport`` fixture the pattern tests run over,
and ``zctx``, the pyzmq context of the libzmq peers (one per test; the ROUTER
and STREAM tests keep one per module).

A test that takes ``transport`` runs over tcp, ipc and inproc. inproc links
sockets of one trio_zmq Context, so a libzmq peer cannot take part: the
inproc runs of a test parametrised with a libzmq peer (any parameter whose
value is ``"libzmq"``) are not collected (they are reported as deselected).
A test whose peer is always libzmq parametrises ``transport`` itself, with
``helpers.libzmq_transports``.

Two marks leave some runs out with a reason (``pytest.skip`` inside a trio
test loses its reason):

* ``@pytest.mark.transport_skip(*transports, reason=..., **params)`` skips the
  runs over ``transports`` whose other parameters have the values ``params``
  gives (all runs over them if none);
* ``@pytest.mark.transport_xfail(...)``, the same arguments, marks those runs
  ``xfail(strict=True)``: a known bug of trio_zmq on that transport.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, settings

from .helpers import TRANSPORTS, release_all_endpoints, remove_ipc_dir

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _free_held_ports() -> Iterator[None]:
    """The ports ``free_endpoint`` reserved for a test are freed when it ends."""
    yield
    release_all_endpoints()


@pytest.fixture(params=TRANSPORTS, ids=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """The transport a pattern test runs over: "tcp", "ipc" or "inproc"."""
    param: str = request.param
    return param


@pytest.fixture
def zctx() -> Iterator[zmq.Context[Any]]:
    """A pyzmq context for the test's libzmq peers, destroyed with linger 0."""
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    remove_ipc_dir()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "transport_skip(*transports, reason, **params): skip the runs over these transports",
    )
    config.addinivalue_line(
        "markers",
        "transport_xfail(*transports, reason, **params): a known bug over these transports",
    )


def _params(item: pytest.Item) -> dict[str, object]:
    callspec = getattr(item, "callspec", None)
    return {} if callspec is None else dict(callspec.params)


def _inproc_with_libzmq(item: pytest.Item) -> bool:
    params = _params(item)
    return params.get("transport") == "inproc" and "libzmq" in params.values()


def _applies(mark: pytest.Mark, params: dict[str, object]) -> bool:
    if params.get("transport") not in mark.args:
        return False
    conditions = {k: v for k, v in mark.kwargs.items() if k != "reason"}
    return all(params.get(k) == v for k, v in conditions.items())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the inproc runs with a libzmq peer; apply the transport marks."""
    deselected = [item for item in items if _inproc_with_libzmq(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not _inproc_with_libzmq(item)]
    for item in items:
        params = _params(item)
        for mark in item.iter_markers("transport_skip"):
            if _applies(mark, params):
                item.add_marker(pytest.mark.skip(reason=mark.kwargs["reason"]))
        for mark in item.iter_markers("transport_xfail"):
            if _applies(mark, params):
                item.add_marker(pytest.mark.xfail(reason=mark.kwargs["reason"], strict=True))
