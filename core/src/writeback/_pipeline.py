"""Assembling type -> format(auth) for one connector, and running one attempt.

The pipeline is the only place the three plugin kinds meet.  It owns what must
be the same for every combination: the attempt's credentials taken from the auth
mechanism once per attempt (secrets revealed then) and handed to the format, one
resend after a 401 when those credentials say a fresh one is worth it, plugin
failures turned into attempt results, and secrets removed from every error text.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ._attempt_auth import AttemptAuth
from ._errors import AttemptError
from ._interfaces import (
    ApiFormat,
    AttemptResult,
    AuthMechanism,
    BatchRefused,
    ConnectorType,
    Delivery,
    OutboundMessage,
    Outcome,
    PipelineContext,
    ProbeReport,
)
from ._outcome import with_code
from ._secrets import REDACTOR, secret_safe_logger
from ._validation import ValidatedConnector

if TYPE_CHECKING:
    from .store._tokens import TokenStore

__all__ = ["CODE_PLUGIN_BUG", "CODE_PLUGIN_SETUP", "Pipeline"]

#: A plugin's factory raised: the pipeline could not be set up.
CODE_PLUGIN_SETUP = "WB-398"
#: A plugin (or the worker around it) raised something unexpected while sending.
CODE_PLUGIN_BUG = "WB-399"

log = secret_safe_logger("writeback.pipeline")


class Pipeline:
    """The working objects for one connector: built once, used for many deliveries."""

    def __init__(
        self,
        connector: ValidatedConnector,
        connector_type: ConnectorType,
        api_format: ApiFormat,
        auth: AuthMechanism,
    ) -> None:
        self.connector = connector
        self.connector_type = connector_type
        self.api_format = api_format
        self.auth = auth
        #: A format written before ``send(message, auth)`` reads ``context.auth`` itself.
        self._legacy_format = not _takes_auth(api_format)
        if self._legacy_format:
            warnings.warn(
                f"API format {connector.format_spec.name!r}: send(message) is deprecated; "
                "accept send(message, auth) and attach auth.headers() "
                "(docs/plugin-api.md, AttemptAuth)",
                DeprecationWarning,
                stacklevel=2,
            )
        #: Deliveries the worker may send in one request (``send_batch``): the type's
        #: ``batch_limit`` when the format can send a batch, else 1.  Set to 1 for
        #: good when the endpoint refuses a batch as such (``BatchRefused``).
        self.batch_limit = _batch_limit(connector_type, api_format)

    @classmethod
    def build(
        cls, connector: ValidatedConnector, *, token_store: TokenStore | None = None
    ) -> Pipeline:
        """Call the three factories; this is where plugins import their libraries.

        :param token_store: the database's token store (``Store.tokens``), so that
            worker processes share one token per connector; ``None`` keeps tokens
            in this process.
        :raises AttemptError: when a secret cannot be revealed or a factory fails.
        """
        context = connector.context(token_store=token_store)
        auth = _set_up("auth method", connector.auth_spec, context)
        connector_type = _set_up("connector type", connector.type_spec, context)
        api_format = _set_up("API format", connector.format_spec, replace(context, auth=auth))
        return cls(connector, connector_type, api_format, auth)

    async def attempt_auth(self) -> AttemptAuth:
        """The credentials of one attempt, from the auth mechanism."""
        obtain = getattr(self.auth, "attempt_auth", None)
        if obtain is None:  # a mechanism that does not subclass AuthMechanismBase
            from ._attempt_auth import legacy_attempt_auth

            return legacy_attempt_auth(self.auth)
        auth = await obtain()
        if not isinstance(auth, AttemptAuth):
            raise TypeError(
                f"auth method {self.connector.auth_spec.name!r}: attempt_auth returned "
                f"{type(auth).__name__}, not AttemptAuth"
            )
        return auth

    async def _send(self, message: OutboundMessage, auth: AttemptAuth) -> AttemptResult:
        if self._legacy_format:
            return await self.api_format.send(message)  # type: ignore[call-arg]
        return await self.api_format.send(message, auth)

    def _message(self, delivery: Delivery) -> OutboundMessage:
        message = self.connector_type.build_message(delivery)
        if not isinstance(message, OutboundMessage):
            raise TypeError(
                f"connector type {self.connector.type_spec.name!r}: build_message returned "
                f"{type(message).__name__}, not OutboundMessage"
            )
        return message

    async def send(self, delivery: Delivery) -> AttemptResult:
        """One attempt: build the message, take the credentials, send, review the answer."""
        try:
            message = self._message(delivery)
            auth = await self.attempt_auth()
            result = await self._send(message, auth)
            # The object that attached the refused credential replaces exactly that one.
            if result.status_code == 401 and await auth.refresh_after_401():
                log.info(
                    "connector %s: 401, resending once with fresh credentials", self.connector.name
                )
                result = await self._send(message, auth)
            result = self.connector_type.review(result)
        except Exception as exc:
            result = self._failure(exc)
        return _finished(result)

    async def send_batch(self, deliveries: Sequence[Delivery]) -> list[AttemptResult]:
        """One attempt of each delivery, in one request when ``batch_limit`` allows
        (the type's ``build_batch``, the format's ``send_batch``); one result each,
        in order.  A whole-batch 401 refreshes the credentials once, as ``send``
        does; a batch the endpoint refuses as such is sent one request at a time,
        and so is everything after it (said once, as a warning)."""
        results: list[AttemptResult | None] = [None] * len(deliveries)
        messages: dict[int, OutboundMessage] = {}
        for i, delivery in enumerate(deliveries):
            try:
                messages[i] = self._message(delivery)
            except Exception as exc:  # this delivery's own problem: the others still go
                results[i] = _finished(self._failure(exc))
        if len(messages) < 2 or self.batch_limit < 2:
            for i in messages:
                results[i] = await self.send(deliveries[i])
            return [r for r in results if r is not None]
        try:
            answers = await self._send_batch(list(messages.values()))
        except BatchRefused as exc:
            if self.batch_limit > 1:
                log.warning(
                    "connector %s: the endpoint refused a batch request (%s); sending one "
                    "request per delivery from now on",
                    self.connector.name,
                    REDACTOR.redact(str(exc)),
                )
            self.batch_limit = 1
            for i in messages:
                results[i] = await self.send(deliveries[i])
            return [r for r in results if r is not None]
        except Exception as exc:
            answers = [self._failure(exc)] * len(messages)
        for i, answer in zip(messages, answers, strict=True):
            results[i] = _finished(answer)
        return [r for r in results if r is not None]

    async def _send_batch(self, messages: list[OutboundMessage]) -> list[AttemptResult]:
        auth = await self.attempt_auth()
        batch = self.connector_type.build_batch(messages)  # type: ignore[attr-defined]
        answer = await self.api_format.send_batch(batch, auth)  # type: ignore[attr-defined]
        whole_401 = isinstance(answer, AttemptResult) and answer.status_code == 401
        if whole_401 and await auth.refresh_after_401():
            log.info(
                "connector %s: 401 for a batch, resending it once with fresh credentials",
                self.connector.name,
            )
            answer = await self.api_format.send_batch(batch, auth)  # type: ignore[attr-defined]
        if isinstance(answer, AttemptResult):  # the batch answered as a whole
            answers = [answer] * len(messages)
        else:
            answers = list(answer)
            if len(answers) != len(messages) or not all(
                isinstance(a, AttemptResult) for a in answers
            ):
                raise TypeError(
                    f"API format {self.connector.format_spec.name!r}: send_batch returned "
                    f"{len(answers)} results for {len(messages)} messages"
                )
        return [self.connector_type.review(a) for a in answers]

    def _failure(self, exc: Exception) -> AttemptResult:
        """What an exception while sending comes to: an ``AttemptError`` as the
        result it stands for; anything else a plugin bug, recorded, never raised."""
        if isinstance(exc, AttemptError):
            return attempt_error_result(exc)
        log.error("connector %s: plugin error", self.connector.name, exc_info=exc)
        return AttemptResult(
            Outcome.FAILED,
            error=f"{CODE_PLUGIN_BUG}: internal error in a plugin: {exc!r}",
            code=CODE_PLUGIN_BUG,
        )

    async def probe(self) -> ProbeReport:
        """``connectors test``: the type's side-effect-free request, judged by the type."""
        try:
            detail = await self.auth.describe()
            auth = await self.attempt_auth()
            result = await self._send(self.connector_type.probe_message(), auth)
            report = self.connector_type.judge_probe(result)
        except AttemptError as exc:
            report = ProbeReport(False, str(exc))
        else:
            if detail and report.ok:
                report = ProbeReport(True, f"{report.detail}; {detail}")
        return ProbeReport(report.ok, REDACTOR.redact(report.detail) or "")

    async def aclose(self) -> None:
        await self.api_format.aclose()


