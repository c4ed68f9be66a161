"""Shift, daily and monthly reports: alarms by kind, handling times (acknowledge, dispatch, arrive, close),
deadline breaches, false-alarm ratio per device, drills with their scores, the duty log, and the
patrol rounds (done, late, incomplete, missed per guard; the completion and on-time rates that the
supervisor's monthly quality check uses).

Every report also prints the audit chain's head at the time it was made (``audit_anchor``: id, hash,
time): kept on paper or in a mailbox, it lets ``mcc audit verify --anchor ID:HASH`` catch the newest
audit rows being deleted, which leaves a shorter chain that is otherwise valid.

Drills are reported on their own and never counted in the real figures. Times are medians, 90th
percentiles and maxima in seconds over the tasks opened in the window. The same figures come out
as JSON (the API), CSV (one ``section,item,metric,value`` row per figure) and printable HTML.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.devices.registry import DeviceRegistry
from console.patrol import reports as patrol_reports
from console.store import audit
from console.store.tables import AlarmRow, DispatchRow, DutyLogRow, TaskLogRow, TaskRow
from console.tasks.sop import SopBook
from console.tasks.views import drill_score

METRICS = ("to_acknowledge", "to_dispatch", "to_arrive", "to_close")
METRIC_NAMES = {
    "to_acknowledge": ("确认用时", "Time to acknowledge"),
    "to_dispatch": ("派遣用时", "Time to dispatch"),
    "to_arrive": ("到场用时", "Time to arrive"),
    "to_close": ("关闭用时", "Time to close"),
}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    title: str
    site: str | None = None
    """Only this site's alarms, tasks and duty log (a console may watch several); None: all."""
    sites: tuple[str, ...] | None = None
    """Only these sites' records (the reader's sites; with ``site``, both apply); None: every site."""


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median_s": None, "p90_s": None, "max_s": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"count": len(values), "median_s": round(statistics.median(ordered), 1), "p90_s": round(p90, 1),
            "max_s": round(ordered[-1], 1)}


def build(session: Session, book: SopBook, registry: DeviceRegistry, window: Window) -> dict[str, Any]:
    alarm_query = select(AlarmRow).where(AlarmRow.raised_at >= window.start, AlarmRow.raised_at < window.end)
    # Alarm handling only: checklists (the handover) have no alarm and are not in these figures.
    task_query = select(TaskRow).where(TaskRow.opened_at >= window.start, TaskRow.opened_at < window.end,
                                       TaskRow.alarm_id.is_not(None))
    duty_query = select(DutyLogRow).where(DutyLogRow.slot_at >= window.start, DutyLogRow.slot_at < window.end,
                                          DutyLogRow.sequence == 0)
    if window.site is not None:
        alarm_query = alarm_query.where(AlarmRow.site == window.site)
        task_query = task_query.where(TaskRow.site == window.site)
        duty_query = duty_query.where(DutyLogRow.site == window.site)
    if window.sites is not None:
        alarm_query = alarm_query.where(AlarmRow.site.in_(window.sites))
        task_query = task_query.where(TaskRow.site.in_(window.sites))
        duty_query = duty_query.where(DutyLogRow.site.in_(window.sites))
    alarms = session.scalars(alarm_query).all()
    tasks = session.scalars(task_query).all()
    task_ids = [t.id for t in tasks]
    dispatches: dict[int, list[DispatchRow]] = defaultdict(list)
    breaches: Counter[tuple[str, str]] = Counter()
    if task_ids:
        for d in session.scalars(select(DispatchRow).where(DispatchRow.task_id.in_(task_ids))
                                 .order_by(DispatchRow.assigned_at)):
            dispatches[d.task_id].append(d)
        sop_of = {t.id: t.sop_id for t in tasks if not t.drill}
        for entry in session.scalars(select(TaskLogRow).where(TaskLogRow.task_id.in_(task_ids),
                                                              TaskLogRow.action == "deadline")):
            if entry.task_id in sop_of:
                breaches[(sop_of[entry.task_id], entry.step or "")] += 1
    alarm_by_id = {a.id: a for a in alarms}
    missing = {t.alarm_id for t in tasks if t.alarm_id and t.alarm_id not in alarm_by_id}
    if missing:
        alarm_by_id.update({a.id: a for a in session.scalars(select(AlarmRow).where(AlarmRow.id.in_(missing)))})

    times: dict[str, list[float]] = {m: [] for m in METRICS}
    false_alarms: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for task in tasks:
        if task.drill:
            continue
        alarm = alarm_by_id.get(task.alarm_id) if task.alarm_id else None
        if alarm is not None and alarm.acked_at is not None and alarm.acked_at >= task.opened_at:
            # Only the task that was open when the alarm was acknowledged counts it (a task
            # reopened on an acknowledged alarm does not count the old acknowledgement again).
            times["to_acknowledge"].append((alarm.acked_at - task.opened_at).total_seconds())
        sent = dispatches.get(task.id, [])
        if sent:
            times["to_dispatch"].append((sent[0].assigned_at - task.opened_at).total_seconds())
            arrived = [d.on_scene_at for d in sent if d.on_scene_at is not None]
            if arrived:
                times["to_arrive"].append((min(arrived) - task.opened_at).total_seconds())
        if task.closed_at is not None:
            times["to_close"].append((task.closed_at - task.opened_at).total_seconds())
        sop = book.sops.get(task.sop_id)
        if sop is not None and sop.false_alarm is not None:
            state: dict[str, Any] = next((s for s in task.steps if s["id"] == sop.false_alarm.step), {})
            # Decided by a person: an answer the deadline gave ("handle as a real fire") is a
            # precaution, not a finding, and does not count either way.
            if state.get("status") == "done" and state.get("actor") != "deadline":
                verdict = "false" if state.get("answer") == sop.false_alarm.answer else "real"
                false_alarms[(task.site, task.device_id)][verdict] += 1

    real_alarms = [a for a in alarms if not a.test]
    drills = [t for t in tasks if t.drill]
    duty = session.scalars(duty_query).all()
    return {
        "title": window.title,
        "site": window.site,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "alarms_by_kind": dict(sorted(Counter(a.kind for a in real_alarms).items())),
        "kind_names": {a.kind: book.by_alarm[a.kind].title.zh for a in real_alarms if a.kind in book.by_alarm},
        "alarms_total": len(real_alarms),
        "tasks_opened": sum(1 for t in tasks if not t.drill),
        "tasks_closed": sum(1 for t in tasks if not t.drill and t.state == "closed"),
        "times": {m: _stats(v) for m, v in times.items()},
        "deadline_breaches": [{"sop": sop_id, "step": step, "count": n}
                              for (sop_id, step), n in sorted(breaches.items())],
        "false_alarms": [
            {"site": site, "device_id": device, "device_name": registry.name(site, device) or device,
             "decided": c["false"] + c["real"], "false": c["false"],
             "ratio": round(c["false"] / (c["false"] + c["real"]), 3)}
            for (site, device), c in sorted(false_alarms.items())
        ],
        "drills": [{"task_id": t.id, "sop": t.sop_id, "opened_at": t.opened_at.isoformat(), "state": t.state,
                    "score": drill_score(t, book.sops.get(t.sop_id)) if t.state == "closed" else None}
                   for t in drills],
        "duty_log": {"due": len(duty), "signed": sum(1 for d in duty if d.second_at is not None),
                     "late": sum(1 for d in duty if d.finding == "late"),
                     "missed": sum(1 for d in duty if d.finding == "missed")},
        "patrol": _patrol(session, window),
        "audit_anchor": anchor.as_dict() if (anchor := audit.head(session)) is not None else None,
    }


