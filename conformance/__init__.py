"""The project's own conformance suite, in the public layout (data only; see README.md).

Installed with wraprun as the package ``wraprun.conformance_suite``.
"""
