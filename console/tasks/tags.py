"""Printed tags a guard scans (QR labels, NFC tags): a zone's location label, proving where a guard
stands, and a patrol checkpoint's label. Their codes cannot be forged or typed from a list:

    mcc:loc:<site>/<building>/<floor>/<zone>/<issue>.<signature>
    mcc:cp:<site>/<checkpoint id>/<issue>.<signature>

The signature is HMAC-SHA256 over the kind, site, body and issue with the site's secret (kept in the
store, never sent to a page), in base32, cut to 20 characters (100 bits). Reprinting a label
(``reissue``) raises the tag's issue number: the old label stops working at once, so a photocopied
or stolen label can be retired. A code is refused, with a stable reason, when it is not an MCC code,
is a plain code from before signing, names another site, carries a wrong signature (forged) or an
old issue (re-issued).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.store.database import Store
from console.store.tables import CheckpointRow, SiteKeyRow, TagIssueRow
from console.tasks.places import Place, PlaceError

KINDS = {"loc": "mcc:loc:", "cp": "mcc:cp:"}
SIGNATURE_LENGTH = 20


class TagRefused(PlaceError):
    """A scanned code that is not a valid tag of this console's sites (422)."""


@dataclass(frozen=True)
class Tag:
    """What a verified code names."""

    kind: str
    """``loc`` (a zone) or ``cp`` (a patrol checkpoint)."""
    site: str
    place: Place | None = None
    """The zone (a checkpoint's tag: the checkpoint's zone)."""
    checkpoint: int | None = None
    issue: int = 1

    @property
    def key(self) -> str:
        """The tag's name in ``tag_issues``."""
        return checkpoint_key(self.checkpoint) if self.checkpoint is not None else tag_key(self.place or Place())


def tag_key(place: Place) -> str:
    return f"loc:{place.building}/{place.floor}/{place.zone}"


def checkpoint_key(checkpoint: int) -> str:
    return f"cp:{checkpoint}"


class TagBook:
    """Signs and verifies the tags of the sites this console serves."""

    def __init__(self, sites: set[str]):
        self.sites = sites
        self._secrets: dict[str, bytes] = {}

    # -- keys ----------------------------------------------------------------------------------

    def ensure_keys(self, store: Store, now: datetime) -> None:
        """Create each served site's secret once (at start; two instances racing keep the first)."""
        for site in sorted(self.sites):
            self._secret_or_create(store, site, now)

    def _secret_or_create(self, store: Store, site: str, now: datetime) -> bytes:
        with store.write() as session:
            try:
                with session.begin():
                    if session.get(SiteKeyRow, site) is None:
                        session.add(SiteKeyRow(site=site, secret=secrets.token_hex(32), created_at=now))
            except IntegrityError:
                pass  # another instance made it first: theirs is the key
        with store.read() as session:
            return self._secret(session, site)

    def _secret(self, session: Session, site: str) -> bytes:
        cached = self._secrets.get(site)
        if cached is None:
            row = session.get(SiteKeyRow, site)
            if row is None:
                raise TagRefused("tag.no_key", f"site {site!r} has no tag key yet; restart the console", site=site)
            cached = self._secrets[site] = bytes.fromhex(row.secret)
        return cached

    # -- codes ---------------------------------------------------------------------------------

    def issue_of(self, session: Session, site: str, key: str) -> int:
        row = session.get(TagIssueRow, (site, key))
        return row.issue if row is not None else 1

    def code(self, session: Session, site: str, *, place: Place | None = None, checkpoint: int | None = None) -> str:
        """The current printable code of a zone's label or a checkpoint's label."""
        kind, body, key = _body(place, checkpoint)
        issue = self.issue_of(session, site, key)
        return f"{KINDS[kind]}{site}/{body}/{issue}.{self._sign(session, kind, site, body, issue)}"

    def reissue(self, session: Session, site: str, user: str, now: datetime, *, place: Place | None = None,
                checkpoint: int | None = None) -> str:
        """A new label for the tag; every earlier label of it is refused from now on."""
        _kind, _body_text, key = _body(place, checkpoint)
        row = session.get(TagIssueRow, (site, key), with_for_update=True)
        if row is None:
            row = TagIssueRow(site=site, tag=key, issue=1, issued_at=now, issued_by=user)
            session.add(row)
        row.issue, row.issued_at, row.issued_by = row.issue + 1, now, user
        session.flush()
        return self.code(session, site, place=place, checkpoint=checkpoint)

    def read(self, session: Session, code: str) -> Tag:
        """Verify a scanned code and say what it names; ``TagRefused`` with its reason otherwise."""
        text = code.strip()
        kind = next((k for k, prefix in KINDS.items() if text.startswith(prefix)), None)
        if kind is None:
            raise TagRefused("place.not_code", "not an MCC tag (it starts with mcc:loc: or mcc:cp:)")
        parts = text[len(KINDS[kind]):].split("/")
        site = parts[0]
        if site not in self.sites:
            raise TagRefused("place.other_site", f"this code belongs to site {site!r}, not one of this console's",
                             site=site)
        if kind == "loc" and len(parts) == 4:
            raise TagRefused("tag.unsigned", "an unsigned location code from before signed labels: print the label anew")
        if len(parts) != (5 if kind == "loc" else 3) or "." not in parts[-1]:
            raise TagRefused("place.bad_format", "not a complete MCC tag: scan the printed label")
        issue_text, _, signature = parts[-1].partition(".")
        body = "/".join(parts[1:-1])
        if not issue_text.isdigit() or not 0 < int(issue_text) < 1_000_000:
            raise TagRefused("place.bad_format", "not a complete MCC tag: scan the printed label")
        issue = int(issue_text)
        expected = self._sign(session, kind, site, body, issue)
        if not hmac.compare_digest(expected.encode(), signature.upper().encode()):
            raise TagRefused("tag.forged", "this code was not printed by this console (its signature is wrong)")
        if kind == "loc":
            tag = Tag("loc", site, place=Place(parts[1], parts[2], parts[3]), issue=issue)
        else:
            checkpoint = session.get(CheckpointRow, int(parts[1])) if parts[1].isdigit() else None
            if checkpoint is None or checkpoint.site != site or not checkpoint.active:
                raise TagRefused("tag.checkpoint_gone", "this checkpoint is no longer on any route; take the label down")
            tag = Tag("cp", site, place=Place(checkpoint.building, checkpoint.floor, checkpoint.zone),
                      checkpoint=checkpoint.id, issue=issue)
        current = self.issue_of(session, site, tag.key)
        if issue != current:
            raise TagRefused("tag.reissued", "this label was replaced by a newer print; use the new label",
                             issue=issue, current=current)
        return tag

    def _sign(self, session: Session, kind: str, site: str, body: str, issue: int) -> str:
        message = f"{kind}|{site}|{body}|{issue}".encode()
        digest = hmac.new(self._secret(session, site), message, hashlib.sha256).digest()
        return base64.b32encode(digest).decode()[:SIGNATURE_LENGTH]


def _body(place: Place | None, checkpoint: int | None) -> tuple[str, str, str]:
    if place is not None:
        return "loc", f"{place.building}/{place.floor}/{place.zone}", tag_key(place)
    if checkpoint is None:
        raise ValueError("a tag names a place or a checkpoint")
    return "cp", str(checkpoint), checkpoint_key(checkpoint)
