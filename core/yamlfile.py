"""Load YAML configuration files into pydantic models, naming the bad key and its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
# libyaml's parser where PyYAML was built with it: the pure-Python one took ~100 ms for the
# taxonomy, on every server start and every settings or taxonomy reload.
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigFileError(Exception):
    """A configuration file is malformed; the message names the file, line and key."""

    def __init__(self, path: Path | str, line: int | None, key: str, message: str):
        self.path = str(path)
        self.line = line
        self.key = key
        self.message = message
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


def _describe_loc(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic error location as `types[2] (medication_discrepancy).gates[0].label`."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            if isinstance(node, list) and 0 <= step < len(node):
                node = node[step]
                if isinstance(node, dict) and isinstance(node.get("key"), str):
                    label += f" ({node['key']})"
            else:
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow `loc` through the composed YAML node tree; the deepest node found gives the line."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in loc:
        found: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(step)),
                         None)
            if match is not None:
                found = match[1]
                line = match[0].start_mark.line + 1
        elif (isinstance(node, yaml.SequenceNode) and isinstance(step, int)
              and 0 <= step < len(node.value)):
            found = node.value[step]
            line = found.start_mark.line + 1
        if found is None:
            break
        node = found
    return line


def load_model(path: Path | str, model: type[ModelT]) -> ModelT:
    """Parse `path` as YAML and validate it as `model`; raise ConfigFileError on any problem."""
    path = Path(path)
    return parse_model(path, read_config_text(path), model)


def read_config_text(path: Path) -> str:
    """The text of a configuration file; ConfigFileError if it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(path, None, "", f"cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        line = path.read_bytes().count(b"\n", 0, exc.start) + 1
        raise ConfigFileError(path, line, "", "is not UTF-8 text; save it as UTF-8") from exc


def parse_model(path: Path, text: str, model: type[ModelT]) -> ModelT:
    """Parse `text` (read from `path`, named in errors) as YAML and validate it as `model`."""
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigFileError(path, line, "", f"is not valid YAML ({exc.problem})") from exc
    except yaml.YAMLError as exc:  # e.g. a control character the YAML reader refuses
        raise ConfigFileError(path, text.count("\n", 0, getattr(exc, "position", 0)) + 1, "",
                              f"is not valid YAML ({exc})") from exc
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        root = yaml.compose(text, Loader=_LOADER)  # only to name the line
        raise ConfigFileError(
            path, _line_of(root, loc), _describe_loc(loc, data), first["msg"]
        ) from exc
