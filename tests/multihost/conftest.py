"""One federation for the package: every company in its own network namespace, proxies between them.

Skipped, with the reason, where namespaces cannot be made (not root, no
`ip netns`, no `nft`). Everything made here is removed after the package,
also when a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.harness import Driver, sign_up_drivers
from tests.live import DURABLE, FAST
from tests.multihost.federation import Federation, federation
from tests.multihost.netns import why_unavailable

_REASON = why_unavailable()
if _REASON is not None:
    pytest.skip(_REASON, allow_module_level=True)


@pytest.fixture(scope="package")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with federation(tmp_path_factory.mktemp("multihost"), {**FAST, **DURABLE}) as running:
        yield running


@pytest.fixture(scope="package")
def drivers(fed: Federation) -> list[Driver]:
    return sign_up_drivers(fed.net, per_home=2, seed=15)


@pytest.fixture(autouse=True)
def no_latency_left_over(fed: Federation) -> Iterator[None]:
    """Every test starts and ends with the plain network: no added latency, no partition, every cable in."""
    yield
    fed.set_rtt(0.0)
    for name in fed.net.companies:
        fed.hosts.heal(name)
        fed.hosts.plug(name)
