"""The duty log as the paper log prints it (消防控制室值班记录表): one line per entry, the checks,
the remarks, both signatures and the content hash; corrections on their own lines under the
entry they correct. Also as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from console.people.duty_state import CHECKS

HEAD = [("时间", "time"), ("火警", "fire"), ("故障", "fault"), ("监管", "supervisory"), ("屏蔽", "isolated"),
        ("联动控制", "linkage"), ("主电", "main power"), ("备电", "backup power"), ("泵/风机自动", "pumps, fans auto"),
        ("异常情况及处理 / 备注", "remarks"), ("值班人", "on duty"), ("值班人", "on duty"), ("记录状态", "state")]
WORDS = {"auto": "自动", "manual": "手动", "unknown": "未知", "normal": "正常", "fault": "故障", "yes": "是",
         "no": "否"}
STATES = {"open": "待填写 / open", "signing": "待第二人签名 / one signature", "signed": "已签名 / signed"}
FINDINGS = {"late": "逾时 / late", "missed": "漏记 / missed"}


def _local(value: str | None, zone: ZoneInfo, fmt: str = "%H:%M") -> str:
    return datetime.fromisoformat(value).astimezone(zone).strftime(fmt) if value else ""


def _signature(sign: dict[str, Any] | None, zone: ZoneInfo) -> str:
    return f"{sign['by']} {_local(sign['at'], zone)}" if sign else ""


def _state(entry: dict[str, Any]) -> str:
    words = [STATES[entry["state"]]]
    if entry["finding"]:
        words.append(FINDINGS[entry["finding"]])
    if entry["corrected_by"]:
        words.append("已更正 / corrected → #" + ", #".join(map(str, entry["corrected_by"])))
    if not entry["intact"]:
        words.append("内容与签名不符 / content does not match its signature")
    return "；".join(words)


def _time(entry: dict[str, Any], zone: ZoneInfo) -> str:
    slot = _local(entry["slot_at"], zone)
    return f"{slot} 更正#{entry['corrects']}" if entry["corrects"] else slot


def rows(entries: list[dict[str, Any]], zone: ZoneInfo) -> list[list[str]]:
    """The printed lines: time, the checks (a value changed from the console's suggestion is marked *),
    remarks, the two signatures, the state."""
    lines = []
    for entry in entries:
        observed, changed = entry["observed"], set(entry["changed"])
        checks = [str(WORDS.get(observed.get(k), observed.get(k, ""))) + ("*" if k in changed else "")
                  for k in CHECKS]
        if entry["prefill"].get("unavailable") and not observed:
            checks = ["—"] * len(CHECKS)
        lines.append([_time(entry, zone), *checks, entry["remarks"], _signature(entry["first"], zone),
                      _signature(entry["second"], zone), _state(entry)])
    return lines


def to_csv(entries: list[dict[str, Any]], timezone: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", *(f"{zh} / {en}" for zh, en in HEAD), "content_sha256"])
    for entry, line in zip(entries, rows(entries, ZoneInfo(timezone)), strict=True):
        writer.writerow([entry["id"], *line, entry["content_sha256"] or ""])
    return out.getvalue()


def to_html(entries: list[dict[str, Any]], site_name: str, timezone: str, day: date) -> str:
    zone = ZoneInfo(timezone)
    head = "".join(f"<th>{escape(zh)}<br><small>{escape(en)}</small></th>" for zh, en in HEAD)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in line) + "</tr>"
                   for line in rows(entries, zone))
    hashes = "".join(f"<li>#{e['id']} {_time(e, zone)}: <code>{escape(e['content_sha256'])}</code></li>"
                     for e in entries if e["content_sha256"])
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>消防控制室值班记录 {day.isoformat()}</title>"
            "<link rel=\"stylesheet\" href=\"/static/report.css\"></head><body class=\"report duty-log\">"
            f"<h1>{escape(site_name)} · 消防控制室值班记录 / Fire-control room duty log</h1>"
            f"<p>{day.isoformat()}（{escape(timezone)}）· 每行由两名值班人员签名；标 * 的数值为值班人员对照控制器"
            "更正的预填值 / each line is signed by the two people on duty; * marks a value they corrected.</p>"
            + (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if body
               else '<p class="empty">无 / none</p>')
            + (f"<h2>签名内容摘要 / Signed content (SHA-256)</h2><ul class=\"hashes\">{hashes}</ul>" if hashes else "")
            + "</body></html>")
