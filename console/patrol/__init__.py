"""Patrol rounds (巡更): the checkpoints guards walk, the routes and schedules that say when, the
rounds made from them, the scans that prove each point, and what is late or missed.

plans.py    checkpoints, routes and schedules as the control room sets them up
timing.py   when a schedule's rounds fall due, and which scan time is believed
rounds.py   rounds: made, assigned, started, scanned, finished; late and missed points found on
            stored due times, handed to the alarm path (SOP 13), findings as events
clock.py    the worker that runs rounds.py's due times, then hands the outbox (outbox.py) to the alarm path
evidence.py a defect's photo linked to its work order
reports.py  per round, per guard and per shift; the monthly completion rate
"""
