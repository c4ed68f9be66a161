"""Alarms: the rules that say which kinds raise and clear what, and the engine that applies them."""
