"""Review tests: one failing test per bug found in the client review (xfail where not ours to fix)."""
