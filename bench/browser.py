"""The wall in a real browser under load: 500 active alarms on screen, then 20 events/s for the
measured period, while the page's frames, long tasks, input delay and memory are recorded.

Debian's Chromium (Playwright, headless, software rendering, 1920×1080) opens the wall as a display
user. The measuring code is injected before the wall's own scripts run, so it sees every frame.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import CST, DOORS, PANELS, SITE, cpu_seconds, make_event, percentile, publisher_client, running_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--enable-precise-memory-info", "--autoplay-policy=no-user-gesture-required"]
CLICK_EVERY = 0.5  # seconds between the measured clicks
LANG_EVERY = 5.0  # every so often the click is the language switch, which re-renders every label

# Installed before the page's scripts: frame intervals (requestAnimationFrame), long tasks, and for
# every pointer click the delay until the first listener runs and until the next frame after it.
PROBE = """
(() => {
  const m = window.__mccBench = { frames: [], longTasks: [], clicks: [], recording: false };
  let last = null;
  const frame = (ts) => {
    if (m.recording && last !== null) m.frames.push(ts - last);
    last = ts;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  try {
    new PerformanceObserver((list) => {
      if (!m.recording) return;
      for (const e of list.getEntries()) m.longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: false });
  } catch (err) { m.noLongTasks = String(err); }
  window.addEventListener("click", (e) => {
    if (!m.recording) return;
    const delay = performance.now() - e.timeStamp;
    const start = e.timeStamp;
    requestAnimationFrame(() => setTimeout(() => m.clicks.push({ delay, toFrame: performance.now() - start }), 0));
  }, true);
})();
"""


def run(db_kind: str = "sqlite", duration: float = 30.0, alarms: int = 500, rate: float = 20.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mcc-bench-browser-") as tmp, \
            running_stack(db_kind, Path(tmp), users=(("wall", "display"),)) as console:
        return _measure(console, db_kind, duration, alarms, rate)


def _alarm_events(count: int) -> list[tuple[str, bytes]]:
    """`count` distinct alarms: door-forced on every door, fire alarms on panel points for the rest."""
    out: list[tuple[str, bytes]] = []
    ts = lambda: datetime.now(CST).isoformat(timespec="milliseconds")  # noqa: E731
    for i, door in enumerate(DOORS[: min(len(DOORS), count // 10)]):
        body = {"id": f"bench-forced-{i}", "ts": ts(), "type": "access.door_forced"}
        out.append((f"mcc/v1/{SITE}/{door}/event", json.dumps(body).encode()))
    i = 0
    while len(out) < count:
        panel = PANELS[i % len(PANELS)]
        fire: dict[str, object] = {"id": f"bench-fire-{i}", "ts": ts(), "type": "fire.alarm",
                                   "point": f"9-{i:04d}", "data": {"cause": "smoke"}}
        out.append((f"mcc/v1/{SITE}/{panel}/event", json.dumps(fire).encode()))
        i += 1
    return out


def _publish_all(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = publisher_client(port, "bench-alarms")
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()


def _background(port: int, rate: float, stop: threading.Event, sent: list[int]) -> None:
    """`rate` events/s of the site's everyday mix, on an absolute schedule."""
    client = publisher_client(port, "bench-traffic")
    rng = random.Random(7)
    n = 0
    start = time.monotonic()
    try:
        while not stop.is_set():
            topic, payload = make_event(rng, f"bench-bg-{n}")
            client.publish(topic, payload, qos=1)
            n += 1
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                stop.wait(delay)
    finally:
        sent.append(n)
        client.loop_stop()
        client.disconnect()


def _active_alarms(console: Any, token: str) -> int:
    request = urllib.request.Request(f"{console.base}/api/alarms?active=true&limit=5000",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(json.loads(response.read()))


def _measure(console: Any, db_kind: str, duration: float, alarms: int, rate: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    token = console.login("wall")
    _publish_all(console.broker.port, _alarm_events(alarms))
    deadline = time.monotonic() + 120
    while (active := _active_alarms(console, token)) < alarms and time.monotonic() < deadline:
        time.sleep(0.5)
    if active < alarms:
        raise RuntimeError(f"only {active} of {alarms} alarms became active")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN").new_page()
            page.add_init_script(PROBE)
            t0 = time.monotonic()
            page.context.add_cookies([{"name": "mcc_session", "value": token, "url": console.base}])
            page.goto(f"{console.base}/wall")
            page.wait_for_selector("body[data-conn='live']", timeout=60000)
            page.wait_for_selector("[data-alarm-id]", timeout=60000)
            load_s = time.monotonic() - t0
            time.sleep(2)  # let the first render settle before recording

            stop, sent = threading.Event(), list[int]()
            traffic = threading.Thread(target=_background, args=(console.broker.port, rate, stop, sent), daemon=True)
            cpu0 = cpu_seconds(console.process.pid)
            page.evaluate("window.__mccBench.recording = true")
            traffic.start()
            started = time.monotonic()
            box = page.locator("main").first.bounding_box() or {"x": 400, "y": 400, "width": 200, "height": 200}
            lang = page.locator("#lang-switch")
            next_lang = started + LANG_EVERY
            lang_clicks = 0
            while time.monotonic() - started < duration:
                if time.monotonic() >= next_lang:
                    lang.click()
                    lang_clicks += 1
                    next_lang += LANG_EVERY
                else:
                    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                time.sleep(CLICK_EVERY)
            elapsed = time.monotonic() - started
            stop.set()
            traffic.join(10)
            cpu = cpu_seconds(console.process.pid) - cpu0
            page.evaluate("window.__mccBench.recording = false")
            measured = page.evaluate(
                "() => ({m: window.__mccBench, heap: performance.memory ? performance.memory.usedJSHeapSize : null,"
                " nodes: document.getElementsByTagName('*').length,"
                " rows: document.querySelectorAll('[data-alarm-id]').length})")
        finally:
            browser.close()
    return _report(db_kind, alarms, rate, duration, elapsed, load_s, measured, sent[0] if sent else 0,
                   lang_clicks, cpu / elapsed)


def _report(db_kind: str, alarms: int, rate: float, duration: float, elapsed: float, load_s: float,
            measured: dict[str, Any], sent: int, lang_clicks: int, console_cpu: float) -> dict[str, Any]:
    m = measured["m"]
    frames = [float(f) for f in m["frames"]]
    delays = [float(c["delay"]) for c in m["clicks"]]
    to_frame = [float(c["toFrame"]) for c in m["clicks"]]
    long_tasks = [float(d) for d in m["longTasks"]]
    r1 = lambda v: None if v != v else round(v, 1)  # noqa: E731 - NaN (no samples) becomes None
    return {
        "db": db_kind, "alarms": alarms, "rate": rate, "duration": duration, "elapsed": round(elapsed, 1),
        "events_sent": sent, "load_seconds": round(load_s, 2),
        "frames": len(frames), "fps": round(len(frames) / elapsed, 1) if elapsed else None,
        "frame_p50_ms": r1(percentile(frames, 50)), "frame_p95_ms": r1(percentile(frames, 95)),
        "frame_p99_ms": r1(percentile(frames, 99)), "frame_max_ms": r1(max(frames, default=float("nan"))),
        "frames_over_50ms": sum(1 for f in frames if f > 50),
        "long_tasks": len(long_tasks), "total_blocking_ms": round(sum(max(0.0, d - 50) for d in long_tasks), 1),
        "longest_task_ms": r1(max(long_tasks, default=float("nan"))), "long_task_observer": m.get("noLongTasks", "ok"),
        "clicks": len(delays), "lang_switches": lang_clicks,
        "input_delay_p50_ms": r1(percentile(delays, 50)), "input_delay_p95_ms": r1(percentile(delays, 95)),
        "input_delay_max_ms": r1(max(delays, default=float("nan"))),
        "click_to_frame_p50_ms": r1(percentile(to_frame, 50)), "click_to_frame_p95_ms": r1(percentile(to_frame, 95)),
        "click_to_frame_max_ms": r1(max(to_frame, default=float("nan"))),
        "js_heap_mb": round(measured["heap"] / 2**20, 1) if measured.get("heap") else None,
        "dom_nodes": measured["nodes"], "alarm_rows_in_dom": measured["rows"],
        "console_cpu_share": round(console_cpu, 3),
    }
