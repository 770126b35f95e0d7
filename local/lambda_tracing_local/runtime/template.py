"""Read a SAM template: functions with Globals applied, intrinsics resolved to local values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::StackName": "lambda-tracing-local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}
FUNCTION_DEFAULTS: dict[str, Any] = {"Timeout": 3, "MemorySize": 128, "Runtime": "python3.13"}


class TemplateError(ValueError):
    """The template cannot be read or refers to something we cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short forms (!Ref, !GetAtt, !Sub...) into long forms."""


def _short_form(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path) -> dict[str, Any]:
    try:
        document = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"cannot read template {path}: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return document


@dataclass
class LocalValues:
    """What Ref and Fn::GetAtt mean locally, filled in as resources are created (e.g. in moto)."""

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)


class Resolver:
    def __init__(self, template: Mapping[str, Any], values: LocalValues) -> None:
        self.template = template
        self.values = values

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._get_att(arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, parts = arg
                return str(separator).join(str(self.resolve(part)) for part in parts)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported in local mode")
        return {key: self.resolve(value) for key, value in node.items()}

    def _ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.values.parameters:
            return self.values.parameters[name]
        parameters = self.template.get("Parameters") or {}
        if name in parameters:
            if "Default" not in parameters[name]:
                raise TemplateError(f"parameter {name} has no Default and no local value")
            return str(parameters[name]["Default"])
        if name in self.values.refs:
            return self.values.refs[name]
        raise TemplateError(f"!Ref {name}: no such parameter, or resource not created locally")

    def _get_att(self, arg: list[str]) -> str:
        resource, attribute = arg[0], arg[1]
        try:
            return self.values.attributes[(resource, attribute)]
        except KeyError:
            raise TemplateError(f"!GetAtt {resource}.{attribute} has no local value") from None

    def _sub(self, arg: str | list[Any]) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(self.resolve(extra[name]))
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]
    layers: list[Any]
    events: dict[str, dict[str, Any]]
    tracing: str

    @property
    def name(self) -> str:
        return self.logical_id

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.logical_id}"

    def events_of_type(self, kind: str) -> list[dict[str, Any]]:
        return [
            event.get("Properties") or {}
            for event in self.events.values()
            if event.get("Type") == kind
        ]


def _merge_globals(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's rule: maps merge (resource wins), lists and scalars are replaced by the resource's."""
    merged: dict[str, Any] = {**FUNCTION_DEFAULTS, **globals_}
    for key, value in properties.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(result.get(key), dict) and isinstance(value, dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def functions(template: Mapping[str, Any], template_dir: Path) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function, Globals applied; values still hold unresolved intrinsics."""
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = _merge_globals(globals_, resource.get("Properties") or {})
        if "Handler" not in props or "CodeUri" not in props:
            raise TemplateError(f"{logical_id}: local mode needs Handler and a local CodeUri")
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(template_dir / str(props["CodeUri"])).resolve(),
            handler=str(props["Handler"]),
            runtime=str(props["Runtime"]),
            timeout=int(props["Timeout"]),
            memory_size=int(props["MemorySize"]),
            environment=dict((props.get("Environment") or {}).get("Variables") or {}),
            layers=list(props.get("Layers") or []),
            events=dict(props.get("Events") or {}),
            tracing=str(props.get("Tracing", "PassThrough")),
        )
    return specs


def layer_dirs(template: Mapping[str, Any], template_dir: Path) -> dict[str, Path]:
    """Logical id -> ContentUri of every AWS::Serverless::LayerVersion."""
    return {
        logical_id: (template_dir / str(resource["Properties"]["ContentUri"])).resolve()
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::LayerVersion"
    }
