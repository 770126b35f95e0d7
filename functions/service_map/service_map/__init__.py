"""Service map: read X-Ray's service graph, summarise it, write it to S3 and CloudWatch.

``reader`` (GetServiceGraph pages, in chunks), ``pages`` (load and check saved pages),
``merge`` (one graph from many pages), ``statistics`` (counts, rates, percentiles),
``health`` (thresholds), ``changes`` (against the previous window), ``summary`` (the
summary document, see SUMMARY.md), ``formats`` (JSON, table, Mermaid), ``pictures`` (SVG,
HTML), ``window`` (which windows are due), ``storage`` (S3), ``emf`` (metrics),
``settings`` (environment), ``handler`` (the Lambda), ``synthetic`` (generated graphs).
"""
