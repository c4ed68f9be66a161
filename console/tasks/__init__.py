"""Handling tasks: SOPs as data (sop.py), the per-task state machine on an explicit clock
(machine.py), the task engine over the store (service.py) with guard dispatch (dispatch.py),
deadlines that survive restarts (deadlines.py), and the shift handover checklist."""
