"""The SMS sender as the outbox worker sees it, counting each provider answer.

A wrapper rather than a call in the worker: the worker's retry and claim logic stays
as it is, and what is counted is exactly what the provider answered, one per call.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.providers.sender import SendResult, SmsSender


class MeteredSender:
    """:class:`SmsSender` that reports every result of ``inner`` to ``on_result``
    (``None`` when ``inner`` raised, which the worker retries as a transient failure)."""

    def __init__(self, inner: SmsSender, on_result: Callable[[SendResult | None], None]) -> None:
        self.inner = inner
        self._on_result = on_result

    async def send(self, to: str, body: str) -> SendResult:
        try:
            result = await self.inner.send(to, body)
        except Exception:
            self._on_result(None)
            raise
        self._on_result(result)
        return result

    async def close(self) -> None:
        await self.inner.close()
