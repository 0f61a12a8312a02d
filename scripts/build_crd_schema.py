"""Build the RayCluster schema that ships inside the package from KubeRay's CRD.

KubeRay's CRD YAML is about 930 KB and takes a few hundred milliseconds to parse; most of it is
field descriptions. The provider validates every ``check`` against the schema, so the package ships
the ``ray.io/v1`` ``openAPIV3Schema`` as compact JSON without the documentation keywords, keeping
everything validation, defaulting and pruning depend on (types, properties, required, items,
additionalProperties, ``x-kubernetes-*`` markers, defaults, enums, formats, patterns, bounds).

Usage::

    python scripts/build_crd_schema.py /path/to/ray.io_rayclusters.yaml \
        [--out pulumi_rayservice/data/raycluster.v1.schema.json]

It prints the CRD's ``controller-gen`` version, which ``pulumi_rayservice/data/README.md`` records.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

# Keywords that only document a schema; nothing in validation, defaulting or pruning reads them.
_DOC_KEYWORDS = frozenset({"description", "title", "example", "externalDocs"})

# Keywords whose value is a map of name -> sub-schema.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions"})
# Keywords whose value is a sub-schema (or a list of them, for ``items``/``*Of``).
_SCHEMA_VALUES = frozenset({"additionalProperties", "items", "not", "anyOf", "allOf", "oneOf"})

DEFAULT_OUT = (
    Path(__file__).resolve().parent.parent / "pulumi_rayservice/data/raycluster.v1.schema.json"
)


def strip_schema(node: Any) -> Any:
    """Return a copy of the schema ``node`` without documentation keywords.

    Walks the schema structurally, so a property that happens to be *named* ``description`` and
    data values (``default``, ``enum``) are kept as they are.
    """
    if isinstance(node, list):
        return [strip_schema(n) for n in node]
    if not isinstance(node, dict):
        return node  # e.g. ``additionalProperties: true``
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DOC_KEYWORDS:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = strip_schema(value)
        else:
            out[key] = value
    return out


def load_crd(path: Path) -> dict[str, Any]:
    """Read the CRD document (the first YAML document whose kind is CustomResourceDefinition)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        for doc in yaml.load_all(fh, Loader=loader):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                return doc
    raise SystemExit(f"{path}: no CustomResourceDefinition document found")


def main(argv: list[str] | None = None) -> int:
    """Entry point: read the CRD, write the stripped v1 schema, print provenance."""
    parser = argparse.ArgumentParser(description="Build the packaged RayCluster schema.")
    parser.add_argument("crd", type=Path, help="path to ray.io_rayclusters.yaml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON path")
    parser.add_argument("--version", default="v1", help="CRD version to extract (default v1)")
    args = parser.parse_args(argv)

    crd = load_crd(args.crd)
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    if args.version not in versions:
        raise SystemExit(f"{args.crd}: version {args.version!r} not in {sorted(versions)}")
    schema = strip_schema(versions[args.version]["schema"]["openAPIV3Schema"])

    text = json.dumps(schema, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")

    annotations = crd.get("metadata", {}).get("annotations", {})
    print(f"wrote {args.out} ({len(text)} bytes)")
    print(f"crd: {crd['metadata']['name']} version: {args.version}")
    for key, value in sorted(annotations.items()):
        print(f"annotation {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
