"""The process around the handler: threads, forks, file descriptors, the daemon's address,
signals, exits, slow and huge results (issue 17, runtime-level areas)."""

from __future__ import annotations

from textwrap import dedent

from case import Case


def app(source: str) -> dict[str, str]:
    return {"app.py": dedent(source)}


# A daemon host name that never answers: the handler's own module makes its lookup hang for
# 3 s (no DNS is reachable here). Without the layer nobody looks it up.
SLOW_DNS = """
import socket
import time

_real_getaddrinfo = socket.getaddrinfo

def _slow_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".invalid"):
        time.sleep(3)
        raise socket.gaierror(socket.EAI_NONAME, "never resolves")
    return _real_getaddrinfo(host, *args, **kwargs)

socket.getaddrinfo = _slow_getaddrinfo
"""

CASES: list[Case] = [
    Case(
        "daemon-host-never-resolves",
        app(
            SLOW_DNS
            + dedent("""
        def handler(event, context):
            return "fast"
    """)
        ),
        events=[{}, {}],
        env={"AWS_XRAY_DAEMON_ADDRESS": "xray-daemon.never.invalid:2000"},
        note="a daemon host that never resolves cost +10 s in the first invocation",
    ),
    Case(
        "daemon-address-garbage",
        app("def handler(event, context):\n    return 1\n"),
        env={"AWS_XRAY_DAEMON_ADDRESS": "::::not an address"},
        note="an unparsable address",
    ),
    Case(
        "daemon-address-port-zero",
        app("def handler(event, context):\n    return 1\n"),
        env={"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:0"},
        note="a port nobody can send to",
    ),
    Case(
        "daemon-address-two-forms",
        app("def handler(event, context):\n    return 1\n"),
        env={"AWS_XRAY_DAEMON_ADDRESS": "tcp:127.0.0.1:9 udp:127.0.0.1:9"},
        note="the SDK's tcp/udp form, pointing nowhere",
    ),
    Case(
        "fork-child-exits",
        app("""
        import os
        import sys

        def handler(event, context):
            pid = os.fork()
            if pid == 0:
                sys.exit(3)  # the child unwinds through the handler's callers
            _, status = os.waitpid(pid, 0)
            return {"child_exit": os.waitstatus_to_exitcode(status)}
    """),
        note="a forked child that exits sent a second document with the same id, as fault",
    ),
    Case(
        "fork-child-raises",
        app("""
        import os

        def handler(event, context):
            pid = os.fork()
            if pid == 0:
                try:
                    raise RuntimeError("child fails")
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            return "parent"
    """),
        note="a child that fails and leaves at once",
    ),
    Case(
        "fd-closed-and-reused",
        app("""
        import os
        import socket
        import stat
        import threading

        received = bytearray()
        listener = socket.create_server(("127.0.0.1", 0))

        def serve():
            while True:
                connection, _ = listener.accept()
                while chunk := connection.recv(65536):
                    received.extend(chunk)

        threading.Thread(target=serve, daemon=True).start()
        kept = []

        def datagram_sockets():
            numbers = []
            for name in os.listdir("/proc/self/fd"):
                number = int(name)
                try:
                    if not stat.S_ISSOCK(os.fstat(number).st_mode):
                        continue
                    probe = socket.socket(fileno=number)
                    kind = probe.type
                    probe.detach()
                except OSError:
                    continue
                if kind == socket.SOCK_DGRAM:
                    numbers.append(number)
            return numbers

        def handler(event, context):
            if event.get("step") == "close":
                for number in datagram_sockets():  # ours, not the runtime's (TCP)
                    os.close(number)
                connection = socket.create_connection(listener.getsockname())
                kept.append(connection)  # likely the number just freed
                connection.sendall(b"hello;")
                return "sent"
            if event.get("step") == "read":
                return received.decode(errors="replace")
            return "warm"
    """),
        events=[{}, {"step": "close"}, {"step": "read"}],
        note="the trace document was written into the handler's own TCP connection",
    ),
    Case(
        "threads-outlive-invocation",
        app("""
        import threading
        import time

        results = []

        def late():
            time.sleep(0.2)
            results.append("late")

        def handler(event, context):
            threading.Thread(target=late, daemon=True).start()
            return list(results)
    """),
        events=[{}, {}],
        note="a thread still running when the handler returns",
    ),
    Case(
        "thread-raises",
        app("""
        import threading

        def handler(event, context):
            def fail():
                raise ValueError("in a thread")
            thread = threading.Thread(target=fail)
            thread.start()
            thread.join()
            return "survived"
    """),
        note="an exception in a thread the handler started",
    ),
    Case(
        "handler-exits",
        app("""
        import sys

        def handler(event, context):
            sys.exit(0)
    """),
        note="sys.exit in the handler ends the runtime as without the layer",
    ),
    Case(
        "handler-os-exit",
        app("""
        import os

        def handler(event, context):
            os._exit(7)
    """),
        note="os._exit: the runtime dies the same way",
    ),
    Case(
        "handler-keyboard-interrupt",
        app("""
        def handler(event, context):
            raise KeyboardInterrupt
    """),
        note="a BaseException that is not an Exception",
    ),
    Case(
        "handler-generator-exit",
        app("""
        def handler(event, context):
            raise GeneratorExit("odd")
    """),
        note="GeneratorExit from a handler",
    ),
    Case(
        "signal-alarm-handler",
        app("""
        import signal

        def on_alarm(signum, frame):
            raise TimeoutError("alarm")

        signal.signal(signal.SIGALRM, on_alarm)

        def handler(event, context):
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            while True:
                pass
    """),
        note="a handler interrupted by its own SIGALRM",
    ),
    Case(
        "slow-handler",
        app("""
        import time

        def handler(event, context):
            time.sleep(0.3)
            return "slow"
    """),
        note="a slow handler is not made slower",
    ),
    Case(
        "huge-return-value",
        app("""
        def handler(event, context):
            return {"blob": "x" * 5_000_000, "items": list(range(100_000))}
    """),
        note="a 5 MB result: returned unchanged, datagram <= 64 KB",
    ),
    Case(
        "deep-return-value",
        app("""
        def handler(event, context):
            value = []
            for _ in range(900):
                value = [value]
            return value
    """),
        note="a deeply nested result the runtime can still marshal",
    ),
    Case(
        "unserialisable-return",
        app("""
        def handler(event, context):
            return {"when": object()}
    """),
        note="a result the runtime cannot marshal: its own error",
    ),
    Case(
        "return-bytes",
        app("""
        def handler(event, context):
            return b"raw bytes"
    """),
        note="bytes returned",
    ),
    Case(
        "return-none", app("def handler(event, context):\n    return None\n"), note="None returned"
    ),
    Case(
        "return-string-with-nul",
        app("""
        def handler(event, context):
            return "a\\x00b\\ud800"
    """),
        note="a string with NUL and a lone surrogate",
    ),
    Case(
        "recursion-limit-lowered",
        app("""
        import sys

        def handler(event, context):
            sys.setrecursionlimit(200)
            def down(n):
                return 0 if n == 0 else 1 + down(n - 1)
            return down(120)
    """),
        events=[{}, {}],
        note="a handler that lowers the recursion limit itself",
    ),
    Case(
        "environment-trace-header-removed",
        app("""
        import os

        def handler(event, context):
            os.environ.pop("_X_AMZN_TRACE_ID", None)
            return "removed"
    """),
        events=[{}, {}],
        note="the handler deletes _X_AMZN_TRACE_ID mid-invocation",
    ),
    Case(
        "environment-trace-header-garbage",
        app("""
        import os

        def handler(event, context):
            os.environ["_X_AMZN_TRACE_ID"] = "Root=garbage;Sampled=1;" * 100
            return "garbage"
    """),
        events=[{}, {}],
        note="the handler writes a hostile trace header",
    ),
    Case(
        "trace-header-hostile",
        app("def handler(event, context):\n    return 1\n"),
        events=[{}, {}, {}],
        trace_headers=(
            "Root=1-00000000-000000000000000000000000;Parent=0;Sampled=1",
            "Sampled=1;" + "x=y;" * 300,
            None,
        ),
        note="hostile trace headers from the runtime",
    ),
    Case(
        "stdout-closed",
        app("""
        import os
        import sys

        def handler(event, context):
            sys.stdout.flush()
            os.close(1)
            return "closed"
    """),
        note="a handler that closes stdout",
    ),
]

