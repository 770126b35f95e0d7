"""The demo flow: the sample app on local Lambda, traffic, the service-map Lambda, the files."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3

from lambda_tracing_local.demo import checks
from lambda_tracing_local.demo.payment_service import PaymentService
from lambda_tracing_local.demo.traffic import TrafficReport, send_orders
from lambda_tracing_local.runtime import template as tpl
from lambda_tracing_local.runtime.interpreters import layer_version
from lambda_tracing_local.runtime.layers import build_layers
from lambda_tracing_local.runtime.local_app import LocalApp
from lambda_tracing_local.xray import LocalXRay

SERVICE_MAP = "ServiceMapFunction"
PAYMENT_HOST = "localhost"


@dataclass
class DemoSettings:
    template: Path = Path("template.yaml")
    output: Path = Path("demo-output")
    requests: int = 300
    concurrency: int = 4
    throttle_every: int = 8
    drain_timeout: float = 90.0
    layer_dirs: dict[str, Path] | None = None  # prebuilt layers; None = build them
    exporter: str = "xray"  # the layer's LAMBDA_TRACING_EXPORTER: xray or otlp
    progress: TextIO | None = sys.stderr


@dataclass
class DemoResult:
    summary: dict[str, Any] | None = None
    traffic: TrafficReport | None = None
    full_trace: dict[str, Any] | None = None  # one trace spanning API -> ... -> payment
    files: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    payment_charges: int = 0
    payment_throttled: int = 0
    seconds: float = 0.0


def run_demo(settings: DemoSettings, say: Callable[[str], None] = print) -> DemoResult:
    started = time.monotonic()
    result = DemoResult()
    settings.output.mkdir(parents=True, exist_ok=True)
    template = tpl.load_template(settings.template)
    layers = settings.layer_dirs
    if layers is None:
        template_dir = settings.template.parent.resolve()
        runtimes = {spec.runtime for spec in tpl.functions(template, template_dir).values()}
        target = layer_version(runtimes)  # as build_layers decides: the runtime's, else ours
        say(
            f"building the tracing layer for python{target} ..."
            if target
            else "building the tracing layer for this machine's Python ..."
        )
        layers = build_layers(template, template_dir, settings.output / ".layers")
    with ExitStack() as stack:
        xray = stack.enter_context(LocalXRay())
        payment = stack.enter_context(PaymentService(settings.throttle_every))
        log = stack.enter_context((settings.output / "functions.log").open("wb"))
        overrides = exporter_overrides(template, settings)
        overrides.setdefault(SERVICE_MAP, {})["SETTLE_SECONDS"] = "0"
        say("starting moto server, local X-Ray and local Lambda ...")
        app = stack.enter_context(
            LocalApp(
                settings.template,
                layers,
                xray_daemon=xray.udp_address,
                xray_api=xray.api_url,
                parameters={"PaymentServiceUrl": payment.url},
                log=log,
                overrides=overrides,
            )
        )
        assert app.api is not None
        say(f"sending {settings.requests} orders to {app.api.url}/orders ...")
        first = time.time()
        result.traffic = send_orders(
            app.api.url, settings.requests, settings.concurrency, settings.progress
        )
        broken = result.traffic.statuses[500] + result.traffic.statuses[0]
        if broken:
            result.problems.append(f"{broken} orders failed in the local API itself (see above)")
        say("letting the queue drain ...")
        if not app.wait_until_drained(settings.drain_timeout):
            result.problems.append(f"the orders queue did not drain in {settings.drain_timeout}s")
        xray.wait_until_idle(timeout=20)
        last = time.time()
        result.payment_charges, result.payment_throttled = payment.charges, payment.throttled

        say("running ServiceMapFunction against the local X-Ray API ...")
        minutes, scheduled = window_covering(first, last)
        overrides[SERVICE_MAP]["SCHEDULE_MINUTES"] = str(minutes)
        event = scheduled_event(scheduled)
        invoked = app.functions.invoke(SERVICE_MAP, event)
        if invoked.function_error:
            result.problems.append(f"{SERVICE_MAP} failed: {invoked.payload}")
        else:
            result.summary = _read_summary(app, invoked.payload)
        xray_client = boto3.client(
            "xray",
            endpoint_url=xray.api_url,
            region_name=tpl.REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        result.full_trace = _full_trace(xray_client, result.traffic.created_trace_ids)
    if result.summary is not None:
        result.problems.extend(checks.map_problems(result.summary, PAYMENT_HOST))
    if result.full_trace is None:
        result.problems.append("no trace spans API -> orders -> SQS -> worker -> payment service")
    _write_files(settings.output, result, say)
    result.seconds = time.monotonic() - started
    return result


def exporter_overrides(template: Any, settings: DemoSettings) -> dict[str, dict[str, str]]:
    """Every function's LAMBDA_TRACING_EXPORTER when the demo runs the layer in OTLP mode (a
    function without the layer ignores it)."""
    if settings.exporter == "xray":
        return {}
    names = tpl.functions(template, settings.template.parent.resolve())
    return {name: {"LAMBDA_TRACING_EXPORTER": settings.exporter} for name in names}


def window_covering(first: float, last: float) -> tuple[int, datetime]:
    """A schedule period (minutes) whose epoch-grid window holds [first, last], and its end.

    The service-map Lambda summarises whole windows on that grid; doubling from an hour finds
    one that no grid line splits (the traffic lasts minutes)."""
    minutes = 60
    while int(first // (minutes * 60)) != int(last // (minutes * 60)):
        minutes *= 2
    end = (int(last // (minutes * 60)) + 1) * minutes * 60
    return minutes, datetime.fromtimestamp(end, UTC)


def scheduled_event(when: datetime) -> dict[str, Any]:
    """An EventBridge scheduled event, as `sam local generate-event cloudwatch scheduled-event`."""
    return {
        "id": "lambda-tracing-demo",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": tpl.ACCOUNT_ID,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": tpl.REGION,
        "resources": [f"arn:aws:events:{tpl.REGION}:{tpl.ACCOUNT_ID}:rule/service-map"],
        "detail": {},
    }


def _read_summary(app: LocalApp, payload: Any) -> dict[str, Any]:
    written = payload["groups"]["Default"][-1]
    bucket = app.values.refs["SummaryBucket"]
    body = app.moto.client("s3").get_object(Bucket=bucket, Key=written["summary_key"])["Body"]
    summary: dict[str, Any] = json.loads(body.read())
    return summary


def _full_trace(xray_client: Any, trace_ids: list[str]) -> dict[str, Any] | None:
    for start in range(0, min(len(trace_ids), 50), 5):
        batch = trace_ids[start : start + 5]
        for trace in xray_client.batch_get_traces(TraceIds=batch).get("Traces", []):
            if checks.hops(trace, PAYMENT_HOST) == checks.FULL_PATH:
                found: dict[str, Any] = trace
                return found
    return None


def _write_files(output: Path, result: DemoResult, say: Callable[[str], None]) -> None:
    if result.summary is not None:
        path = output / "summary.json"
        path.write_text(json.dumps(result.summary, indent=2) + "\n")
        result.files["summary"] = path
    try:
        from service_map.pictures import flame_html, map_html
    except ImportError as missing:
        say(f"(pictures skipped: {missing})")
        return
    if result.summary is not None:
        path = output / "service-map.html"
        path.write_text(map_html(result.summary))
        result.files["service map"] = path
    if result.full_trace is not None:
        path = output / "flame.html"
        path.write_text(flame_html(result.full_trace))
        result.files["flame graph"] = path
