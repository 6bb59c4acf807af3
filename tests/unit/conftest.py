"""Fixtures shared by the operator use cases' unit tests (accounts and reads): the
sample registry in a fake store, a clock, and both services over them. A test module that
defines a fixture of the same name uses its own."""

from __future__ import annotations

import pytest

from core.codes import SecretHasher, SystemSecrets
from core.operators.lifecycle import OperatorLifecycle
from core.operators.passes import OperatorService
from fakes.clock import FakeClock
from fakes.ports import FakeUnitOfWorkFactory, Store
from tests.unit.sample_registry import KEY, load_sample


@pytest.fixture
def store() -> Store:
    s = Store()
    load_sample(s)
    return s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(store: Store, clock: FakeClock) -> OperatorLifecycle:
    return OperatorLifecycle(
        FakeUnitOfWorkFactory(store), clock, SecretHasher(KEY), SystemSecrets()
    )


@pytest.fixture
def service(store: Store, clock: FakeClock) -> OperatorService:
    return OperatorService(FakeUnitOfWorkFactory(store), clock)
