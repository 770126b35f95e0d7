"""moto server as the local AWS, and the template's data resources created in it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import boto3

from lambda_tracing_local.runtime import processes
from lambda_tracing_local.runtime import template as tpl


class MotoServer:
    """`python -m moto.server` on a free loopback port, stopped with its process group."""

    def __init__(self) -> None:
        self.port = processes.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: Any = None

    def __enter__(self) -> MotoServer:
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        env = {**_base_env(), "MOTO_ALLOW_NONEXISTENT_REGION": "false"}
        quiet = subprocess.DEVNULL
        self._process = processes.start(argv, env=env, stdout=quiet, stderr=quiet)
        try:
            processes.wait_for_port("127.0.0.1", self.port, timeout=30)
        except TimeoutError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            processes.stop(self._process)
            self._process = None

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=tpl.REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def _base_env() -> dict[str, str]:
    """Our environment minus AWS settings, which must not leak into moto's own behaviour."""
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}


def create_resources(
    template: Mapping[str, Any], moto: MotoServer, parameters: Mapping[str, str] | None = None
) -> tpl.LocalValues:
    """Create every table, queue, topic and bucket in moto; return what Ref/GetAtt mean locally."""
    values = tpl.LocalValues(parameters=dict(parameters or {}))
    resolver = tpl.Resolver(template, values)
    region, account = tpl.REGION, tpl.ACCOUNT_ID
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::DynamoDB::Table":
            name = str(resolver.resolve(props.get("TableName", logical_id)))
            moto.client("dynamodb").create_table(
                TableName=name,
                KeySchema=resolver.resolve(props["KeySchema"]),
                AttributeDefinitions=resolver.resolve(props["AttributeDefinitions"]),
                BillingMode="PAY_PER_REQUEST",
            )
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            _set(values, logical_id, name, Arn=arn)
        elif kind == "AWS::SQS::Queue":
            name = str(resolver.resolve(props.get("QueueName", logical_id)))
            attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
            url = moto.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = f"arn:aws:sqs:{region}:{account}:{name}"
            _set(values, logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)
        elif kind == "AWS::SNS::Topic":
            name = str(resolver.resolve(props.get("TopicName", logical_id)))
            arn = moto.client("sns").create_topic(Name=name)["TopicArn"]
            _set(values, logical_id, arn, TopicName=name, TopicArn=arn)
        elif kind == "AWS::S3::Bucket":
            name = str(resolver.resolve(props.get("BucketName", f"local-{logical_id.lower()}")))
            moto.client("s3").create_bucket(Bucket=name)
            _set(values, logical_id, name, Arn=f"arn:aws:s3:::{name}")
        elif kind == "AWS::Serverless::Function":
            arn = f"arn:aws:lambda:{region}:{account}:function:{logical_id}"
            _set(values, logical_id, logical_id, Arn=arn)
        elif kind == "AWS::Serverless::LayerVersion":
            _set(values, logical_id, f"arn:aws:lambda:{region}:{account}:layer:{logical_id}:1")
        elif kind == "AWS::Serverless::Api":
            _set(values, logical_id, logical_id.lower())
    return values


def _set(values: tpl.LocalValues, logical_id: str, ref: str, **attributes: str) -> None:
    values.refs[logical_id] = ref
    for attribute, value in attributes.items():
        values.attributes[(logical_id, attribute)] = value
