"""OTLP into the local X-Ray: spans in, the segment documents X-Ray makes of them out.

Modules: decode (ADOT's UDP framing and OTLP/HTTP bodies -> ExportTraceServiceRequest, with
the official opentelemetry-proto messages), convert (spans -> segment documents, as X-Ray's
OTLP conversion does: the table is OTLP.md beside this package) with fields (each part of a
document: http, aws, sql, cause, annotations, metadata, links), intake (the daemon's OTLP
datagrams and POST /v1/traces, with X-Ray's limits). Nothing here is imported until an OTLP
datagram or request arrives: the JSON path never pays for protobuf.
"""
