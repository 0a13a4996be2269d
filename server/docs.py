"""Generated documentation of the settings: docs/config.schema.json and docs/configuration.md.

``python -m hearth.server.docs`` rewrites both; a test fails when they drift from the model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hearth.server.config import ENV_VARS, json_schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return dict(schema["$defs"][name])
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = dict(_resolve(schema, node["allOf"][0]))
        merged.update({k: v for k, v in node.items() if k != "allOf"})
        return merged
    return node


def _rows(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for key, prop in node.get("properties", {}).items():
        prop = _resolve(schema, prop)
        path = f"{prefix}.{key}" if prefix else key
        if prop.get("type") == "object" or "properties" in prop:
            rows.extend(_rows(schema, prop, path))
            continue
        kind = prop.get("type") or " | ".join(
            str(o.get("type", "")) for o in prop.get("anyOf", []) if o.get("type") != "null"
        )
        if "enum" in prop:
            kind = " | ".join(json.dumps(v) for v in prop["enum"])
        default = json.dumps(prop.get("default"))
        rows.append((path, kind or "any", default, prop.get("description", "").replace("|", "\\|")))
    return rows


def markdown() -> str:
    schema = json_schema()
    lines = [
        "# Hearth settings",
        "",
        "Generated from the settings model (`server/config.py`) by `python -m hearth.server.docs`; do not edit.",
        "",
        "Sources, lowest precedence first: defaults, the settings file (`hearth.json` in the data directory,",
        "or `HEARTH_CONFIG`), the client's `initializationOptions`, `workspace/didChangeConfiguration`",
        "(section `hearth`), environment variables. Keys are camelCase. Unknown keys are ignored; an",
        "invalid value is reported once and its default is used.",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    for path, kind, default, desc in _rows(schema, schema, ""):
        lines.append(f"| `{path}` | {kind} | `{default}` | {desc} |")
    lines += ["", "## Environment variables", "", "| variable | sets |", "|---|---|"]
    for name, target in ENV_VARS.items():
        where = (
            ".".join(target).replace("*generate", "{completion,chat}").replace("*all", "{completion,chat,embedding}")
        )
        lines.append(f"| `{name}` | `{where}` |")
    return "\n".join(lines) + "\n"


def write(docs_dir: Path) -> None:
    (docs_dir / "config.schema.json").write_text(schema_text(), encoding="utf-8")
    (docs_dir / "configuration.md").write_text(markdown(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs")