# The layer's deliberate effects (README "What the layer changes"), each allowed by name and
# nothing else: the rest of what these handlers report must still match.
CASES += [
    Case(
        "deliberate-environment",
        app("""
        import os

        def handler(event, context):
            return {name: os.environ.get(name) for name in sorted(os.environ)
                    if name not in ("_X_AMZN_TRACE_ID", "AWS_LAMBDA_RUNTIME_API")}
    """),
        allowed_differences=("environment", "_HANDLER"),
        note="the wrapper's variables and _HANDLER, and nothing else in the environment",
    ),
    Case(
        "deliberate-outbound-trace-header",
        app("""
        import http.server
        import threading

        import urllib3

        seen = []

        class Echo(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        threading.Thread(target=server.serve_forever, daemon=True).start()

        def handler(event, context):
            pool = urllib3.PoolManager()
            body = pool.request("GET", f"http://127.0.0.1:{server.server_address[1]}/x").data
            headers = seen.pop()
            headers.pop("Host", None)
            return {"body": body.decode(), "headers": headers}
    """),
        allowed_differences=("trace-header",),
        note="an outbound HTTP call carries X-Amzn-Trace-Id; its result is otherwise the same",
    ),
    Case(
        "deliberate-log-trace-id",
        app("""
        import logging

        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append({key: str(value) for key, value in vars(record).items()
                                if key in ("msg", "levelname", "name", "xray_trace_id")})

        logging.getLogger().addHandler(Keep())

        def handler(event, context):
            records.clear()
            logging.getLogger("app").warning("handling %s", 1)
            return records
    """),
        allowed_differences=("xray_trace_id",),
        note="log records carry xray_trace_id; nothing else about them changes",
    ),
]

