"""Handling tasks: SOP definitions (sop.py) and the per-task state machine (machine.py).
Storing tasks, timers in the store, dispatch and the pages come next."""
