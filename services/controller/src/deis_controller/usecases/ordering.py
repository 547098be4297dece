"""The ACME conversation of one issuer pass: account, orders, HTTP-01 answers, certificates.

certbot's `acme` library speaks the protocol (JWS, nonces, problem documents); it is
synchronous (requests), so every method here blocks and the issuer calls it through
`asyncio.to_thread`. Nothing here touches the database or NATS: `app.issuing` stores what
these calls return, between them, so an order survives a restart.

Failures come out as `OrderFailed`, which carries what the user is shown (the ACME problem
`type` and `detail`), the server's `Retry-After` when it sent one (rate limits), and whether
the stored order is dead (invalid, gone) and a new one must be placed next time.

Resuming an order by its URL reads it and its authorizations with the library's POST-as-GET
helpers (`_post_as_get`, `_authzr_from_response`): the library has no public call for an
order it did not create in this process.
"""

import datetime as dt
import email.utils
from dataclasses import dataclass, field
from typing import Any

import requests
from acme import challenges, client, crypto_util, errors as acme_errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from josepy import jwa, jwk

USER_AGENT = "deis-controller"


class OrderFailed(Exception):
    """An ACME step failed; `str()` is the reason shown to the user."""

    def __init__(self, reason: str, *, retry_after: float | None = None, dead: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        """Seconds the server asked to wait (`Retry-After`), if it did."""
        self.dead = dead
        """Whether the order can never complete (a new one must be placed)."""


@dataclass(frozen=True)
class Answer:
    """One HTTP-01 challenge to publish (KV `challenges`) and then answer."""

    token: str
    key_authorization: str
    challenge: messages.ChallengeBody


@dataclass(frozen=True)
class Order:
    """An open order, as far as this pass knows it."""

    url: str
    status: str
    resource: messages.OrderResource
    answers: list[Answer] = field(default_factory=list)
    """The HTTP-01 challenges of authorizations still pending."""


def new_account_key() -> str:
    """A fresh account key (RSA 2048), as JWK JSON to store."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text: str = jwk.JWKRSA(key=key).json_dumps()
    return text


def new_certificate_key() -> str:
    """A fresh private key (RSA 2048, PEM) for one certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


class _Network(client.ClientNetwork):
    """`ClientNetwork` remembering the last `Retry-After`, which the library's errors drop."""

    retry_after: str | None = None

    def _send_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        response = super()._send_request(method, url, *args, **kwargs)
        self.retry_after = response.headers.get("Retry-After")
        return response


def _seconds(header: str | None) -> float | None:
    """`Retry-After` (seconds or an HTTP date) as seconds from now."""
    if not header:
        return None
    if header.strip().isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _problem(error: messages.Error) -> str:
    kind = (error.typ or "").removeprefix("urn:ietf:params:acme:error:")
    return f"{kind}: {error.detail}" if error.detail else kind or str(error)


class Conversation:
    """An ACME client bound to one directory and account, for one pass (blocking calls)."""

    def __init__(
        self,
        *,
        directory: str,
        account_key: str,
        account_uri: str | None,
        ca_bundle: str | None,
        email: str | None,
        timeout: float,
    ) -> None:
        """Prepare; nothing is sent until `connect`."""
        self._directory_url = directory
        self._key = jwk.JWKRSA.json_loads(account_key)
        self._account_uri = account_uri
        self._ca_bundle = ca_bundle
        self._email = email
        self._timeout = timeout
        self._net: _Network | None = None
        self._client: client.ClientV2 | None = None

    @property
    def account_uri(self) -> str | None:
        """The account's URL, once registered or found."""
        return self._account_uri

    def _fail(self, exc: BaseException, *, dead: bool = False) -> OrderFailed:
        retry_after = _seconds(self._net.retry_after) if self._net else None
        if isinstance(exc, messages.Error):
            return OrderFailed(_problem(exc), retry_after=retry_after, dead=dead)
        if isinstance(exc, acme_errors.ValidationError):
            reasons = [
                f"{authzr.body.identifier.value}: {_problem(chall.error)}"
                for authzr in exc.failed_authzrs
                for chall in authzr.body.challenges
                if chall.error is not None
            ]
            return OrderFailed("validation failed: " + "; ".join(reasons), dead=True)
        if isinstance(exc, acme_errors.IssuanceError):
            return OrderFailed(_problem(exc.error), dead=True)
        if isinstance(exc, acme_errors.TimeoutError):
            return OrderFailed(f"the order was not done within {self._timeout:g} s")
        if isinstance(exc, requests.RequestException):
            return OrderFailed(f"cannot reach the ACME server: {exc}")
        return OrderFailed(f"ACME: {exc!r}", retry_after=retry_after, dead=dead)

    def _acme(self) -> client.ClientV2:
        assert self._client is not None, "connect first"
        return self._client

    def connect(self) -> None:
        """Read the directory and register the account, or find it by its key.

        Raises:
            OrderFailed: The server cannot be reached or refuses the account.
        """
        verify: Any = self._ca_bundle or True  # requests takes a CA file path as `verify`
        net = _Network(key=self._key, alg=jwa.RS256, verify_ssl=verify, user_agent=USER_AGENT)
        self._net = net
        try:
            directory = client.ClientV2.get_directory(self._directory_url, net)
            acme = client.ClientV2(directory, net)
            # Registering again with the same key is how RFC 8555 finds an account (§7.3.1);
            # it also makes a new one should the server have lost it.
            contact = (f"mailto:{self._email}",) if self._email else ()
            registration = messages.NewRegistration(contact=contact, terms_of_service_agreed=True)
            try:
                self._account_uri = acme.new_account(registration).uri
            except acme_errors.ConflictError as exc:  # registered already, under this key
                net.account = messages.RegistrationResource(
                    uri=exc.location, body=messages.Registration()
                )
                self._account_uri = exc.location
        except (acme_errors.Error, requests.RequestException) as exc:
            raise self._fail(exc) from exc
        self._client = acme

    def place(self, *, domain: str, key_pem: str) -> Order:
        """A new order for `domain`, with a CSR of `key_pem`.

        Raises:
            OrderFailed: Refused (rate limit, policy) or unreachable.
        """
        csr = crypto_util.make_csr(key_pem.encode(), [domain])
        try:
            resource = self._acme().new_order(csr)
        except (acme_errors.Error, requests.RequestException) as exc:
            raise self._fail(exc) from exc
        assert resource.uri is not None
        return self._order(resource.uri, resource)

    def resume(self, *, url: str, domain: str, key_pem: str) -> Order:
        """The stored order `url`, read again.

        Raises:
            OrderFailed: Gone, invalid (`dead`), or unreachable.
        """
        acme = self._acme()
        try:
            response = acme._post_as_get(url)  # see the module docstring
            body = messages.Order.from_json(response.json())
            authorizations = [
                acme._authzr_from_response(acme._post_as_get(authz), uri=authz)
                for authz in body.authorizations
            ]
        except messages.Error as exc:
            raise self._fail(exc, dead=True) from exc
        except (acme_errors.Error, requests.RequestException) as exc:
            raise self._fail(exc) from exc
        if body.status == messages.STATUS_INVALID:
            raise OrderFailed(
                _problem(body.error) if body.error else "the order became invalid", dead=True
            )
        csr = crypto_util.make_csr(key_pem.encode(), [domain])
        resource = messages.OrderResource(
            body=body, uri=url, authorizations=authorizations, csr_pem=csr
        )
        return self._order(url, resource)

    def _order(self, url: str, resource: messages.OrderResource) -> Order:
        answers = []
        for authzr in resource.authorizations:
            if authzr.body.status != messages.STATUS_PENDING:
                continue
            for challb in authzr.body.challenges:
                if isinstance(challb.chall, challenges.HTTP01) and challb.status in (
                    messages.STATUS_PENDING,
                    None,
                ):
                    response, validation = challb.response_and_validation(self._key)
                    del response
                    answers.append(
                        Answer(
                            token=challb.chall.encode("token"),
                            key_authorization=validation,
                            challenge=challb,
                        )
                    )
        return Order(url=url, status=str(resource.body.status), resource=resource, answers=answers)

    def answer(self, answer: Answer) -> None:
        """Tell the server the answer of `answer` is published.

        Raises:
            OrderFailed: Refused or unreachable.
        """
        try:
            self._acme().answer_challenge(answer.challenge, answer.challenge.response(self._key))
        except (acme_errors.Error, requests.RequestException) as exc:
            raise self._fail(exc) from exc

    def finish(self, order: Order) -> str:
        """Wait for validation, finalize, and fetch the certificate chain (PEM).

        Raises:
            OrderFailed: Validation failed or issuance refused (`dead`), or not done in time.
        """
        acme = self._acme()
        # acme compares its deadlines with naive local time
        deadline = dt.datetime.now() + dt.timedelta(seconds=self._timeout)  # noqa: DTZ005
        try:
            resource = order.resource
            if order.status == str(messages.STATUS_PENDING):
                resource = acme.poll_authorizations(resource, deadline)
            if order.status in (str(messages.STATUS_PENDING), str(messages.STATUS_READY)):
                resource = acme.finalize_order(resource, deadline)
            else:  # processing or valid: the CSR was sent before a restart
                resource = acme.poll_finalization(resource, deadline)
        except messages.Error as exc:  # finalization refused (a bad CSR, an invalid order)
            raise self._fail(exc, dead=True) from exc
        except (acme_errors.Error, requests.RequestException) as exc:
            raise self._fail(exc) from exc
        if not resource.fullchain_pem:
            raise OrderFailed("the ACME server gave no certificate")
        chain: str = resource.fullchain_pem
        return chain
