"""symbols: Session.* and Task.* values, typed as the expression language expects."""

from __future__ import annotations

from wraprun import symbols
from wraprun.model import rs
from wraprun.paths import PathMapping


def value(kind: str, given: object) -> rs.TaskParameterValue:
    return rs.TaskParameterValue(type=getattr(rs.TaskParameterType, kind), value=given)


def test_task_values_are_typed_and_paths_mapped() -> None:
    rule = rs.PathMappingRule.from_dict(
        {"source_path_format": "POSIX", "source_path": "/mnt", "destination_path": "/local"}
    )
    params = {"P": value("PATH", "/mnt/a"), "F": value("FLOAT", 2.5), "I": value("INT", 7)}
    out = symbols.task(params, PathMapping([rule]))
    assert str(out["Task.Param.P"]) == "/local/a" and str(out["Task.RawParam.P"]) == "/mnt/a"
    assert out["Task.Param.F"].item() == 2.5 and str(out["Task.RawParam.F"]) == "2.5"
    assert out["Task.Param.I"].item() == 7


def test_lets_see_the_symbols_and_each_other() -> None:
    profile = rs.ModelProfile.from_strings(rs.SpecificationRevision.v2023_09, ["EXPR"]).to_expr_profile(
        rs.HostContext.none()
    )
    table = symbols.with_lets({"Param.N": rs.ExprValue(2)}, ["a = Param.N * 3", "b = a + 1"], profile)
    assert table["b"].item() == 7


def test_session_values() -> None:
    out = symbols.session("/tmp/s", "/tmp/s/rules.json", False)
    assert str(out["Session.WorkingDirectory"]) == "/tmp/s"
    assert str(out["Session.HasPathMappingRules"]) == "false"
