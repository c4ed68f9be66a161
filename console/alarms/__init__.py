"""Alarms: the rules that say which kinds raise and clear what (and the catalogue every alarm kind
is checked against), the engine that applies them, the alarms the console derives itself, and the
JSON shapes of alarms and events the pages are sent."""
