"""Handling tasks: SOP definitions (sop.py); the task engine, timers and dispatch come next."""
