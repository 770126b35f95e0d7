"""Service map: read X-Ray's service graph, summarise it, write it to S3 and CloudWatch.

Modules: ``reader`` (GetServiceGraph pages), ``pages`` (load and check pages), ``merge``
(one graph from many pages), ``statistics`` (counts, rates, percentiles), ``health``
(thresholds), ``changes`` (against the previous window), ``summary`` (the summary document),
``formats`` (JSON, table, Mermaid), ``storage`` (S3), ``emf`` (metrics), ``handler`` (Lambda).
"""
