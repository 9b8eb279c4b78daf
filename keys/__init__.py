"""The hub's keys: one home, one format, one rotation story (docs/operations.md, "Keys").

Nothing here imports the rest of the hub: every layer may use it.
"""
