#!/usr/bin/python3
"""Checks docs/openapi.yaml against the routes the service really serves.

usage: check_openapi.py OPENAPI_YAML ROUTES_FILE

ROUTES_FILE holds one route pattern a line ("/results/{id}"), as
jobrelay::app::route_patterns() gives them (tests/integration/openapi_routes_test.cpp
writes it). Checks: the document parses as YAML, `openapi` is 3.1.x, every
path has at least one operation and every operation has responses, every
`$ref` resolves inside the document, and the set of paths equals the set of
route patterns. Exit 0 when all hold, 1 with one line per failure otherwise,
2 on a usage or environment problem.
"""
import re
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("check_openapi.py: PyYAML is missing (Debian: apt-get install python3-yaml)\n")
    sys.exit(2)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def refs(node, where="#"):
    """Yields (location, ref) for every $ref in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs(value, f"{where}/{i}")


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return False  # only local references are used
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def deref(doc, node):
    """The node a {"$ref": ...} stands for (followed while it resolves)."""
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and resolve(doc, node["$ref"]):
        ref = node["$ref"]
        if ref in seen:
            break
        seen.add(ref)
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def check(doc, routes):
    errors = []
    if not isinstance(doc, dict):
        return ["the document is not a YAML mapping"]
    version = str(doc.get("openapi", ""))
    if not re.fullmatch(r"3\.1\.\d+", version):
        errors.append(f"openapi is {version!r}, expected 3.1.x")
    info = doc.get("info")
    if not isinstance(info, dict) or not info.get("title") or not info.get("version"):
        errors.append("info.title and info.version are required")

    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        errors.append("no paths")
        paths = {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            errors.append(f"{path}: not a path item")
            continue
        operations = [m for m in METHODS if m in item]
        if not operations:
            errors.append(f"{path}: no operation")
        for method in operations:
            op = item[method]
            responses = op.get("responses") if isinstance(op, dict) else None
            if not isinstance(responses, dict) or not responses:
                errors.append(f"{method.upper()} {path}: no responses")
        declared = list(item.get("parameters", []))
        for method in operations:
            if isinstance(item[method], dict):
                declared += item[method].get("parameters", [])
        in_path = {p.get("name") for p in map(lambda p: deref(doc, p), declared)
                   if isinstance(p, dict) and p.get("in") == "path"}
        for name in re.findall(r"\{([^}]+)\}", path):
            if name not in in_path:
                errors.append(f"{path}: path parameter {{{name}}} is not declared")

    for where, ref in refs(doc):
        if not resolve(doc, ref):
            errors.append(f"{where}: $ref {ref} does not resolve")

    documented, served = set(paths), set(routes)
    for p in sorted(served - documented):
        errors.append(f"route {p} is served but not in the document")
    for p in sorted(documented - served):
        errors.append(f"path {p} is in the document but no route serves it")
    return errors


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print(f"{argv[1]}: {e}")
        return 1
    with open(argv[2], encoding="utf-8") as f:
        routes = [line.strip() for line in f if line.strip()]
    if not routes:
        print(f"{argv[2]}: no route patterns")
        return 1
    errors = check(doc, routes)
    for e in errors:
        print(f"{argv[1]}: {e}")
    if not errors:
        print(f"{argv[1]}: OpenAPI {doc['openapi']}, {len(routes)} routes, all documented")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
