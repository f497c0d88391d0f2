"""Test helper: import a task class from a source file written by a test,
under a fresh module name (registered in `sys.modules`, as packaging needs
to find the class's source)."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path


def import_class(path: Path, name: str) -> type:
    """The class `name` defined in the Python file at `path`."""
    module_name = f"task_file_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    cls: type = getattr(module, name)
    return cls
