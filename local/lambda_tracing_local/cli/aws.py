"""The X-Ray client the commands use: AWS by default, or the local X-Ray with --local."""

from __future__ import annotations

import argparse
from typing import Any

LOCAL_ENDPOINT = "http://127.0.0.1:2001"


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """--local/--endpoint/--region, shared by the commands that read X-Ray."""
    parser.add_argument(
        "--local",
        action="store_true",
        help=f"read the local X-Ray (default endpoint {LOCAL_ENDPOINT})",
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="where the local X-Ray listens, if not the default (implies --local)",
    )
    parser.add_argument("--region", help="AWS region (default: from your AWS configuration)")


def endpoint_of(args: argparse.Namespace) -> str | None:
    if args.endpoint:
        return str(args.endpoint)
    return LOCAL_ENDPOINT if args.local else None


def xray_client(args: argparse.Namespace) -> Any:
    """A boto3 X-Ray client for the command's options.

    On AWS it uses the normal credential chain and adaptive retries (X-Ray throttles busy
    accounts); the local X-Ray needs no real credentials, so placeholders are given."""
    import boto3
    from botocore.config import Config

    endpoint = endpoint_of(args)
    if endpoint is not None:
        return boto3.client(
            "xray",
            endpoint_url=endpoint,
            region_name=args.region or "us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(
                retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=30
            ),
        )
    return boto3.client(
        "xray",
        region_name=args.region,
        config=Config(retries={"mode": "adaptive", "max_attempts": 8}),
    )
