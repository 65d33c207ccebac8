"""Which packs are in use (workspace, screener.toml, bundled), an office's own packs,
categories and department names, and refusing to screen with no rules."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import screener
from screener.cli import main
from screener.config import ConfigError, load_config, read_config

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_RULES = Path(__file__).parent / "fixtures" / "rules"
LEGAL = "legal_basis: [{law: 《野生动物保护法》, article: 第二十八条}]\n"


def pack(category: str, prefix: str, term: str, *, departments: str = "", rid: str = "001") -> str:
    return (
        f"pack: {category}\nprefix: {prefix}\n{LEGAL}{departments}rules:\n"
        f"  - id: {prefix}{rid}\n    name: {term}\n    severity: high\n    score: 60\n    terms: [{term}]\n"
        f"    examples: {{hit: [{term}手镯], miss: [手镯]}}\n"
    )


def run(*args, input=None):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, input=input)
    return res.exit_code, res.output


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An analyst's folder with its own rules/ (one pack), as the current directory."""
    monkeypatch.delenv("SCREENER_CONFIG", raising=False)
    ws = tmp_path / "ws"
    (ws / "rules").mkdir(parents=True)
    (ws / "rules" / "wildlife.yaml").write_text(pack("wildlife", "WL", "测试禁词"), encoding="utf-8")
    (ws / "in.csv").write_text("item_id,title\n1,测试禁词手镯\n2,保温杯\n", encoding="utf-8")
    (ws / "sub").mkdir()
    monkeypatch.chdir(ws / "sub")
    return ws


# -- 1: edited packs are the packs in use -----------------------------------------------------
def test_the_workspace_rules_folder_is_used_and_shown(workspace):
    code, out = run("rules", "path")
    assert code == 0 and out.splitlines()[0] == str((workspace / "rules").resolve())
    assert "workspace" in out and "bundled packs (not used)" in out
    code, out = run("scan", workspace / "in.csv", "-o", workspace / "out")
    assert code == 0, out
    assert f"rules: {workspace / 'rules'}" in out  # the active packs are printed at every scan
    hits = pq.read_table(workspace / "out" / "hits.parquet")
    assert hits.column("matched").to_pylist() == ["测试禁词"]
    # an edit is used by the next command
    (workspace / "rules" / "wildlife.yaml").write_text(pack("wildlife", "WL", "另一禁词"), encoding="utf-8")
    code, out = run("explain", "另一禁词手镯")
    assert "HIT  WL001" in out


def test_screener_toml_names_packs_extra_packs_and_overrides(workspace):
    (workspace / "local").mkdir()
    (workspace / "local" / "mine.yaml").write_text(
        pack("wildlife", "WL", "本地禁词", rid="901"), encoding="utf-8"
    )  # a second pack of a category the first already has
    (workspace / "local.yaml").write_text(
        "overrides:\n  - rule: WL001\n    reason: 本局另行处理此类线索\n    severity: low\n", encoding="utf-8"
    )
    (workspace / "screener.toml").write_text(
        '[rules]\npaths = ["rules"]\nextra = ["local"]\noverrides = ["local.yaml"]\n', encoding="utf-8"
    )
    cfg = load_config()
    src = cfg.rule_source(None)
    assert src.origin == "screener.toml" and [p.name for p in src.paths] == ["rules", "local"]
    rs = screener.load_rules()
    assert {r.id: r.severity for r in rs.packset.rules} == {"WL001": "low", "WL901": "high"}
    # explicit --rules are used alone, without the config's extra packs or overrides
    rs = screener.load_rules([workspace / "rules"])
    assert {r.id: r.severity for r in rs.packset.rules} == {"WL001": "high"}


