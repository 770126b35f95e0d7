"""Local X-Ray: a daemon, a trace store and an X-Ray-compatible API on one machine.

    with LocalXRay() as xr:                      # free loopback ports, a temporary store
        os.environ["AWS_XRAY_DAEMON_ADDRESS"] = xr.udp_address   # "127.0.0.1:PORT"
        os.environ["AWS_ENDPOINT_URL_XRAY"] = xr.api_url         # "http://127.0.0.1:PORT"
        ...                                      # traced code sends segments over UDP
        xr.wait_for(3, timeout=10)               # until 3 documents are stored
        boto3.client("xray").get_service_graph(StartTime=..., EndTime=...)

`main(argv)` is `lambda-tracing local xray [--udp HOST:PORT] [--api HOST:PORT] [--db FILE]
[--sampling-rate RATE]`.

Modules: documents (datagram framing, what X-Ray accepts), admission (the daemon's checks
and graph projection in one walk), daemon (UDP), ingest (batches validated and stored, in
worker processes during bursts), store (SQLite),
traces (assembly, summaries), graph + statistics (service graph; lone: lone root segments'
graph figures in columns the graph adds up in bulk), filters (filter
expressions), operations (the X-Ray operations), sampling (the sampling rule the SDKs poll,
over TCP on the daemon's address as well as through the API), api (HTTP), server
(LocalXRay, main); otlp/ (OpenTelemetry spans on the daemon's port and POST /v1/traces,
converted to segment documents: see otlp/OTLP.md).
"""

from .server import LocalXRay, main

__all__ = ["LocalXRay", "main"]