def _patrol(session: Session, window: Window) -> dict[str, Any]:
    """The rounds' totals and per-guard figures (each round is listed by /api/patrol/report)."""
    found = patrol_reports.figures(session, window.start, window.end, window.site, window.sites)
    return {"totals": found["totals"], "by_guard": found["by_guard"]}


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "item", "metric", "value"])
    writer.writerow(["window", report["title"], "start", report["start"]])
    writer.writerow(["window", report["title"], "end", report["end"]])
    for kind, n in report["alarms_by_kind"].items():
        writer.writerow(["alarms_by_kind", kind, "count", n])
    writer.writerow(["tasks", "all", "opened", report["tasks_opened"]])
    writer.writerow(["tasks", "all", "closed", report["tasks_closed"]])
    for metric, stats in report["times"].items():
        for key, value in stats.items():
            writer.writerow(["times", metric, key, "" if value is None else value])
    for row in report["deadline_breaches"]:
        writer.writerow(["deadline_breaches", f"{row['sop']}:{row['step']}", "count", row["count"]])
    for row in report["false_alarms"]:
        writer.writerow(["false_alarms", row["device_id"], "decided", row["decided"]])
        writer.writerow(["false_alarms", row["device_id"], "false", row["false"]])
        writer.writerow(["false_alarms", row["device_id"], "ratio", row["ratio"]])
    for row in report["drills"]:
        score = row["score"] or {}
        writer.writerow(["drills", f"task:{row['task_id']}", "percent_on_time", score.get("percent", "")])
    for metric, n in report["duty_log"].items():
        writer.writerow(["duty_log", "entries", metric, n])
    for item, figures in [("all", report["patrol"]["totals"]), *report["patrol"]["by_guard"].items()]:
        for metric, value in figures.items():
            writer.writerow(["patrol", item, metric, "" if value is None else value])
    if report.get("audit_anchor"):
        for key in ("id", "hash", "at", "token"):
            writer.writerow(["audit_anchor", "head", key, report["audit_anchor"][key]])
    return out.getvalue()


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes}分{seconds:02d}秒" if minutes else f"{seconds}秒"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def bar_chart(rows: list[tuple[str, float, str]], label: str) -> str:
    """An inline SVG bar chart (prints with the page, needs no script): one bar per (name, value,
    text shown at its end), scaled to the largest."""
    if not rows:
        return ""
    top = max(value for _name, value, _text in rows) or 1.0
    bar_h, gap, name_w, width = 18, 6, 180, 640
    height = len(rows) * (bar_h + gap)
    bars = []
    for i, (name, value, text) in enumerate(rows):
        y = i * (bar_h + gap)
        w = max(1.0, (width - name_w - 90) * value / top)
        bars.append(f'<text x="{name_w - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>'
                    f'<rect x="{name_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#555"></rect>'
                    f'<text x="{name_w + w + 4:.1f}" y="{y + 13}">{escape(text)}</text>')
    return (f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" font-size="11">' + "".join(bars) + "</svg>")


def _anchor_html(anchor: dict[str, Any] | None, local: Callable[[str], str]) -> str:
    """The line to keep: ``mcc audit verify --anchor`` takes its token."""
    if not anchor:
        return '<p class="audit-anchor">审计链锚点 / Audit anchor: 无记录 / no audit rows yet</p>'
    return (f'<p class="audit-anchor">审计链锚点 / Audit anchor（{escape(local(anchor["at"]))}）：'
            f'<code>{escape(anchor["token"])}</code></p>')


def to_html(report: dict[str, Any], site_name: str, timezone: str) -> str:
    zone = ZoneInfo(timezone)

    def local(value: str) -> str:
        return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def table(head: list[str], rows: list[list[Any]]) -> str:
        if not rows:
            return '<p class="empty">无 / none</p>'
        cells = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return ("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) +
                f"</tr></thead><tbody>{cells}</tbody></table>")

    names = report.get("kind_names", {})
    times = [[f"{METRIC_NAMES[m][0]} / {METRIC_NAMES[m][1]}", s["count"], _seconds(s["median_s"]),
              _seconds(s["p90_s"]), _seconds(s["max_s"])] for m, s in report["times"].items()]
    parts = [
        f"<h1>{escape(site_name)} · {escape(report['title'])}</h1>",
        f"<p>{local(report['start'])} — {local(report['end'])}（{escape(timezone)}）· "
        f"报警 {report['alarms_total']} 条 · 任务 {report['tasks_opened']} 个，已关闭 {report['tasks_closed']} 个</p>",
        "<h2>报警分类 / Alarms by kind</h2>",
        bar_chart([(names.get(k, k), n, str(n)) for k, n in report["alarms_by_kind"].items()],
                  "报警分类 / alarms by kind"),
        table(["类型 / kind", "处置程序 / procedure", "数量 / count"],
              [[k, names.get(k, ""), n] for k, n in report["alarms_by_kind"].items()]),
        "<h2>处置用时 / Handling times</h2>",
        bar_chart([(f"{METRIC_NAMES[m][0]} / {METRIC_NAMES[m][1]}", s["median_s"], "中位数 " + _seconds(s["median_s"]))
                   for m, s in report["times"].items() if s["median_s"] is not None], "处置用时中位数 / median times"),
        table(["指标 / metric", "任务数 / tasks", "中位数 / median", "90%", "最长 / max"], times),
        "<h2>超时 / Deadline breaches</h2>",
        table(["SOP", "步骤 / step", "次数 / count"],
              [[r["sop"], r["step"], r["count"]] for r in report["deadline_breaches"]]),
        "<h2>误报率 / False-alarm ratio per device</h2>",
        table(["设备 / device", "已判定 / decided", "误报 / false", "误报率 / ratio"],
              [[r["device_name"], r["decided"], r["false"], f"{r['ratio']:.0%}"] for r in report["false_alarms"]]),
        "<h2>值班记录 / Duty log</h2>",
        table(["应记 / due", "两人签名 / signed", "逾时 / late", "漏记 / missed"],
              [[report["duty_log"][k] for k in ("due", "signed", "late", "missed")]]),
        "<h2>巡更 / Patrol rounds</h2>",
        table(["保安 / guard", "轮次 / rounds", "完成 / done", "逾时 / late", "未完成 / incomplete", "漏巡 / missed",
               "巡更点 完成·逾时·漏巡 / points done·late·missed", "发现问题 / defects", "完成率 / completion",
               "准时率 / on time"],
              [[name, f["rounds"], f["rounds_done"], f["rounds_late"], f["rounds_incomplete"], f["rounds_missed"],
                f"{f['points_done']}·{f['points_late']}·{f['points_missed']}", f["defects"], _rate(f["completion_rate"]),
                _rate(f["on_time_rate"])]
               for name, f in [("合计 / all", report["patrol"]["totals"]), *report["patrol"]["by_guard"].items()]
               if f["rounds"]]),
        "<h2>演练 / Drills (not in the figures above)</h2>",
        table(["任务 / task", "SOP", "开始 / opened", "准时率 / on time"],
              [[r["task_id"], r["sop"], local(r["opened_at"]),
                f"{r['score']['percent']}%" if r["score"] else "进行中 / open"] for r in report["drills"]]),
        _anchor_html(report.get("audit_anchor"), local),
    ]
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(report['title'])}</title><link rel=\"stylesheet\" href=\"/static/report.css\">"
            "</head><body class=\"report\">" + "".join(parts) + "</body></html>")
