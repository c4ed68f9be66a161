"""People and what they leave behind: users, roles and logins, the hash-chained audit log, the
wall displays' heartbeats, shift and daily reports, drills, and the duty log the people on duty sign."""
