"""The wire: how signals come in and become durable. The MQTT client and the GB/T 26875.3 TCP
receiver hand each message to the single writer (writer.py), which runs the ingest (ingest.py:
adapters, validation, one transaction per batch with its alarms and tasks), commits, and only
then settles each message (the MQTT ack, the GB confirm) and hands the changes to the hub."""
