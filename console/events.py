"""Canonical events: frozen models, one family per group of kinds, discriminated on ``kind``.

Adapters produce ``Draft`` objects from vendor payloads; ``validate_event`` turns a draft into a
typed ``Event`` or raises PayloadError with a reason an admin can read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from console.contract import (
    ALL_KINDS,
    AccessKind,
    BatteryKind,
    CameraKind,
    DeviceKind,
    DoorKind,
    Draft,
    ElevatorKind,
    FireKind,
    ParkingFaultKind,
    ParkingPassKind,
    PatrolKind,
    PowerKind,
    RestoreKind,
    SafetyKind,
    control_character,
    family,
    unclean,
)
from console.errors import PayloadError


class EventData(BaseModel):
    """Kind-specific fields. Known fields are typed; vendors' extra fields are kept as they came."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    test: bool = Field(False, description="Sent in test mode (panel test, drill); never a real KPI.")


class FireData(EventData):
    cause: str | None = None
    zone: str | None = None


class AccessData(EventData):
    card: str | None = Field(None, max_length=128)
    person: str | None = Field(None, max_length=128)
    direction: Literal["in", "out"] | None = None
    reason: str | None = Field(None, max_length=256)


class DoorData(EventData):
    door: str | None = Field(None, max_length=128)
    duration_s: float | None = Field(None, ge=0)


class ParkingData(EventData):
    plate: str | None = Field(None, max_length=16)
    plate_color: str | None = Field(None, max_length=16)
    lane: str | None = Field(None, max_length=64)
    fee: float | None = Field(None, ge=0)


class FaultData(EventData):
    code: str | None = Field(None, max_length=64)
    cause: str | None = Field(None, max_length=256)


class BatteryData(EventData):
    battery: float | None = Field(None, ge=0, le=100)


class ElevatorData(EventData):
    car: str | None = Field(None, max_length=64, description="The lift's number or name (1号梯).")
    floor: str | None = Field(None, max_length=16, description="Where the car stands (3F, B1).")
    people: int | None = Field(None, ge=0, le=100, description="How many people are in the car, if known.")
    code: str | None = Field(None, max_length=64, description="The lift controller's fault code.")
    cause: str | None = Field(None, max_length=256)


class PowerData(EventData):
    on_backup: bool | None = Field(None, description="The panel or gateway runs on its backup battery.")
    supply: str | None = Field(None, max_length=64, description="What lost mains: a panel, a building, a feeder.")


class PatrolData(EventData):
    guard: str | None = Field(None, max_length=64)
    checkpoint: str | None = Field(None, max_length=64)
    route: str | None = Field(None, max_length=64)
    round: str | None = Field(None, max_length=64, description="The round (one walk of a route) it belongs to.")
    scanned_at: str | None = Field(None, max_length=40, description="The scan time the phone or wand gave.")
    note: str | None = Field(None, max_length=2000, description="What the guard wrote (a finding).")
    photo: str | None = Field(None, max_length=64, description="SHA-256 of the photo taken with a finding.")


class RestoreData(EventData):
    of: str | None = Field(None, description="The kind this restore clears; none = every signal of the family at the point.")


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=128)
    source_id: str = Field(min_length=1, max_length=128, description="The sender's id, for de-duplication.")
    ts: datetime = Field(description="Time at the source, timezone-aware.")
    received_at: datetime
    point: str = Field("", max_length=64, description="Sub-address: loop/zone, reader, lane.")
    retained: bool = Field(False, description="Replayed from the broker's retained store.")
    adapter: str

    @field_validator("ts", "received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp has no UTC offset")
        return value


class FireEvent(EventBase):
    kind: FireKind
    data: FireData = FireData()


class AccessEvent(EventBase):
    kind: AccessKind
    data: AccessData = AccessData()


class DoorEvent(EventBase):
    kind: DoorKind
    data: DoorData = DoorData()


class ParkingEvent(EventBase):
    kind: ParkingPassKind
    data: ParkingData = ParkingData()


class ParkingFaultEvent(EventBase):
    kind: ParkingFaultKind
    data: FaultData = FaultData()


class CameraEvent(EventBase):
    kind: CameraKind
    data: EventData = EventData()


class SafetyEvent(EventBase):
    kind: SafetyKind
    data: EventData = EventData()


class DeviceEvent(EventBase):
    kind: DeviceKind
    data: FaultData = FaultData()


class BatteryEvent(EventBase):
    kind: BatteryKind
    data: BatteryData = BatteryData()


class ElevatorEvent(EventBase):
    kind: ElevatorKind
    data: ElevatorData = ElevatorData()


class PowerEvent(EventBase):
    kind: PowerKind
    data: PowerData = PowerData()


class PatrolEvent(EventBase):
    kind: PatrolKind
    data: PatrolData = PatrolData()


class RestoreEvent(EventBase):
    kind: RestoreKind
    data: RestoreData = RestoreData()

    @field_validator("data")
    @classmethod
    def _of_is_canonical(cls, value: RestoreData) -> RestoreData:
        if value.of is not None and value.of not in ALL_KINDS:
            raise ValueError(f"data.of names an unknown kind {value.of!r}")
        return value

    @model_validator(mode="after")
    def _of_same_family(self) -> RestoreEvent:
        if self.data.of is not None and family(self.data.of) != family(self.kind):
            raise ValueError(f"{self.kind} cannot clear {self.data.of}")
        return self


Event = Annotated[
    Union[
        FireEvent, AccessEvent, DoorEvent, ParkingEvent, ParkingFaultEvent, CameraEvent,
        SafetyEvent, DeviceEvent, BatteryEvent, ElevatorEvent, PowerEvent, PatrolEvent, RestoreEvent,
    ],
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)




def validate_event(draft: Draft, adapter: str, received_at: datetime) -> Event:
    """Build the typed event for ``draft`` or raise PayloadError naming the first bad field."""
    if draft.kind not in ALL_KINDS:
        raise PayloadError(f"unknown event type {draft.kind!r}")
    names = (("site", draft.site), ("device_id", draft.device_id), ("id", draft.source_id), ("point", draft.point))
    if control_character("".join(v for _, v in names if isinstance(v, str)), name=True):  # one search, hot path
        for name, value in names:
            if isinstance(value, str) and (found := control_character(value, name=True)):
                raise PayloadError(f"invalid field {name}: control character {found}")
    if problem := unclean(draft.data, "data"):
        raise PayloadError(f"invalid field {problem}")
    try:
        return EVENT_ADAPTER.validate_python(
            {
                "kind": draft.kind,
                "site": draft.site,
                "device_id": draft.device_id,
                "source_id": draft.source_id,
                "ts": draft.ts,
                "received_at": received_at,
                "point": draft.point,
                "data": draft.data,
                "retained": draft.retained,
                "adapter": adapter,
            }
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"][1:]) or "event"
        raise PayloadError(f"invalid field {where}: {err['msg']}") from exc
