"""The conformance suite: one module per category, collected by the plugin."""
