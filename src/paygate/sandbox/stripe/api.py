"""The HTTP side of Stripe's v1 API: authentication, form decoding, idempotency, the
harness's faults, ``expand``, error responses and headers, around the operations of each
resource. Operations (the fault keys) are ``<resource>.<verb>``: :data:`OPERATIONS`."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from paygate.sandbox.harness import InjectedFault

from .errors import StripeError, from_fault, invalid_param
from .idempotency import Idempotency
from .params import Params
from .resources import balance, charges, events, payment_intents, payment_methods, refunds
from .state import PaymentIntent
from .store import DEFAULT_API_VERSION, Account, Cause
from .wire import FormError, decode, dump_json, request_id

__all__ = ["BILL_DAMAGE", "OPERATIONS", "StripeApi"]

#: The ``bills.damage`` kinds a Stripe bill can show. Its "bill" is an API answer (JSON over
#: TLS): no file, no checksum, no encoding to get wrong — only the answer to ``GET
#: /v1/balance_transactions`` cut short (``truncate``: its body ends halfway).
BILL_DAMAGE: Final = ("truncate",)
#: The operation whose answers are the bill ``bills.damage`` spoils.
_BILL_OPERATION: Final = "balance_transactions.list"

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z_]+)?$")
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_PUBLISHABLE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. "
    "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)


@dataclass(frozen=True)
class Call:
    params: Params
    ident: str
    cause: Cause


Handler = Callable[[Account, Call], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str
    handler: Handler
    publishable: bool = False  # may be called with the publishable key (+ client_secret)


def _operations() -> list[Operation]:
    pi, ev, bal = payment_intents, events, balance
    return [
        Operation("POST", "/v1/payment_intents", "payment_intents.create",
                  lambda a, c: pi.create(a, c.params, c.cause)),
        Operation("GET", "/v1/payment_intents", "payment_intents.list",
                  lambda a, c: pi.list_intents(a, c.params)),
        Operation("GET", "/v1/payment_intents/{ident}", "payment_intents.retrieve",
                  lambda a, c: pi.retrieve(a, c.params, c.ident), publishable=True),
        Operation("POST", "/v1/payment_intents/{ident}", "payment_intents.update",
                  lambda a, c: pi.update(a, c.params, c.ident, c.cause)),
        Operation("POST", "/v1/payment_intents/{ident}/confirm", "payment_intents.confirm",
                  lambda a, c: pi.confirm(a, c.params, c.ident, c.cause), publishable=True),
        Operation("POST", "/v1/payment_intents/{ident}/cancel", "payment_intents.cancel",
                  lambda a, c: pi.cancel(a, c.params, c.ident, c.cause)),
        Operation("POST", "/v1/payment_methods", "payment_methods.create",
                  lambda a, c: payment_methods.create(a, c.params), publishable=True),
        Operation("GET", "/v1/payment_methods/{ident}", "payment_methods.retrieve",
                  lambda a, c: payment_methods.retrieve(a, c.params, c.ident)),
        Operation("GET", "/v1/charges", "charges.list", lambda a, c: charges.list_charges(a, c.params)),
        Operation("GET", "/v1/charges/{ident}", "charges.retrieve",
                  lambda a, c: charges.retrieve(a, c.params, c.ident)),
        Operation("POST", "/v1/refunds", "refunds.create",
                  lambda a, c: refunds.create(a, c.params, c.cause)),
        Operation("GET", "/v1/refunds", "refunds.list",
                  lambda a, c: refunds.list_refunds(a, c.params)),
        Operation("GET", "/v1/refunds/{ident}", "refunds.retrieve",
                  lambda a, c: refunds.retrieve(a, c.params, c.ident)),
        Operation("POST", "/v1/refunds/{ident}", "refunds.update",
                  lambda a, c: refunds.update(a, c.params, c.ident)),
        Operation("GET", "/v1/events", "events.list", lambda a, c: ev.list_events(a, c.params)),
        Operation("GET", "/v1/events/{ident}", "events.retrieve",
                  lambda a, c: ev.retrieve_event(a, c.params, c.ident)),
        Operation("GET", "/v1/balance", "balance.retrieve", lambda a, c: bal.get_balance(a, c.params)),
        Operation("GET", "/v1/balance_transactions", "balance_transactions.list",
                  lambda a, c: bal.list_balance_transactions(a, c.params)),
        Operation("GET", "/v1/balance_transactions/{ident}", "balance_transactions.retrieve",
                  lambda a, c: bal.retrieve_balance_transaction(a, c.params, c.ident)),
        Operation("GET", "/v1/payouts", "payouts.list", lambda a, c: bal.list_payouts(a, c.params)),
        Operation("GET", "/v1/payouts/{ident}", "payouts.retrieve",
                  lambda a, c: bal.retrieve_payout(a, c.params, c.ident)),
        Operation("POST", "/v1/webhook_endpoints", "webhook_endpoints.create",
                  lambda a, c: ev.create_webhook_endpoint(a, c.params)),
        Operation("GET", "/v1/webhook_endpoints", "webhook_endpoints.list",
                  lambda a, c: ev.list_webhook_endpoints(a, c.params)),
        Operation("GET", "/v1/webhook_endpoints/{ident}", "webhook_endpoints.retrieve",
                  lambda a, c: ev.retrieve_webhook_endpoint(a, c.params, c.ident)),
        Operation("POST", "/v1/webhook_endpoints/{ident}", "webhook_endpoints.update",
                  lambda a, c: ev.update_webhook_endpoint(a, c.params, c.ident)),
        Operation("DELETE", "/v1/webhook_endpoints/{ident}", "webhook_endpoints.delete",
                  lambda a, c: ev.delete_webhook_endpoint(a, c.params, c.ident)),
    ]  # fmt: skip


#: Every operation's name: what faults are keyed by.
OPERATIONS: Final = frozenset(op.name for op in _operations())


def _mask(key: str) -> str:
    head, _, rest = key.rpartition("_")
    prefix = head + "_" if head else ""
    return prefix + "*" * max(len(rest) - 4, 0) + rest[-4:]


def _route_path(request: Request) -> str:
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class StripeApi:
    def __init__(
        self,
        account: Account,
        idempotency: Idempotency,
        extra_keys: Callable[[], set[str]],
    ) -> None:
        self.account = account
        self.faults = account.harness.faults
        self.idempotency = idempotency
        self._extra_keys = extra_keys

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route(op.path, self._endpoint(op), methods=[op.method]) for op in _operations()
        ]
        methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
        routes.append(Route("/v1/{rest:path}", self._unrecognized, methods=methods))
        return routes

    # -- plumbing --------------------------------------------------------------------------

    def _respond(
        self, status: int, body: bytes, headers: dict[str, str], extra: dict[str, str] | None = None
    ) -> Response:
        merged = {
            "Cache-Control": "no-cache, no-store",
            "Access-Control-Allow-Origin": "*",
            **headers,
            **(extra or {}),
        }
        return Response(body, status_code=status, media_type="application/json", headers=merged)

    @staticmethod
    def _json(value: dict[str, Any]) -> bytes:
        return dump_json(value)

    def _error(self, error: StripeError, headers: dict[str, str]) -> Response:
        body = self._json(error.body(headers.get("Request-Id")))
        return self._respond(error.status, body, headers, error.headers)

    async def _unrecognized(self, request: Request) -> Response:
        rid = request_id()
        error = StripeError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({request.method}: {_route_path(request)}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )
        return self._error(error, {"Request-Id": rid, "Stripe-Version": DEFAULT_API_VERSION})

    def _authenticate(self, request: Request) -> tuple[str, bool]:
        """The API key and whether it is the publishable one; 401s otherwise."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        key = value.strip()
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(key).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if not key:
            raise StripeError(401, "invalid_request_error", _NO_KEY)
        keys = self.account.keys
        if key == keys.publishable_key:
            return key, True
        if key == keys.secret_key.reveal() or key in self._extra_keys():
            return key, False
        raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {_mask(key)}")

    def _check_account(self, request: Request, api_key: str) -> None:
        """Connect's ``Stripe-Account``: this account has no connected accounts."""
        account = request.headers.get("stripe-account")
        if account and account != self.account.keys.account_id:
            raise StripeError(
                403,
                "invalid_request_error",
                f"The provided key '{_mask(api_key)}' does not have access to account "
                f"'{account}' (or that account does not exist). Application access may have "
                "been revoked.",
                code="account_invalid",
            )

    @staticmethod
    async def _params(request: Request) -> Params:
        try:
            values = decode(request.url.query)
            if request.method == "POST":
                values.update(decode(await request.body()))
        except FormError as exc:
            raise invalid_param(str(exc), exc.param) from None
        return Params(values)

    def _check_client_secret(self, op: Operation, call: Call) -> None:
        if op.name.startswith("payment_methods."):
            return
        secret = call.params.string("client_secret", required=True)
        intent = self.account.store.typed(call.ident, PaymentIntent)
        if intent is None or secret != intent.client_secret:
            raise invalid_param(
                "The client_secret provided does not match any associated PaymentIntent on "
                "this account. Ensure the publishable key used belongs to the same account "
                "that created the PaymentIntent.",
                "client_secret",
            )

    def _execute(self, op: Operation, call: Call) -> tuple[int, bytes, bool]:
        """Run the operation: (status, body, whether idempotency keeps the result)."""
        try:
            result = op.handler(self.account, call)
            result = self.account.store.expand(result, call.params.expand())
        except StripeError as error:
            return error.status, self._json(error.body(call.cause.request_id)), error.saved
        body = self._json(result)
        if op.name == _BILL_OPERATION:
            body = self.faults.bills().spoil(body)  # reconciliation tests: a bill cut short
        return 200, body, True

    # -- the endpoint ------------------------------------------------------------------------

    def _endpoint(self, op: Operation) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            rid = request_id()
            version = request.headers.get("stripe-version") or DEFAULT_API_VERSION
            headers = {"Request-Id": rid, "Stripe-Version": version}
            key_header = request.headers.get("idempotency-key")
            if request.method == "POST" and key_header:
                headers["Idempotency-Key"] = key_header
            try:
                if not _VERSION.match(version):
                    raise StripeError(400, "invalid_request_error", f"Invalid Stripe API version: {version}")
                api_key, publishable = self._authenticate(request)
                self._check_account(request, api_key)
                params = await self._params(request)
                idem_key = key_header if request.method == "POST" else None
                call = Call(params, request.path_params.get("ident", ""), Cause(rid, idem_key))
                if publishable:
                    if not op.publishable:
                        raise StripeError(401, "invalid_request_error", _PUBLISHABLE)
                    self._check_client_secret(op, call)
            except StripeError as error:
                return self._error(error, headers)
            if idem_key is None:
                return await self._run(op, call, headers, None)
            endpoint_name = f"{request.method} {_route_path(request)}"
            try:
                saved = self.idempotency.begin(api_key, idem_key, endpoint_name, params.values)
            except StripeError as error:
                return self._error(error, headers)
            if saved is not None:
                replay = {"Idempotent-Replayed": "true", "Original-Request": saved.request_id}
                return self._respond(saved.status, saved.body, headers, replay)
            try:
                return await self._run(op, call, headers, (api_key, idem_key, endpoint_name, params.values))
            finally:
                self.idempotency.finish(api_key, idem_key)

        return endpoint

    async def _run(
        self,
        op: Operation,
        call: Call,
        headers: dict[str, str],
        idem: tuple[str, str, str, dict[str, Any]] | None,
    ) -> Response:
        """The operation under the harness's faults. What takes effect — the operation and
        saving its result under the Idempotency-Key — happens inside, so an error injected
        *after* the effect leaves a result for the client's retry to find."""

        async def execute() -> tuple[int, bytes]:
            status, body, keep = self._execute(op, call)
            if idem is not None and keep:
                api_key, key, endpoint_name, values = idem
                self.idempotency.save(
                    api_key, key, endpoint_name, values, status, body, headers["Request-Id"]
                )
            return status, body

        try:
            status, body = await self.faults.around(op.name, execute)
        except InjectedFault as fault:
            return self._error(from_fault(fault.fields), headers)
        return self._respond(status, body, headers)
