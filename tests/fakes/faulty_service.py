"""A service that fails on chosen updates, put in place through the composition root (the App a
test builds), so that fault tests run the real application around it.

`poison` says, for each update, what to raise (None: apply it normally). A persistent failure is
any error `storage.inbound_faults.is_transient` does not recognise; `database_away()` gives one
it does (the database unreachable).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from bot.app import CHANNEL_TRAITS, App
from bot.messaging import Inbound
from bot.service import Service


class PoisonError(ValueError):
    """A failure that would come back on every try (bad data, a bug)."""


def database_away() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionError("không kết nối được cơ sở dữ liệu"))


class FaultyService(Service):
    def __init__(self, app: App, poison: Callable[[Inbound], Exception | None]) -> None:
        super().__init__(app.database, app.clock, CHANNEL_TRAITS, app.desk)
        self.poison = poison
        self.failures: list[tuple[str, str]] = []  # (inbound id, error type), as they happened
        self.set_aside_error: Exception | None = None  # setting aside fails with this, if set

    def set_aside(self, inbound, payload, error, attempts):
        if self.set_aside_error is not None:
            raise self.set_aside_error
        return super().set_aside(inbound, payload, error, attempts)

    def _handle(self, tx, inbound, role_changes, **options):
        error = self.poison(inbound)
        if error is not None:
            self.failures.append((inbound.inbound_id, type(error).__name__))
            raise error
        return super()._handle(tx, inbound, role_changes, **options)


def install(poison: Callable[[Inbound], Exception | None]) -> Callable[[App], FaultyService]:
    """A `prepare` hook for the test harnesses: the App's service becomes a faulty one."""

    def prepare(app: App) -> FaultyService:
        app.service = FaultyService(app, poison)
        return app.service

    return prepare
