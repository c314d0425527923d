"""The analysis modules A–J: one file each, a declaration plus its score table.

Each module file defines

- ``DECLARATION``: a :class:`~quant_assets.modules.declaration.ModuleDeclaration`;
- ``SCHEMA``: the pandera model of its score table (``scores.<score_table>``);
- ``rows(declaration, outputs, start, end)``: the score-table rows for ``[start, end)``
  from the engine's outputs per subject (symbol, asset, or ``"panel"`` for cross-symbol
  modules).

:func:`load_modules` returns them with the overrides of ``QUANT_MODULES_CONFIG`` (a YAML
file) applied and validated.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from quant_assets.metrics import MODULE_IDS
from quant_assets.modules.declaration import (
    DeclarationError,
    ModuleDeclaration,
    apply_overrides,
    parse_overrides,
)
from quant_assets.modules.engine import ModuleOutput

RowBuilder = Callable[[ModuleDeclaration, Mapping[str, ModuleOutput], pd.Timestamp, pd.Timestamp],
                      pd.DataFrame]
CONFIG_VARIABLE = "QUANT_MODULES_CONFIG"


@dataclass(frozen=True)
class Module:
    """A loaded module: its (possibly overridden) declaration, table schema and row builder."""

    declaration: ModuleDeclaration
    schema: type[pa.DataFrameModel]
    rows: RowBuilder
    doc: str

    @property
    def id(self) -> str:
        return self.declaration.id


def _import(module_id: str) -> Module:
    source = importlib.import_module(f"{__name__}.{module_id}")
    return Module(source.DECLARATION, source.SCHEMA, source.rows, (source.__doc__ or "").strip())


def file_overrides(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Overrides per module id from the YAML file named by ``QUANT_MODULES_CONFIG`` (if set)."""
    env = os.environ if env is None else env
    path = env.get(CONFIG_VARIABLE, "").strip()
    if not path:
        return {}
    file = Path(path)
    if not file.is_file():
        raise DeclarationError(f"{CONFIG_VARIABLE}={path!r}: no such file")
    return parse_overrides(file.read_text(encoding="utf-8"), origin=f"{CONFIG_VARIABLE}={path}")


def load_modules(overrides: Mapping[str, Any] | None = None) -> dict[str, Module]:
    """Every module, in A–J order, with ``overrides`` (default: the config file's) applied."""
    overrides = file_overrides() if overrides is None else overrides
    loaded = {}
    for module_id in MODULE_IDS:
        module = _import(module_id)
        declaration = apply_overrides(module.declaration, overrides.get(module_id), origin=CONFIG_VARIABLE)
        loaded[module_id] = Module(declaration, module.schema, module.rows, module.doc)
    return loaded
