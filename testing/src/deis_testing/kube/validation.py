"""Validation of written objects with kubernetes-validate, strict, per Kubernetes version.

`kubernetes_validate.validate(obj, "1.29", strict=True)` reads and compiles the schema files
on every call (15 ms each), which would dominate a benchmark of hundreds of writes. This
module makes the same choice of schema as that function (the newest bundled version not
newer than the one asked for, the `-strict` variant, the file named after kind and
apiVersion) and keeps the compiled validator per (version, kind), for 0.3 ms a check. A test
compares its verdicts with `kubernetes_validate.validate` itself.
"""

import functools
import re
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # ships no type information
import kubernetes_validate  # ships no type information
import referencing
from kubernetes_validate import utils

VERSIONS = ("1.29", "1.37")
"""The range the chart supports: every written object must be valid in each."""


def problems(obj: dict[str, Any], versions: tuple[str, ...] = VERSIONS) -> list[str]:
    """Why `obj` is not a valid object of its kind, one line per version; empty when valid."""
    found: list[str] = []
    for version in versions:
        try:
            validator = _validator(version, obj.get("apiVersion", ""), obj.get("kind", ""))
        except kubernetes_validate.SchemaNotFoundError as exc:
            found.append(f"{version}: {exc.message}")
            continue
        error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
        if error is not None:
            path = ".".join(str(part) for part in error.absolute_path)
            found.append(f"{version}: {path or '<root>'}: {error.message}")
    return found


@functools.cache
def _validator(version: str, api_version: str, kind: str) -> Any:
    bundled = [v for v in utils.all_versions() if utils.major_minor(v) <= version][-1]
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    directory = f"kubernetes-json-schema/v{bundled}-local-strict"
    try:
        schema = utils.schema_contents(f"{directory}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        raise kubernetes_validate.SchemaNotFoundError(
            version=version, kind=kind, api_version=api_version
        ) from None
    registry = referencing.Resource.from_contents(schema) @ referencing.Registry()
    registry = _definitions(directory, version) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@functools.cache
def _definitions(directory: str, version: str) -> Any:
    return referencing.Resource.from_contents(
        utils.schema_contents(f"{directory}/_definitions.json", version)
    )