# -- 2: an office's categories and department names --------------------------------------------
def test_office_categories_and_department_names(workspace):
    (workspace / "screener.toml").write_text(
        "[departments]\n"
        '"市公安局XX分局" = "市公安局朝阳分局"\n\n'
        "[categories.drones]\n"
        'name = "无人机违规销售"\n'
        'task = "本地专项"\n'
        'departments = ["区市场监管局", "市公安局XX分局"]\n',
        encoding="utf-8",
    )
    (workspace / "rules" / "drones.yaml").write_text(pack("drones", "DR", "黑飞改装"), encoding="utf-8")
    # a custom pack naming this office's department, not the placeholder
    (workspace / "rules" / "wildlife.yaml").write_text(
        pack("wildlife", "WL", "测试禁词", departments="departments: [区市场监管局, 区林业局, 市公安局朝阳分局]\n"),
        encoding="utf-8",
    )
    (workspace / "in.csv").write_text("item_id,title\n1,测试禁词手镯\n2,黑飞改装套件\n", encoding="utf-8")
    code, out = run("scan", workspace / "in.csv", "-o", workspace / "out", "-q")
    assert code == 0, out
    flagged = pq.read_table(workspace / "out" / "flagged.parquet").to_pylist()
    depts = {r["categories"]: r["departments"] for r in flagged}
    assert depts == {"wildlife": "区市场监管局;区林业局;市公安局朝阳分局", "drones": "区市场监管局;市公安局朝阳分局"}
    summary = json.loads((workspace / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["rules"]["categories"]["drones"]["name"] == "无人机违规销售"
    code, out = run("report", workspace / "out", "-q")
    assert code == 0
    html = (workspace / "out" / "report.html").read_text(encoding="utf-8")
    assert "无人机违规销售" in html and "本地专项" in html and "XX分局" not in html


def test_bundled_packs_take_the_office_department_name(tmp_path, monkeypatch):
    monkeypatch.delenv("SCREENER_CONFIG", raising=False)
    (tmp_path / "screener.toml").write_text('[departments]\n"市公安局XX分局" = "市公安局朝阳分局"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    rs = screener.load_rules()
    wl = next(p for p in rs.packset.packs if p.category == "wildlife")
    assert "市公安局朝阳分局" in wl.departments and "市公安局XX分局" not in wl.departments
    assert load_config().unset_placeholders() == []
    # the rule-pack hash tells the two apart
    monkeypatch.chdir(ROOT)
    assert screener.load_rules().hash != rs.hash


def test_a_custom_pack_without_the_placeholder_needs_the_office_name(workspace):
    (workspace / "rules" / "wildlife.yaml").write_text(
        pack("wildlife", "WL", "测试禁词", departments="departments: [区市场监管局, 区林业局, 市公安局朝阳分局]\n"),
        encoding="utf-8",
    )
    with pytest.raises(screener.RuleErrors) as ei:
        screener.load_rules()
    assert "市公安局XX分局" in str(ei.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[rule]\npaths = []\n", "unknown key 'rule' (did you mean 'rules'?)"),
        ('[categories.wildlife]\nname = "x"\ndepartments = ["a"]\n', "is a bundled category"),
        ('[categories.drones]\nname = "x"\n', "[categories.drones] needs departments"),
        ('[categories.drones]\nname = "x"\nscope = "shops"\ndepartments = ["a"]\n', "scope must be one of"),
        ('[report]\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ('[rules]\npaths = ["nowhere"]\n', "does not exist"),
        ("[rules\n", "not valid TOML"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path, toml, message):
    path = tmp_path / "screener.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        read_config(path)
    assert message in str(ei.value) and str(path) in str(ei.value)


# -- 4: no rules is an error -------------------------------------------------------------------
def test_no_packs_is_an_error_unless_asked_for(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    inp = tmp_path / "in.csv"
    inp.write_text("item_id,title\n1,象牙\n", encoding="utf-8")
    code, out = run("scan", inp, "-o", tmp_path / "o", "--rules", empty)
    assert code == 2 and "no rule packs" in out and not (tmp_path / "o" / "summary.json").exists()
    code, out = run("rules", "validate", "--rules", empty)
    assert code == 2 and "no rule packs" in out
    code, out = run("rules", "validate", "--rules", empty, "--allow-empty-rules")
    assert code == 0 and "ok: 0 packs" in out
    with pytest.raises(screener.RuleError, match="no rule packs"):
        screener.load_rules([empty])
    assert screener.load_rules([empty], allow_empty=True).rules == ()


def test_every_rule_disabled_is_an_error(tmp_path):
    ovr = tmp_path / "off.yaml"
    ovr.write_text(
        "overrides:\n"
        + "".join(
            f"  - rule: {r.id}\n    reason: 本局不办理此类线索\n    disable: true\n"
            for r in screener.load_rules([FIXTURE_RULES]).packset.rules
        ),
        encoding="utf-8",
    )
    with pytest.raises(screener.RuleError, match="every rule is disabled"):
        screener.load_rules([FIXTURE_RULES], [ovr])
