"""Helpers of the conformance tests: where the suites are, stand-in implementations, the official runtime."""