FIRST_PATCHED_CALL = (
    "The first botocore or requests call loads aws-xray-sdk's recorder and "
    "patcher (the layer's cold-start design); within the default budget since "
    "wrapt is pinned below 2 (2.x imports asyncio)"
)

# Errors raised through the layer's patches: the stack trace is still the user's and the
# libraries' own, with none of the layer's (or its SDK's) frames between.
CASES += [
    Case(
        "error-through-botocore",
        app("""
        import boto3
        from botocore.stub import Stubber

        sqs = boto3.client("sqs", region_name="us-east-1")
        stubber = Stubber(sqs)
        stubber.add_client_error("list_queues", "AccessDenied", "no", 403)
        stubber.activate()

        def handler(event, context):
            return sqs.list_queues()
    """),
        note="a ClientError through the botocore patch: the SDK wrapper's frame and a null "
        "aws.request_id were in the trace. " + FIRST_PATCHED_CALL,
    ),
    Case(
        "error-through-urllib3",
        app("""
        import urllib3

        pool = urllib3.PoolManager(retries=False)

        def handler(event, context):
            return pool.request("GET", "http://127.0.0.1:9/refused").status
    """),
        note="a refused connection through the urllib3 patch",
    ),
    Case(
        "error-through-requests",
        app("""
        import requests

        def handler(event, context):
            return requests.get("http://127.0.0.1:9/refused", timeout=2).status_code
    """),
        note="a refused connection through the requests patch. " + FIRST_PATCHED_CALL,
    ),
]

_COUNTING_SERVER = """
import socket
import threading

import urllib3

accepted = []
listener = socket.create_server(("127.0.0.1", 0))

def serve():
    while True:
        connection, _ = listener.accept()
        accepted.append(1)
        connection.close()  # no response: the call fails

threading.Thread(target=serve, daemon=True).start()
URL = f"http://127.0.0.1:{listener.getsockname()[1]}/"

def handler(event, context):
    try:
        urllib3.PoolManager(retries=False).request("GET", URL)
    except Exception as error:
        failure = type(error).__name__
    return {"failure": failure, "connections": len(accepted)}
"""
CASES += [
    Case(
        f"failed-urllib3-call-made-once-{slug}",
        {"app.py": _COUNTING_SERVER},
        trace_headers=(header,),
        note="a failing call outside a sampled trace was made a "
        "second time by the patch's own fallback",
    )
    for slug, header in [
        ("no-trace", None),
        ("unsampled", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
    ]
]
