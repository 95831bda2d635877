"""Fixtures for the privacy tests over HTTP: a two-site gateway whose tenants follow a personal-data
policy of the test's choosing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, two_site_deployment


@pytest.fixture
def site_with_pii(
    gateway_factory: Callable[..., RunningGateway], fake_lu: FakeBackend, fake_fr: FakeBackend
) -> Callable[[Any], RunningGateway]:
    """Starts `two_site_deployment` on the fakes with this `pii` setting for every tenant."""

    def start(pii: Any) -> RunningGateway:
        return gateway_factory(two_site_deployment(fake_lu.url, fake_fr.url, pii=pii))

    return start
