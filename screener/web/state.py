"""Everything one server process holds: config, workspace, rules in force, metrics, scan jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import ServeConfig
from .metrics import Metrics
from .rulesets import RuleHolder
from .workspace import Workspace


@dataclass
class AppState:
    config: ServeConfig
    workspace: Workspace
    rules: RuleHolder
    metrics: Metrics = field(default_factory=Metrics)
    jobs: object = None  # scans.ScanJobs, when the workbench is on

    @classmethod
    def start(cls, config: ServeConfig) -> AppState:
        ws = Workspace.open(config.workspace)

        def overrides() -> list[Path]:
            # the workspace's own file counts once it exists (the web app writes it)
            return [Path(p) for p in config.overrides] + ([ws.overrides] if ws.overrides.is_file() else [])

        return cls(config, ws, RuleHolder(config.rules, overrides))
