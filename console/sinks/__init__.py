"""What leaves the console after a commit: the live hub that numbers changes for the pages'
WebSockets, the time series (InfluxDB) and notifications to people (apprise)."""
