"""Video: camera snapshots on alarms and plate reads (grabbed in child processes with hard time
limits), camera health (offline, dark, blurred, frozen, moved) and snapshot retention."""
