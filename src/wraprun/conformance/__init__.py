"""Runner for the public OpenJD conformance test format (``wraprun conformance``)."""