def _finished(result: AttemptResult) -> AttemptResult:
    """``result`` as recorded: secrets removed from its error, its code set."""
    if result.error:
        result = replace(result, error=REDACTOR.redact(result.error))
    return with_code(result)


def _batch_limit(connector_type: Any, api_format: Any) -> int:
    """How many deliveries one request may carry: the type's ``batch_limit``
    when it can build a batch and the format can send one, else 1."""
    limit = getattr(connector_type, "batch_limit", None)
    if not callable(limit) or not callable(getattr(api_format, "send_batch", None)):
        return 1
    try:
        return max(1, int(limit()))
    except Exception:  # a plugin bug here must not stop its deliveries: send singly
        log.exception("connector type: batch_limit() failed; sending one request each")
        return 1


def _takes_auth(api_format: Any) -> bool:
    """Whether ``api_format.send`` accepts the attempt's credentials."""
    try:
        parameters = inspect.signature(api_format.send).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def _set_up(kind: str, spec: Any, context: PipelineContext) -> Any:
    """Call one factory; a failure names the plugin (which of the three, and its distribution)."""
    try:
        return spec.factory(context)
    except AttemptError:
        raise
    except Exception as exc:
        raise AttemptError(
            f"connector {context.connector.name!r}: the {kind} {spec.name!r} "
            f"({spec.distribution or 'registered without a distribution'}) could not be set "
            f"up: {exc!r}",
            code=CODE_PLUGIN_SETUP,
        ) from exc


def attempt_error_result(exc: AttemptError) -> AttemptResult:
    """An :class:`AttemptError` as the attempt result it stands for."""
    outcome = Outcome.RETRY if exc.retryable else Outcome.FAILED
    return AttemptResult(outcome, error=REDACTOR.redact(str(exc)), code=exc.code)
