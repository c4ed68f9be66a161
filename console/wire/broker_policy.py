"""Who may do what on the broker, derived from the site file's device registry: one MQTT login per
sender and the topics it may write and read, rendered as a Mosquitto ``acl_file``.

The registry has no field that says which gateway speaks for which device, so logins follow the
adapters: each registered device of the native format gets a login named after its id (a gateway is
a device too, with role ``gateway``), and the devices of a vendor format share one login per
adapter entry (``adapter-<type>``, ``adapter-<type>-2`` for a second entry of the same type), since
a vendor bridge such as zigbee2mqtt publishes for all of them under one base topic. Only the
console's login reads the site trees and the vendor trees and writes command topics; Mosquitto
denies whatever no line allows, so nobody else can read ``#``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters import BY_NAME
from console.errors import ConfigError
from console.settings import DeviceEntry, Settings
from console.settings.devices import default_command_topic

NATIVE = "native"


@dataclass(frozen=True)
class Login:
    """One MQTT login and the topic filters it may publish to (``writes``) and receive (``reads``)."""

    name: str
    role: str
    """``console``, ``device`` (a native device or gateway), ``adapter`` (a vendor bridge) or
    ``bridge`` (a site broker bridged to this one)."""
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    readwrites: tuple[str, ...] = ()
    note: str = ""


@dataclass
class _Draft:
    name: str
    role: str
    note: str
    writes: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    readwrites: list[str] = field(default_factory=list)

    def freeze(self) -> Login:
        return Login(self.name, self.role, _unique(self.writes), _unique(self.reads), _unique(self.readwrites),
                     self.note)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))  # first-seen order, as the ACL file lists them


def device_site(settings: Settings, device: DeviceEntry) -> str:
    return device.site or settings.site.id


def command_topic(settings: Settings, device: DeviceEntry) -> str:
    """Where the console sends the device's commands (as console/api/commands.py does)."""
    return device.command_topic or default_command_topic(settings.site.id, device.id)


def _adapter_filter(settings: Settings, type_: str, topic: str | None) -> str:
    return (topic or BY_NAME[type_].topic).replace("{site}", settings.site.id)


def bridge_login(site: str) -> str:
    return f"bridge-{site}"


def plan_logins(settings: Settings, console_user: str, bridges: tuple[str, ...] = ()) -> list[Login]:
    """The console's login first, then one per native device, one per vendor adapter entry and one
    per bridged site in ``bridges`` (a site broker's bridge, see broker_bridge.py). Raises
    ConfigError when two logins would share a name or a bridged site is not in the registry."""
    mqtt_adapters = [entry for entry in settings.adapters if BY_NAME[entry.type].transport == "mqtt"]
    has_native = any(entry.type == NATIVE for entry in mqtt_adapters)
    sites = sorted({settings.site.id} | {device_site(settings, d) for d in settings.devices.entries})
    unknown = [site for site in bridges if site not in sites]
    if unknown:
        raise ConfigError([("--bridge", f"no such site in the registry: {', '.join(unknown)} "
                                        f"(known: {', '.join(sites)})")])

    console = _Draft(console_user, "console", "the console: reads every device, sends commands")
    for site in sites:
        console.reads.append(f"mcc/v1/{site}/#")
    console.writes.append(f"mcc/v1/{settings.site.id}/+/command")
    # `mcc drill start` publishes the drill's signal as the device would, with the console's login.
    console.writes.append(f"mcc/v1/{settings.site.id}/+/event")
    console.writes.append(f"mcc/console/{settings.site.id}/#")  # its own online/offline state (the will)
    console.reads.append("$SYS/broker/#")  # health checks read the broker's version and load
    for entry in mqtt_adapters:
        console.reads.append(_adapter_filter(settings, entry.type, entry.topic))

    drafts: list[_Draft] = [console]
    if has_native:
        for device in settings.devices.entries:
            if device.adapter in ("", NATIVE):
                site = device_site(settings, device)
                draft = _Draft(device.id, "device", f"{device.role} {device.name or device.name_en}".strip())
                draft.writes += [f"mcc/v1/{site}/{device.id}/event", f"mcc/v1/{site}/{device.id}/state"]
                draft.reads.append(command_topic(settings, device))
                if device.command_topic:  # the default is under the console's mcc/v1/<site>/+/command
                    console.writes.append(device.command_topic)
                drafts.append(draft)

    seen_types: dict[str, int] = {}
    for entry in mqtt_adapters:
        if entry.type == NATIVE:
            continue
        seen_types[entry.type] = seen_types.get(entry.type, 0) + 1
        count = seen_types[entry.type]
        name = f"adapter-{entry.type}" + (f"-{count}" if count > 1 else "")
        vendor_filter = _adapter_filter(settings, entry.type, entry.topic)
        # A vendor bridge subscribes under its own base topic too (zigbee2mqtt/+/set, frigate's
        # commands), so it may read and write its own tree; it reads nothing outside it but its
        # devices' command topics.
        draft = _Draft(name, "adapter", f"{entry.type} bridge on {vendor_filter}", readwrites=[vendor_filter])
        for device in settings.devices.entries:
            if device.adapter == entry.type:
                draft.reads.append(command_topic(settings, device))
                if device.command_topic:
                    console.writes.append(device.command_topic)
        drafts.append(draft)

    for site in dict.fromkeys(bridges):
        # A site broker's bridge speaks for every device of its site, and only for them: it writes
        # their events and states and reads the commands the console sends them.
        draft = _Draft(bridge_login(site), "bridge", f"the bridge from site {site}'s broker",
                       writes=[f"mcc/v1/{site}/+/event", f"mcc/v1/{site}/+/state"],
                       reads=[f"mcc/v1/{site}/+/command/#"])
        for device in settings.devices.entries:
            if device_site(settings, device) == site and device.command_topic:
                draft.reads.append(device.command_topic)
        drafts.append(draft)

    _check_unique(drafts)
    return [draft.freeze() for draft in drafts]


def _check_unique(drafts: list[_Draft]) -> None:
    seen: dict[str, str] = {}
    problems = []
    for draft in drafts:
        if ":" in draft.name or not draft.name.strip():
            problems.append((f"login {draft.name!r}", "a login has no ':' and is not empty"))
        if draft.name in seen:
            problems.append((f"login {draft.name!r}", f"used by both {seen[draft.name]} and {draft.note}"))
        seen[draft.name] = draft.note
    if problems:
        raise ConfigError(problems)


def render_acl(logins: list[Login]) -> str:
    """Mosquitto's acl_file: a ``user`` block per login. No line for anonymous clients and no
    pattern lines: a topic that no line of the client's own login allows is denied."""
    out = ["# Written by `mcc broker files` from the site file's device registry; edit the registry, not this.",
           "# Mosquitto denies every topic no line allows. Only the console reads the site's trees.", ""]
    for login in logins:
        out.append(f"# {login.role}: {login.note}" if login.note else f"# {login.role}")
        out.append(f"user {login.name}")
        out += [f"topic write {topic}" for topic in login.writes]
        out += [f"topic read {topic}" for topic in login.reads]
        out += [f"topic readwrite {topic}" for topic in login.readwrites]
        out.append("")
    return "\n".join(out)
