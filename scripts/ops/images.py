"""`python -m scripts images STACK [--json]`: every container image and Helm chart a stack pulls,
read from its recorded plan, with the upstream each comes from and the commands that copy it
into the stack's mirrors (`llm-platform:mirrors`) before `pulumi up`.

Images are found where the plan names them: ECS task definitions (containerDefinitions),
Container Apps (template containers), SageMaker models, Kubernetes workloads (pod templates) and
Helm release values (every {repository, tag} block, with `registry` when the chart splits it).
The copy targets are exactly the references the plan pulls (components/mirrors.py layout).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from components.mirrors import Mirrors, full_reference, parse_chart_origin, upstream_of
from policies.llm_guard.sources import HELM_RELEASE, planned_images


@dataclass(frozen=True)
class Pull:
    kind: str  # image | chart
    pulled: str  # what the stack pulls (an image reference, or oci://.../chart / chart name)
    upstream: str | None  # where it comes from (None = unknown)
    resource: str  # urn of the resource that pulls it
    version: str | None = None  # charts
    repository: str | None = None  # charts from a classic repository (the upstream one)

    @property
    def mirrored(self) -> bool:
        if self.kind == "chart":
            return self.pulled.startswith("oci://")
        return self.upstream is not None and full_reference(self.pulled) != self.upstream

    def copy_command(self) -> str | None:
        if not self.mirrored or self.upstream is None:
            return None
        if self.kind == "image":
            # crane copies every platform of a multi-arch image, keeping its digest.
            return _ecr_repository(self.pulled.rsplit(":", 1)[0]) + f"crane copy {self.upstream} {self.pulled}"
        origin = parse_chart_origin(self.upstream)
        if origin is None:
            return None
        chart, version, repository = origin
        target = self.pulled.rsplit("/", 1)[0]
        source = f"{repository}/{chart}" if repository.startswith("oci://") else f"{chart} --repo {repository}"
        return _ecr_repository(f"{target}/{chart}") + f"helm pull {source} --version {version} && helm push {chart}-{version}.tgz {target}"


_ECR = re.compile(r"(?:oci://)?\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)")


def _ecr_repository(repository: str) -> str:
    """ECR creates no repository on push: create it first (an existing one is fine)."""
    match = _ECR.fullmatch(repository)
    if not match:
        return ""
    region, name = match.groups()
    return f"(aws ecr create-repository --region {region} --repository-name {name} >/dev/null 2>&1 || true) && "


def _mirrors(graph: Mapping[str, Any]) -> Mirrors:
    raw = (graph.get("config") or {}).get("llm-platform:mirrors")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, Mapping):
        return Mirrors()
    return Mirrors(raw.get("imageRegistry"), raw.get("helmRepository"), raw.get("pythonIndex"), raw.get("modelSource"))


def pulls(graph: Mapping[str, Any]) -> list[Pull]:
    """Every image and chart the recorded graph pulls, once per (what, resource)."""
    mirrors = _mirrors(graph)
    found: dict[tuple[str, str, str], Pull] = {}
    for resource in graph.get("resources") or []:
        if not isinstance(resource, Mapping):
            continue
        urn = str(resource.get("urn", ""))
        inputs = resource.get("inputs")
        for _, ref in planned_images(str(resource.get("type", "")), inputs if isinstance(inputs, Mapping) else {}):
            found.setdefault(("image", ref, urn), Pull("image", ref, upstream_of(ref, mirrors), urn))
        if resource.get("type") == HELM_RELEASE and isinstance(inputs, Mapping):
            chart, version = str(inputs.get("chart", "")), inputs.get("version")
            options = inputs.get("repositoryOpts")
            repository = options.get("repo") if isinstance(options, Mapping) else None
            description = inputs.get("description")
            if isinstance(description, str) and parse_chart_origin(description):
                upstream: str | None = description
            elif repository:
                upstream = f"{chart} {version} from {repository}"
            else:
                upstream = None
            found.setdefault(("chart", chart, urn), Pull("chart", chart, upstream, urn, str(version) if version else None, repository))
    return sorted(found.values(), key=lambda p: (p.kind != "image", p.pulled, p.resource))


def report(graph: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form: images and charts (each once, with the resources that pull it), copy commands,
    and the package index and model source the stack's mirrors name."""
    mirrors = _mirrors(graph)
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for p in pulls(graph):
        entry = merged.setdefault((p.kind, p.pulled), {**{k: v for k, v in asdict(p).items() if k != "resource"}, "resources": [], "copy": p.copy_command()})
        entry["resources"].append(p.resource)
    items = list(merged.values())
    return {
        "stack": graph.get("stack"),
        "images": [i for i in items if i["kind"] == "image"],
        "charts": [i for i in items if i["kind"] == "chart"],
        "pythonIndex": mirrors.python_index,
        "modelSource": mirrors.model_source,
        "copyCommands": [i["copy"] for i in items if i["copy"]],
    }


def render(result: Mapping[str, Any]) -> str:
    lines = [f"Stack {result.get('stack')}: {len(result['images'])} images, {len(result['charts'])} charts"]
    for section in ("images", "charts"):
        lines.append("")
        lines.append(f"{section.capitalize()}:")
        for item in result[section]:
            what = f"{item['pulled']}" + (f" {item['version']}" if item.get("version") else "")
            source = "" if not item.get("copy") else f"  <- {item['upstream'] if section == 'images' else item['upstream'].split(' from ', 1)[1]}"
            if not item.get("copy") and item.get("upstream") is None:
                source = "  (upstream unknown: the release does not name its chart's origin)"
            names = ", ".join(sorted({r.rsplit("::", 1)[-1] for r in item["resources"]}))
            lines.append(f"  {what}{source}  [{names}]")
    lines.append("")
    lines.append(f"Python index (Dify plugins): {result.get('pythonIndex') or 'pypi.org (default)'}")
    lines.append(f"Model source (vLLM): {result.get('modelSource') or 'huggingface (default)'}")
    lines.append("")
    if result["copyCommands"]:
        lines.append("Copy into the mirrors before `pulumi up` (log in to both registries first):")
        lines.extend(f"  {c}" for c in result["copyCommands"])
    else:
        lines.append("No mirrors configured: everything is pulled from its upstream (set llm-platform:mirrors to mirror).")
    return "\n".join(lines)
