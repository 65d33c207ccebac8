"""Everything one server process holds: config, workspace, rules in force, metrics, scan jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ServeConfig
from .metrics import Metrics
from .rulesets import RuleHolder
from .workspace import Workspace

if TYPE_CHECKING:  # scans imports the scan engine: only the workbench loads it
    from .scans import ScanJobs


@dataclass
class AppState:
    config: ServeConfig
    workspace: Workspace
    rules: RuleHolder
    metrics: Metrics = field(default_factory=Metrics)
    jobs: ScanJobs | None = None  # when the workbench is on

    @classmethod
    def start(cls, config: ServeConfig) -> AppState:
        ws = Workspace.open(config.workspace)

        def overrides() -> list[Path]:
            # the workspace's own file counts once it exists (the web app writes it)
            return [Path(p) for p in config.overrides] + ([ws.overrides] if ws.overrides.is_file() else [])

        return cls(config, ws, RuleHolder(config.rules, overrides))
