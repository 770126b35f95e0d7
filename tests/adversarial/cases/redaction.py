"""Planted secrets that must never reach the daemon (issue 17, redaction).

Each case plants one or more secrets where a real function would carry them (a JSON-string
API Gateway body, header pairs, keys spelled with dashes, exception messages, the event's own
body) and names them in `secrets`; the harness fails the case if any datagram contains one.
Settings that would weaken redaction or make it hang are tried too.
"""

from __future__ import annotations

import json
from textwrap import dedent

from case import Case

PASSWORD = "Hunter2PlantedPassw0rd"
KEY = "PlantedPrivateKeyMaterial0042"
TOKEN = "PlantedOpaqueSessionT0ken77"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkLXVzZXIiLCJpYXQiOjE1MTYy"
    "MzkwMjJ9.UGxhbnRlZFNpZ25hdHVyZVBsYW50ZWRTaWc"
)
ACCESS_KEY = "AKIAPLANTEDEXAMPLE42"


def returning(value: str, setup: str = "") -> dict[str, str]:
    return {
        "app.py": dedent(setup)
        + dedent(f"""
        import json

        def handler(event, context):
            return {value}
    """)
    }


def raising(message: str) -> dict[str, str]:
    return {
        "app.py": dedent(f"""
        import json

        def handler(event, context):
            raise PermissionError({message})
    """)
    }


