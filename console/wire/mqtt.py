"""The console's one MQTT client: persistent session, QoS 1, manual ack, jittered reconnect, will.

paho runs the socket; this module owns the connection loop so that reconnect delays are
exponential with full jitter (paho's own back-off has none, and a room full of consoles
reconnecting in step after a broker restart is what jitter prevents).
"""

from __future__ import annotations

import functools
import logging
import random
import secrets
import socket
import ssl
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from console.contract import InboundMessage
from console.settings import BrokerAddress
from console.workers import Worker

if TYPE_CHECKING:
    from pathlib import Path

    from paho.mqtt.client import SocketLike

log = logging.getLogger("mcc.mqtt")


class Backoff:
    """Exponential back-off with full jitter: sleep uniform(0, min(cap, base * 2**n))."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None):
        self.base, self.cap, self.attempt = base, cap, 0
        self.rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return self.rng.uniform(self.base / 2, max(ceiling, self.base))

    def reset(self) -> None:
        self.attempt = 0


class MqttConnection(Worker):
    """Connects, subscribes on every (re)connect, hands each message to ``deliver`` with its ack."""

    def __init__(
        self,
        url: str,
        client_id: str,
        subscriptions: list[str],
        deliver: Callable[[InboundMessage], None],
        status_topic: str,
        keepalive: int = 30,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        ca_file: Path | None = None,
        may_connect: Callable[[], bool] | None = None,
        name: str = "mqtt",
    ):
        super().__init__(name)
        self.may_connect = may_connect
        """Asked before each (re)connect (in a cluster: this instance holds its name; an adopted
        session's owner is still away); None: always."""
        self.address = BrokerAddress.parse(url, ca_file)
        self.subscriptions = subscriptions
        self.status_topic = status_topic
        self.keepalive = keepalive
        self._deliver = deliver
        self._backoff = Backoff(reconnect_min, reconnect_max)
        self.connected = threading.Event()
        self.generation = 0
        """Bumped on every new connection: acks from an older connection are not sent
        (the broker redelivers those messages and they are acked then)."""
        self.connection_error: str | None = None
        self.connects = 0

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,  # persistent session: the broker queues QoS 1 while we are away
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set_context(self.address.ssl_context())
        client.will_set(status_topic, b"offline", qos=1, retain=True)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        self.client = client
        self.commands = CommandSender(self.address, client_id, keepalive)

    # -- lifecycle (the worker's) ----------------------------------------------------------------

    def interrupt(self) -> None:
        """Say offline and disconnect while the network loop still drains (run() gives it a moment)."""
        if self.connected.is_set():
            info = self.client.publish(self.status_topic, b"offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError):
                pass
            self.client.disconnect()

    def detail(self) -> dict[str, object]:
        return {"connected": self.connected.is_set(), "connects": self.connects}

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> bool:
        """Send a command (QoS 1, not retained) on a connection of its own (``CommandSender``) and
        wait for the broker's PUBACK; False if the console is not connected, or the broker did not
        confirm in time or refused it. The ingest connection never carries a command."""
        if not self.connected.is_set():
            return False
        return self.commands.publish(topic, payload, timeout)

    def ack(self, mid: int, qos: int, generation: int) -> None:
        if qos == 0 or generation != self.generation:
            return
        self.client.ack(mid, qos)

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.may_connect is not None and not self.may_connect():
                self.connection_error = "waiting: not this connection's turn to hold the session"
                self._sleep_backoff()
                continue
            try:
                self.client.connect(self.address.host, self.address.port, keepalive=self.keepalive)
            except (OSError, ssl.SSLError) as exc:
                self.connection_error = f"connect failed: {exc}"
                self._sleep_backoff()
                continue
            while not self.stopping.is_set():
                rc = self.client.loop(timeout=0.5)
                self.beat()
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
            if self.stopping.is_set():
                # Let the DISCONNECT and the offline status leave the socket.
                for _ in range(10):
                    if self.client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                        break
                break
            self.connected.clear()
            self._sleep_backoff()

    def _sleep_backoff(self) -> None:
        delay = self._backoff.next_delay()
        log.info("reconnecting to %s:%s in %.2f s", self.address.host, self.address.port, delay)
        self.stopping.wait(delay)

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, userdata: object, sock: SocketLike) -> None:
        # Nagle delays small PUBACKs and PUBLISHes by tens of milliseconds; alarms are small.
        if isinstance(sock, socket.socket):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason: mqtt.ReasonCode, properties: object) -> None:
        if reason.is_failure:
            self.connection_error = f"broker refused the connection: {reason}"
            log.error("%s", self.connection_error)
            return
        self.generation += 1
        self.connects += 1
        self._backoff.reset()
        self.connection_error = None
        log.info("connected to %s:%s (session present: %s)", self.address.host, self.address.port,
                 flags.session_present)
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: mqtt.DisconnectFlags,
                       reason: mqtt.ReasonCode, properties: object) -> None:
        self.connected.clear()
        if not self.stopping.is_set():
            self.connection_error = f"disconnected: {reason}"
            log.warning("disconnected from broker: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        # Never raise here: paho would drop the connection. The hand-over only enqueues.
        generation = self.generation
        settle = functools.partial(self.ack, msg.mid, msg.qos, generation)
        try:
            message = InboundMessage(
                topic=msg.topic, payload=bytes(msg.payload), retain=bool(msg.retain), received_at=datetime.now(timezone.utc),
                qos=msg.qos, mid=msg.mid, dup=bool(msg.dup), settle=settle,
            )
        except UnicodeDecodeError:
            # A topic that is not UTF-8 cannot be stored as text; keep its bytes visible.
            message = InboundMessage(
                topic=repr(msg._topic)[:200], payload=bytes(msg.payload), retain=bool(msg.retain),
                received_at=datetime.now(timezone.utc), qos=msg.qos, mid=msg.mid, dup=bool(msg.dup), settle=settle,
            )
        self._deliver(message)


class CommandSender:
    """Commands (a barrier's open, a drill's signal) go out on a short connection of their own,
    one per command, with a clean session. A broker drops the connection of a client whose publish
    it refuses (a malformed topic); paho would send that message again on every reconnect of a
    persistent session, so on the ingest connection one bad command cut off alarm intake. Here it
    ends its own connection, is never resent, and is reported as not sent."""

    def __init__(self, address: BrokerAddress, client_id: str, keepalive: int = 30):
        self.address, self.client_id, self.keepalive = address, client_id, keepalive

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> bool:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.client_id}-cmd-{secrets.token_hex(4)}",
                             clean_session=True, protocol=mqtt.MQTTv311)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set_context(self.address.ssl_context())
        connected = threading.Event()
        client.on_connect = lambda _c, _u, _f, reason, _p: connected.set() if not reason.is_failure else None
        try:
            client.connect(self.address.host, self.address.port, keepalive=self.keepalive)
        except (OSError, ssl.SSLError) as exc:
            log.warning("command to %r not sent: connect failed: %s", topic, exc)
            return False
        client.loop_start()
        try:
            if not connected.wait(timeout):
                return False
            info = client.publish(topic, payload, qos=1, retain=False)
            info.wait_for_publish(timeout=timeout)
            return info.is_published()
        except (RuntimeError, ValueError) as exc:
            log.warning("command to %r not sent: %s", topic, exc)
            return False
        finally:
            client.disconnect()
            client.loop_stop()
