"""Checks the two contract files before fuzzing: each parses as OpenAPI 3.1 YAML, every local
`$ref` resolves, and the discovery origin and a region origin document disjoint paths.

Usage: python check_specs.py REGION_SPEC DISCOVERY_SPEC
"""

import sys

import yaml


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document, ref):
    if not ref.startswith("#/"):
        return False
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load(path):
    with open(path, encoding="utf-8") as file:
        document = yaml.safe_load(file)
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        sys.exit(f"{path}: not an OpenAPI 3.1 document")
    broken = sorted({r for r in refs(document) if not resolve(document, r)})
    if broken:
        sys.exit(f"{path}: unresolved $ref: {', '.join(broken)}")
    return document


def main():
    region_path, discovery_path = sys.argv[1:3]
    region, discovery = load(region_path), load(discovery_path)
    shared = sorted(set(region.get("paths", {})) & set(discovery.get("paths", {})))
    if shared:
        sys.exit(f"{region_path} and {discovery_path} both document {', '.join(shared)}")
    print(f"specs ok: {len(region['paths'])} region paths, {len(discovery['paths'])} discovery paths, none shared")


if __name__ == "__main__":
    main()
