"""Ready environment templates (data only; see README.md).

Installed with wraprun as the package ``wraprun.ready_templates``; ``wraprun templates``
lists them and ``--env NAME`` finds them by name.
"""
