"""The one door to openjd-model's compiled layer, ``openjd._openjd_rs``.

Template semantics are openjd-model's (decoding, validation, expressions,
job creation, parameter spaces); its compiled module is private, so its name
is written here once and every other module imports it from here. The module
ships type stubs beside it; mypy reads them through ``build/stubs`` (made by
``scripts/test.sh``), because the package carries no ``py.typed`` marker.

The stubs do not list the wrap hooks of a template-side environment's
actions; the session reads those by name (see ``Session._hook``).
"""

from __future__ import annotations

from typing import TypeAlias

from openjd import _openjd_rs as rs

Environment: TypeAlias = "rs.TemplateEnvironment | rs.Environment"
"""An environment as a session enters it: template-side (wrap hooks, ``let``) or job-side."""
ActionModel: TypeAlias = "rs.TemplateAction | rs.Action"
EmbeddedFile: TypeAlias = "rs.TemplateEmbeddedFile | rs.EmbeddedFile"
StepScript: TypeAlias = "rs.StepScript | rs.TemplateStepScript"
TaskParameters: TypeAlias = "dict[str, rs.TaskParameterValue]"

__all__ = ["ActionModel", "EmbeddedFile", "Environment", "StepScript", "TaskParameters", "rs"]
