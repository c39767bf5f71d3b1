"""Click commands, one module per concept; heavy imports stay inside command bodies."""
