"""One module per ``python -m explorer`` command; see :mod:`explorer.__main__`."""
