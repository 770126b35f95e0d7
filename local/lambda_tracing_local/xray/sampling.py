"""Centralised sampling, as the X-Ray daemon serves it to the SDKs.

The real daemon answers GetSamplingRules and GetSamplingTargets over TCP on its own address
(the SDKs poll them there: every 5 minutes for rules, every 10 s for targets), passing them
on to the X-Ray service. Local X-Ray has one rule, named Default as the service's is, with its
shape; its rate is the local default of every request sampled (the service's default rule
is 1 a second and 5% of the rest), or what `--sampling-rate` says.
"""

from __future__ import annotations

import time
from typing import Any

RULE_NAME = "Default"
RULE_ARN = "arn:aws:xray:us-east-1:000000000000:sampling-rule/Default"
TARGET_INTERVAL_SECONDS = 10  # how often the SDKs report and ask again
LOCAL_FIXED_RATE = 1.0
RESERVOIR_PER_SECOND = 1  # as the service's default rule


class SamplingRules:
    """The rule and the answers to the SDKs' polls, in botocore's shapes."""

    def __init__(self, fixed_rate: float = LOCAL_FIXED_RATE) -> None:
        if not 0.0 <= fixed_rate <= 1.0:
            raise ValueError(f"a sampling rate is between 0 and 1, not {fixed_rate!r}")
        self.fixed_rate = fixed_rate
        self.created_at = float(int(time.time()))

    def rule(self) -> dict[str, Any]:
        return {
            "RuleName": RULE_NAME,
            "RuleARN": RULE_ARN,
            "ResourceARN": "*",
            "Priority": 10000,  # what the service gives its default rule: matched last
            "FixedRate": self.fixed_rate,
            "ReservoirSize": RESERVOIR_PER_SECOND,
            "ServiceName": "*",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": "*",
            "Version": 1,
            "Attributes": {},
        }

    def get_sampling_rules(self, request: dict[str, Any]) -> dict[str, Any]:
        record = {"SamplingRule": self.rule(), "CreatedAt": self.created_at}
        return {"SamplingRuleRecords": [dict(record, ModifiedAt=self.created_at)]}

    def get_sampling_targets(self, request: dict[str, Any]) -> dict[str, Any]:
        """A target for each rule reported on; a rule this server does not have is returned
        unprocessed, as the service does, so the SDK keeps its local fallback for it."""
        now = time.time()
        targets, unprocessed = [], []
        for statistics in request.get("SamplingStatisticsDocuments") or ():
            name = statistics["RuleName"]
            if name != RULE_NAME:
                unprocessed.append(
                    {"RuleName": name, "ErrorCode": "400", "Message": f"no sampling rule {name!r}"}
                )
                continue
            targets.append(
                {
                    "RuleName": name,
                    "FixedRate": self.fixed_rate,
                    "ReservoirQuota": RESERVOIR_PER_SECOND,
                    "ReservoirQuotaTTL": float(int(now) + TARGET_INTERVAL_SECONDS),
                    "Interval": TARGET_INTERVAL_SECONDS,
                }
            )
        return {
            "SamplingTargetDocuments": targets,
            "LastRuleModification": self.created_at,
            "UnprocessedStatistics": unprocessed,
        }
