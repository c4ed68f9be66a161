"""Several console instances on one PostgreSQL (README, "A center"): the duties only one may do at
a time (election.py) and the changes every instance's WebSocket clients see, numbered once in the
store (relay.py). A single console uses neither."""
