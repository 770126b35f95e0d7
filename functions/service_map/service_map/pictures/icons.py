"""A small drawn icon and a readable caption for each X-Ray node type."""

from __future__ import annotations

_CAPTIONS = {
    "client": "client",
    "remote": "remote HTTP",
    "AWS::Lambda": "Lambda service",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::DynamoDB": "DynamoDB",
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::SQS": "SQS",
    "AWS::SQS::Queue": "SQS queue",
    "AWS::SNS": "SNS",
    "AWS::SNS::Topic": "SNS topic",
    "AWS::S3": "S3",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::EC2::Instance": "EC2 instance",
    "AWS::ECS::Container": "ECS container",
    "AWS::ElasticBeanstalk::Environment": "Elastic Beanstalk",
    "AWS::ApiGateway::Stage": "API Gateway stage",
    "AWS::StepFunctions::StateMachine": "Step Functions",
}


def family(node_type: str | None) -> str:
    """The icon family of an X-Ray node type."""
    kind = node_type or ""
    if kind == "client":
        return "client"
    if kind.startswith("AWS::Lambda"):
        return "lambda"
    if kind.startswith("AWS::DynamoDB"):
        return "dynamodb"
    if kind.startswith("AWS::SQS"):
        return "sqs"
    if kind.startswith("AWS::SNS"):
        return "sns"
    if kind.startswith("AWS::S3"):
        return "s3"
    if kind.startswith("AWS::ApiGateway"):
        return "api"
    if kind == "remote" or not kind.startswith("AWS::"):
        return "remote"
    return "compute"


def caption(node_type: str | None) -> str:
    """A short human name for a node type: 'AWS::Lambda::Function' -> 'Lambda function'."""
    kind = node_type or "unknown"
    if kind in _CAPTIONS:
        return _CAPTIONS[kind]
    parts = kind.split("::")
    if parts[0] == "AWS" and len(parts) > 1:
        return " ".join([parts[1]] + [part.lower() for part in parts[2:]])
    return kind


_BADGE = {
    "client": "#5f6b7a",
    "lambda": "#e07b00",
    "dynamodb": "#3b48cc",
    "sqs": "#c7266e",
    "sns": "#b0186e",
    "s3": "#3f8624",
    "api": "#8c4fff",
    "remote": "#2a7aa8",
    "compute": "#d45b07",
}

# Each glyph is drawn white on the badge, in a 28x28 box.
_GLYPHS = {
    "client": (
        '<circle cx="14" cy="10" r="4.5" fill="#fff"/>'
        '<path d="M5 24 C5 16 23 16 23 24 Z" fill="#fff"/>'
    ),
    "lambda": (
        '<text x="14" y="21" text-anchor="middle" font-size="19" font-weight="bold" '
        'fill="#fff">λ</text>'
    ),
    "dynamodb": (
        '<path d="M7 8 V20 A7 3 0 0 0 21 20 V8" fill="none" stroke="#fff" stroke-width="2"/>'
        '<ellipse cx="14" cy="8" rx="7" ry="3" fill="none" stroke="#fff" stroke-width="2"/>'
        '<path d="M7 14 A7 3 0 0 0 21 14" fill="none" stroke="#fff" stroke-width="1.5"/>'
    ),
    "sqs": (
        '<rect x="4" y="10" width="5" height="8" fill="#fff"/>'
        '<rect x="11.5" y="10" width="5" height="8" fill="#fff"/>'
        '<rect x="19" y="10" width="5" height="8" fill="#fff"/>'
    ),
    "sns": (
        '<circle cx="9" cy="14" r="3" fill="#fff"/>'
        '<path d="M14 8 A8 8 0 0 1 14 20 M18 5 A12 12 0 0 1 18 23" fill="none" '
        'stroke="#fff" stroke-width="2"/>'
    ),
    "s3": '<path d="M6 8 H22 L19 22 H9 Z" fill="none" stroke="#fff" stroke-width="2"/>',
    "api": (
        '<text x="14" y="18" text-anchor="middle" font-size="9" font-weight="bold" '
        'fill="#fff">API</text>'
    ),
    "remote": (
        '<circle cx="14" cy="14" r="8" fill="none" stroke="#fff" stroke-width="1.8"/>'
        '<ellipse cx="14" cy="14" rx="3.5" ry="8" fill="none" stroke="#fff" stroke-width="1.5"/>'
        '<path d="M6 14 H22" stroke="#fff" stroke-width="1.5"/>'
    ),
    "compute": (
        '<rect x="7" y="7" width="14" height="14" fill="none" stroke="#fff" stroke-width="2"/>'
        '<path d="M10 4 V7 M14 4 V7 M18 4 V7 M10 21 V24 M14 21 V24 M18 21 V24" '
        'stroke="#fff" stroke-width="1.5"/>'
    ),
}


def icon(node_type: str | None, x: float, y: float) -> str:
    """SVG for a 28x28 icon badge with its top-left corner at (x, y)."""
    kind = family(node_type)
    return (
        f'<g class="icon icon-{kind}" transform="translate({x:g},{y:g})">'
        f'<rect width="28" height="28" rx="6" fill="{_BADGE[kind]}"/>{_GLYPHS[kind]}</g>'
    )
