"""Both routes Twilio calls check its signature the same way (bot/sms/signature.py),
including the algorithm its ``X-Twilio-Webhooks-Signature-Settings`` header names:
HMAC-SHA256 for webhooks signed with a shared key, HMAC-SHA1 when the header is absent.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
)

from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN, AppClient
from tests.e2e.sms.test_sms_inbound import HOLDER, Handset, messages_in

SETTINGS = "key=webhooks_sharedkey_0123,algorithm={algorithm}"


def inbound_form(client: AppClient) -> dict[str, str]:
    return Handset(client).form("說明")


def status_form(_client: AppClient) -> dict[str, str]:
    return {"MessageSid": f"SM{uuid.uuid4().hex}", "MessageStatus": "delivered", "To": HOLDER}


ROUTES = [("/sms/inbound", inbound_form, 200), ("/sms/status", status_form, 200)]


async def post(
    client: AppClient,
    path: str,
    form: dict[str, str],
    *,
    signed_with: str,
    header_says: str | None,
) -> int:
    validator = RequestValidator(TWILIO_TOKEN)
    headers = {
        SIGNATURE_HEADER: validator.compute_signature(PUBLIC_BASE_URL + path, form, signed_with)
    }
    if header_says is not None:
        headers[SIGNATURE_SETTINGS_HEADER] = SETTINGS.format(algorithm=header_says)
    response = await client.post(path, data=form, headers=headers)
    if path == "/sms/inbound" and response.status == 200:
        assert messages_in(await response.text())  # really answered: the help text
    return response.status


@pytest.mark.parametrize(("path", "make_form", "accepted"), ROUTES)
async def test_a_webhook_signed_with_hmac_sha256_is_accepted_on_both_routes(
    client: AppClient, path: str, make_form, accepted: int
) -> None:
    form = make_form(client)
    status = await post(client, path, form, signed_with=HMAC_SHA256, header_says=HMAC_SHA256)
    assert status == accepted


@pytest.mark.parametrize(("path", "make_form", "accepted"), ROUTES)
async def test_the_legacy_sha1_signature_without_the_header_is_accepted(
    client: AppClient, path: str, make_form, accepted: int
) -> None:
    status = await post(client, path, make_form(client), signed_with=HMAC_SHA1, header_says=None)
    assert status == accepted


@pytest.mark.parametrize(("path", "make_form", "_accepted"), ROUTES)
@pytest.mark.parametrize(
    ("signed_with", "header_says"),
    [
        (HMAC_SHA1, HMAC_SHA256),  # the header names another algorithm than the one used
        (HMAC_SHA256, None),  # SHA-256 without saying so
        (HMAC_SHA256, "HMAC_MD5"),  # an algorithm nobody supports
    ],
)
async def test_a_signature_that_does_not_match_the_named_algorithm_is_refused(
    client: AppClient,
    path: str,
    make_form,
    _accepted: int,
    signed_with: str,
    header_says: str | None,
) -> None:
    status = await post(
        client, path, make_form(client), signed_with=signed_with, header_says=header_says
    )
    assert status == 403


@pytest.mark.parametrize(("path", "make_form", "accepted"), ROUTES)
@pytest.mark.parametrize("algorithm", [HMAC_SHA1, HMAC_SHA256])
async def test_a_signature_over_the_url_with_its_default_port_is_accepted(
    client: AppClient, path: str, make_form, accepted: int, algorithm: str
) -> None:
    """Twilio's back end has signed ``https://host:443/...`` as well as ``https://host/...``
    for the same webhook: both are Twilio's. (The check tries the URL as configured
    first, then the package's full check with and without the port.)"""
    form = make_form(client)
    url = PUBLIC_BASE_URL.replace("pp.example.tw", "pp.example.tw:443") + path
    headers = {
        SIGNATURE_HEADER: RequestValidator(TWILIO_TOKEN).compute_signature(url, form, algorithm)
    }
    if algorithm == HMAC_SHA256:
        headers[SIGNATURE_SETTINGS_HEADER] = SETTINGS.format(algorithm=algorithm)
    response = await client.post(path, data=form, headers=headers)
    assert response.status == accepted