def api_event(body: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "resource": "/login",
        "path": "/login",
        "httpMethod": "POST",
        "headers": headers or {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "requestContext": {"requestId": "r-1", "apiId": "a-1"},
        "body": body,
        "isBase64Encoded": False,
    }


CAPTURE_EVENT = {"LAMBDA_TRACING_CAPTURE_EVENT": "true"}
ALL_CAPTURE_OFF = {
    "LAMBDA_TRACING_CAPTURE_EVENT": "false",
    "LAMBDA_TRACING_CAPTURE_RESPONSE": "false",
}

CASES: list[Case] = [
    Case(
        "redact-apigw-json-body-password",
        returning(
            f'{{"statusCode": 200, '
            f'"body": json.dumps({{"user": "ann", "password": "{PASSWORD}"}})}}'
        ),
        secrets=(PASSWORD,),
        note="a secret inside an API Gateway response's JSON-string body",
    ),
    Case(
        "redact-apigw-json-body-nested-private-key",
        returning(
            f'{{"statusCode": 200, "body": json.dumps({{"data": [{{"private-key": "{KEY}"}}]}})}}'
        ),
        secrets=(KEY,),
        note="a dashed key two levels down in a JSON body",
    ),
    Case(
        "redact-json-body-escaped-key",
        returning('{"statusCode": 200, "body": \'{"pass\\\\u0077ord": "' + PASSWORD + "\"}'}"),
        secrets=(PASSWORD,),
        note="the key spelled with a JSON escape",
    ),
    Case(
        "redact-json-body-inside-json-body",
        returning(f'{{"body": json.dumps({{"inner": json.dumps({{"token": "{TOKEN}"}})}})}}'),
        secrets=(TOKEN,),
        note="JSON in a string in JSON in a string",
    ),
    Case(
        "redact-json-body-over-parse-budget",
        returning(f'{{"body": json.dumps({{"password": "{PASSWORD}", "pad": "p" * 70000}})}}'),
        env={
            "LAMBDA_TRACING_MAX_VALUE_LENGTH": "65536",
            "LAMBDA_TRACING_MAX_METADATA_BYTES": "60000",
        },
        secrets=(PASSWORD,),
        note="a JSON body too big to parse is withheld, not leaked",
    ),
    Case(
        "redact-header-pair-lists",
        returning(
            f'{{"headers": [["Authorization", "Basic {TOKEN}"], ["Accept", "json"]], '
            f'"more": (("X-Api-Key", "{KEY}"),)}}'
        ),
        secrets=(TOKEN, KEY),
        note='header pairs [["Authorization", ...]]',
    ),
    Case(
        "redact-name-value-headers",
        returning(
            f'{{"cf": {{"authorization": [{{"key": "Authorization", "value": "{TOKEN}"}}]}}, '
            f'"alb": [{{"name": "Set-Cookie", "value": "sid={KEY}"}}]}}'
        ),
        secrets=(TOKEN, KEY),
        note="CloudFront and name/value header entries",
    ),
    Case(
        "redact-dashed-and-cased-keys",
        returning(
            f'{{"private-key": "{KEY}", "Client_Secret": "{TOKEN}", "X-API-KEY": "{PASSWORD}", '
            f'"sessionToken": "{ACCESS_KEY}x"}}'
        ),
        secrets=(KEY, TOKEN, PASSWORD, ACCESS_KEY),
        note="keys such as private-key",
    ),
    Case(
        "redact-jwt-bearer-access-key-in-strings",
        returning(f'{{"note": "token {JWT} and Bearer {TOKEN} and {ACCESS_KEY}"}}'),
        secrets=(JWT, TOKEN, ACCESS_KEY),
        note="credential-shaped values inside free text",
    ),
    Case(
        "redact-secret-near-the-cut",
        returning(f'{{"text": "a" * 1000 + " {JWT}"}}'),
        secrets=(JWT,),
        note="a JWT straddling max_value_length is redacted before the cut",
    ),
    Case(
        "redact-event-json-body",
        returning('{"ok": True}'),
        events=[api_event(json.dumps({"username": "ann", "password": PASSWORD}))],
        env=CAPTURE_EVENT,
        secrets=(PASSWORD,),
        note="with event capture on, a password inside the event's JSON-string body",
    ),
    Case(
        "redact-event-headers",
        returning('{"ok": True}'),
        events=[api_event("{}", {"Authorization": f"Bearer {TOKEN}", "Cookie": f"s={KEY}"})],
        env=CAPTURE_EVENT,
        secrets=(TOKEN, KEY),
        note="the event's own headers",
    ),
    Case(
        "redact-exception-message-capture-off",
        raising(f'"bad token {JWT}"'),
        env=ALL_CAPTURE_OFF,
        secrets=(JWT,),
        note="an exception message with a JWT, all capture off",
    ),
    Case(
        "redact-exception-message-json",
        raising(f'json.dumps({{"password": "{PASSWORD}", "user": "ann"}})'),
        secrets=(PASSWORD,),
        note="an exception message that is JSON naming a secret",
    ),
    Case(
        "redact-exception-from-botocore-style-args",
        {
            "app.py": dedent(f"""
        class ClientError(Exception):
            def __init__(self, response, operation):
                super().__init__(response, operation)

        def handler(event, context):
            raise ClientError({{"Error": {{"Code": "Denied", "Token": "{TOKEN}"}}}}, "GetItem")
    """)
        },
        secrets=(TOKEN,),
        note="an exception whose args carry a dict with a secret",
    ),
    Case(
        "redact-empty-key-list-keeps-defaults",
        returning(f'{{"password": "{PASSWORD}"}}'),
        env={"LAMBDA_TRACING_REDACT_KEYS": " , , "},
        secrets=(PASSWORD,),
        note="LAMBDA_TRACING_REDACT_KEYS=' , , ' silently turned key redaction off",
    ),
    Case(
        "redact-backtracking-pattern-refused",
        returning(f'{{"text": "a" * 40 + "!", "jwt": "{JWT}"}}'),
        env={"LAMBDA_TRACING_REDACT_PATTERNS": "(a+)+$"},
        secrets=(JWT,),
        note="'(a+)+$' hung after the handler returned; refused, defaults kept",
    ),
    Case(
        "redact-jwt-pattern-on-63kb-eyj",
        returning('{"text": "eyJ" * 21000}'),
        env={
            "LAMBDA_TRACING_MAX_VALUE_LENGTH": "65536",
            "LAMBDA_TRACING_MAX_METADATA_BYTES": "60000",
        },
        note="the default JWT pattern took 4.2 s on a 63 KB eyJ... string",
    ),
    Case(
        "redact-custom-pattern",
        returning('{"memo": "card 4111-1111-1111-1111 ok"}'),
        env={"LAMBDA_TRACING_REDACT_PATTERNS": r'["\\d{4}-\\d{4}-\\d{4}-\\d{4}"]'},
        secrets=("4111-1111-1111-1111",),
        note="a user pattern replaces the defaults",
    ),
    Case(
        "redact-custom-keys",
        returning('{"card_number": "4111111111111111", "ok": 1}'),
        env={"LAMBDA_TRACING_REDACT_KEYS": "card-number"},
        secrets=("4111111111111111",),
        note="a user key with a dash matches the key with an underscore",
    ),
    Case(
        "redact-secret-as-dict-key",
        returning(f'{{"sessions": {{"{JWT}": "ann"}}}}'),
        secrets=(JWT,),
        note="a token used as a dict key",
    ),
    Case(
        "redact-dict-subclass-secret",
        returning(
            f'Holder(password="{PASSWORD}")',
            setup="""
        class Holder(dict):
            pass
    """,
        ),
        secrets=(PASSWORD,),
        note="a dict subclass is still redacted",
    ),
]
