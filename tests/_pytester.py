"""What in-process pytester runs of generated projects share."""

# An in-process pytester run meets sinch_calling already imported by this suite (through
# the editable install's finder, which pytest's rewrite hook does not see), so pytest
# warns that it cannot rewrite it: a fact of the harness, not of the project under test.
REWRITE_WARNING = "ignore::pytest.PytestAssertRewriteWarning"