@pytest.mark.parametrize(("path", "make_form", "_accepted"), ROUTES)
async def test_a_signature_made_with_another_token_is_refused(
    client: AppClient, path: str, make_form, _accepted: int
) -> None:
    form = make_form(client)
    url = PUBLIC_BASE_URL + path
    headers = {SIGNATURE_HEADER: RequestValidator("not-our-token").compute_signature(url, form)}
    response = await client.post(path, data=form, headers=headers)
    assert response.status == 403


# --- JSON bodies, signed by their SHA-256 (bodySHA256 in the URL) ----------------------------


def signed_json_request(
    body: bytes,
    path: str,
    *,
    token: str = TWILIO_TOKEN,
    algorithm: str = HMAC_SHA1,
    hashed: bytes | None = None,
    signed_url_base: str = PUBLIC_BASE_URL,
) -> tuple[str, dict[str, str]]:
    """The path with its query and the headers of a JSON webhook as Twilio signs one: the
    hex SHA-256 of the body in ``bodySHA256``, the signature over the URL alone."""
    digest = hashlib.sha256(body if hashed is None else hashed).hexdigest()
    path_qs = f"{path}?bodySHA256={digest}"
    signature = RequestValidator(token).compute_signature(signed_url_base + path_qs, {}, algorithm)
    headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
    if algorithm == HMAC_SHA256:
        headers[SIGNATURE_SETTINGS_HEADER] = SETTINGS.format(algorithm=algorithm)
    return path_qs, headers


def json_body(make_form, client: AppClient) -> bytes:
    return json.dumps(make_form(client), ensure_ascii=False).encode()


@pytest.mark.parametrize(("path", "make_form", "accepted"), ROUTES)
@pytest.mark.parametrize("algorithm", [HMAC_SHA1, HMAC_SHA256])
async def test_json_webhooks_signed_with_body_sha256_are_accepted(
    client: AppClient, path: str, make_form, accepted: int, algorithm: str
) -> None:
    body = json_body(make_form, client)
    path_qs, headers = signed_json_request(body, path, algorithm=algorithm)
    response = await client.post(path_qs, data=body, headers=headers)
    assert response.status in (accepted, 204)
    if path == "/sms/inbound":
        assert messages_in(await response.text())  # answered: the help text


@pytest.mark.parametrize(("path", "make_form", "_accepted"), ROUTES)
@pytest.mark.parametrize(
    "variant",
    [
        "as-signed",
        "body-changed-after-signing",
        "hash-of-another-body",
        "another-token",
        "signed-with-the-default-port",
        "sha256-without-the-header",
        "signature-of-the-form-fields",
    ],
)
async def test_json_webhooks_are_accepted_exactly_when_twilios_validator_accepts_them(
    client: AppClient, path: str, make_form, _accepted: int, variant: str
) -> None:
    body = json_body(make_form, client)
    sent = body
    kwargs: dict[str, object] = {}
    if variant == "body-changed-after-signing":
        sent = body.replace(b"}", b', "Extra": "x"}')
    elif variant == "hash-of-another-body":
        kwargs["hashed"] = b"{}"
    elif variant == "another-token":
        kwargs["token"] = "not-our-token"
    elif variant == "signed-with-the-default-port":
        kwargs["signed_url_base"] = PUBLIC_BASE_URL.replace("pp.example.tw", "pp.example.tw:443")
    path_qs, headers = signed_json_request(body, path, **kwargs)  # type: ignore[arg-type]
    if variant == "sha256-without-the-header":
        headers[SIGNATURE_HEADER] = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC_BASE_URL + path_qs, {}, HMAC_SHA256
        )
    elif variant == "signature-of-the-form-fields":
        fields = json.loads(body)
        headers[SIGNATURE_HEADER] = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC_BASE_URL + path_qs, fields
        )
    twilio_accepts = RequestValidator(TWILIO_TOKEN).validate(
        PUBLIC_BASE_URL + path_qs, sent.decode(), headers[SIGNATURE_HEADER]
    )
    response = await client.post(path_qs, data=sent, headers=headers)
    assert (response.status != 403) == twilio_accepts, (variant, response.status)
    if twilio_accepts:
        assert response.status in (200, 204)


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'"text"', b"{not json", b"[" * 20_000 + b"]" * 20_000]
)
async def test_a_signed_json_body_that_is_not_an_object_of_fields_is_400(
    client: AppClient, body: bytes
) -> None:
    path_qs, headers = signed_json_request(body, "/sms/status")
    response = await client.post(path_qs, data=body, headers=headers)
    assert response.status == 400
