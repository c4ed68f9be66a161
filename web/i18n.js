// MCC message catalogue and tiny i18n runtime (plain ES module, no build step).
//
// Every visible string of the browser pages comes from `messages`.
// Static markup uses   data-i18n="key"                 -> textContent
//                      data-i18n-attr="attr:key;attr:key" -> attributes (aria-label, title, placeholder…)
// Dynamic code calls   t(key, params)   and re-renders from onLangChange(fn).
// Chinese (Simplified) is the default; the choice is remembered in localStorage.

const STORAGE_KEY = "mcc.lang";
export const LANGS = ["zh", "en"];
const HTML_LANG = { zh: "zh-CN", en: "en" };

export const messages = {
  zh: {
    "app.title": "监控中心",
    "app.subtitle": "消防与安防报警墙",
    "wall.doc_title": "监控中心 · 报警墙",
    "login.doc_title": "监控中心 · 登录",

    "lang.switch": "English",
    "lang.switch_title": "切换语言 / Switch language",

    "clock.label": "现场时间",

    "conn.connecting": "正在连接…",
    "conn.live": "已连接",
    "conn.reconnecting": "连接中断，正在重连…",
    "conn.resyncing": "数据不连续，正在同步…",
    "conn.unauthorized": "未授权，正在跳转登录…",
    "conn.stale": "连接已中断 {duration}，画面数据可能不是最新",

    "alarms.heading": "报警队列",
    "alarms.summary": "共 {total} 条 · 未确认 {unacked} 条",
    "alarms.empty": "当前无报警",
    "col.severity": "级别",
    "col.kind": "类型",
    "col.location": "位置",
    "col.age": "时长",
    "col.count": "次数",
    "col.state": "状态",

    "sev.critical": "紧急",
    "sev.major": "重要",
    "sev.minor": "一般",
    "sev.warning": "提示",

    "state.unacked": "未确认",
    "state.acked": "已确认",
    "state.acked_by": "已确认 · {user}",
    "state.cleared": "已恢复",
    "state.cleared_unacked": "已恢复 · 未确认",
    "alarm.test": "测试",

    "devices.heading": "设备状态",
    "devices.online": "在线",
    "devices.offline": "离线",
    "devices.unknown": "未登记",
    "devices.total": "总数",

    "events.heading": "实时事件",
    "events.empty": "暂无事件",
    "ev.plate": "车牌 {v}",
    "ev.card": "卡号 {v}",
    "ev.person": "人员 {v}",
    "ev.of": "恢复：{v}",
    "ev.unregistered": "未登记设备",
    "dir.in": "进",
    "dir.out": "出",

    "dur.s": "{s}秒",
    "dur.ms": "{m}分{s}秒",
    "dur.hm": "{h}小时{m}分",
    "dur.dh": "{d}天{h}小时",

    "login.heading": "登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.submitting": "正在登录…",
    "login.bad_credentials": "用户名或密码错误",
    "login.too_many": "尝试次数过多，请稍后再试",
    "login.failed": "登录失败（HTTP {status}），请联系管理员",
    "login.network": "无法连接服务器，请检查网络",
    "login.required": "请输入用户名和密码",

    "kind.fire.alarm": "火警",
    "kind.fire.fault": "火警系统故障",
    "kind.fire.supervisory": "监管",
    "kind.fire.feedback": "联动反馈",
    "kind.fire.isolated": "屏蔽",
    "kind.fire.restore": "火警恢复",
    "kind.fire.reset": "系统复位",
    "kind.access.granted": "刷卡通行",
    "kind.access.denied": "拒绝通行",
    "kind.access.door_forced": "非法开门",
    "kind.access.door_held_open": "门开超时",
    "kind.access.door_closed": "门已关闭",
    "kind.access.tamper": "防拆报警",
    "kind.access.duress": "胁迫报警",
    "kind.access.restore": "门禁恢复",
    "kind.parking.entry": "车辆入场",
    "kind.parking.exit": "车辆出场",
    "kind.parking.barrier_fault": "道闸故障",
    "kind.parking.barrier_opened": "道闸开启",
    "kind.parking.unpaid_exit": "逃费",
    "kind.parking.restore": "道闸恢复",
    "kind.camera.offline": "摄像机离线",
    "kind.camera.online": "摄像机上线",
    "kind.camera.tamper": "摄像机遮挡",
    "kind.camera.motion": "移动侦测",
    "kind.camera.restore": "摄像机恢复",
    "kind.safety.gas": "可燃气体报警",
    "kind.safety.water_leak": "漏水报警",
    "kind.safety.restore": "安全报警恢复",
    "kind.device.online": "设备上线",
    "kind.device.offline": "设备离线",
    "kind.device.heartbeat": "设备心跳",
    "kind.device.battery_low": "电池电量低",
    "kind.device.fault": "设备故障",
    "kind.device.restore": "设备恢复",
    "kind.patrol.checkpoint": "巡更打卡",
  },
  en: {
    "app.title": "Monitoring Center",
    "app.subtitle": "Fire & security alarm wall",
    "wall.doc_title": "Monitoring Center · Alarm wall",
    "login.doc_title": "Monitoring Center · Sign in",

    "lang.switch": "中文",
    "lang.switch_title": "切换语言 / Switch language",

    "clock.label": "Site time",

    "conn.connecting": "Connecting…",
    "conn.live": "Connected",
    "conn.reconnecting": "Connection lost, reconnecting…",
    "conn.resyncing": "Gap in updates, resynchronising…",
    "conn.unauthorized": "Not authorised, going to sign-in…",
    "conn.stale": "Disconnected for {duration}; data on screen may be out of date",

    "alarms.heading": "Alarm queue",
    "alarms.summary": "{total} active · {unacked} unacknowledged",
    "alarms.empty": "No active alarms",
    "col.severity": "Severity",
    "col.kind": "Type",
    "col.location": "Location",
    "col.age": "Age",
    "col.count": "Count",
    "col.state": "State",

    "sev.critical": "Critical",
    "sev.major": "Major",
    "sev.minor": "Minor",
    "sev.warning": "Warning",

    "state.unacked": "Unacknowledged",
    "state.acked": "Acknowledged",
    "state.acked_by": "Acknowledged by {user}",
    "state.cleared": "Cleared",
    "state.cleared_unacked": "Cleared · unacknowledged",
    "alarm.test": "TEST",

    "devices.heading": "Devices",
    "devices.online": "Online",
    "devices.offline": "Offline",
    "devices.unknown": "Unknown",
    "devices.total": "Total",

    "events.heading": "Live events",
    "events.empty": "No events yet",
    "ev.plate": "Plate {v}",
    "ev.card": "Card {v}",
    "ev.person": "Person {v}",
    "ev.of": "Restore: {v}",
    "ev.unregistered": "Unregistered device",
    "dir.in": "In",
    "dir.out": "Out",

    "dur.s": "{s}s",
    "dur.ms": "{m}m {s}s",
    "dur.hm": "{h}h {m}m",
    "dur.dh": "{d}d {h}h",

    "login.heading": "Sign in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.submitting": "Signing in…",
    "login.bad_credentials": "Wrong username or password",
    "login.too_many": "Too many attempts, please try again later",
    "login.failed": "Sign-in failed (HTTP {status}); contact the administrator",
    "login.network": "Cannot reach the server; check the network",
    "login.required": "Enter your username and password",

    "kind.fire.alarm": "Fire alarm",
    "kind.fire.fault": "Fire system fault",
    "kind.fire.supervisory": "Supervisory",
    "kind.fire.feedback": "Linkage feedback",
    "kind.fire.isolated": "Isolated",
    "kind.fire.restore": "Fire restore",
    "kind.fire.reset": "Panel reset",
    "kind.access.granted": "Access granted",
    "kind.access.denied": "Access denied",
    "kind.access.door_forced": "Door forced open",
    "kind.access.door_held_open": "Door held open",
    "kind.access.door_closed": "Door closed",
    "kind.access.tamper": "Reader tamper",
    "kind.access.duress": "Duress",
    "kind.access.restore": "Access restore",
    "kind.parking.entry": "Vehicle entry",
    "kind.parking.exit": "Vehicle exit",
    "kind.parking.barrier_fault": "Barrier fault",
    "kind.parking.barrier_opened": "Barrier opened",
    "kind.parking.unpaid_exit": "Unpaid exit",
    "kind.parking.restore": "Parking restore",
    "kind.camera.offline": "Camera offline",
    "kind.camera.online": "Camera online",
    "kind.camera.tamper": "Camera tamper",
    "kind.camera.motion": "Motion detected",
    "kind.camera.restore": "Camera restore",
    "kind.safety.gas": "Gas alarm",
    "kind.safety.water_leak": "Water leak",
    "kind.safety.restore": "Safety restore",
    "kind.device.online": "Device online",
    "kind.device.offline": "Device offline",
    "kind.device.heartbeat": "Heartbeat",
    "kind.device.battery_low": "Battery low",
    "kind.device.fault": "Device fault",
    "kind.device.restore": "Device restore",
    "kind.patrol.checkpoint": "Patrol checkpoint",
  },
};

function readStoredLang() {
  try {
    const v = window.localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null; // storage disabled (kiosk / private mode)
  }
}

let current = readStoredLang() || "zh";
const listeners = new Set();

export function getLang() {
  return current;
}

/** Translate `key`, substituting `{name}` placeholders from `params`. */
export function t(key, params) {
  let s = messages[current][key];
  if (s === undefined) s = messages.zh[key];
  if (s === undefined) return key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m,
    );
  }
  return s;
}

export function hasKey(key) {
  return key in messages[current] || key in messages.zh;
}

/** Human label for a canonical event/alarm kind; unknown kinds are shown as-is. */
export function kindLabel(kind) {
  if (!kind) return "";
  const key = "kind." + kind;
  return hasKey(key) ? t(key) : String(kind);
}

export function severityLabel(sev) {
  const key = "sev." + sev;
  return hasKey(key) ? t(key) : String(sev || "");
}

/** "2分15秒" / "2m 15s"; hours and days for long-running alarms. */
export function formatDuration(totalSeconds) {
  let s = Math.max(0, Math.floor(totalSeconds || 0));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  s = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d > 0) return t("dur.dh", { d, h });
  if (h > 0) return t("dur.hm", { h, m: pad(m) });
  if (m > 0) return t("dur.ms", { m, s: pad(s) });
  return t("dur.s", { s });
}

/** Fill static markup (data-i18n / data-i18n-attr) under `root`. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const text = t(el.getAttribute("data-i18n"));
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.getAttribute("data-i18n-attr").split(";")) {
      const [attr, key] = pair.split(":").map((x) => x && x.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Switch language, remember it, re-render static markup and notify the page. */
export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  current = lang;
  try {
    window.localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* ignore */
  }
  document.documentElement.lang = HTML_LANG[lang];
  applyI18n(document);
  for (const fn of listeners) {
    try {
      fn(lang);
    } catch (err) {
      console.error(err);
    }
  }
}

/** Wire a <button> as the language switch (its label is the other language's name). */
export function initLangSwitch(button) {
  const sync = () => {
    const other = current === "zh" ? "en" : "zh";
    button.textContent = t("lang.switch");
    button.setAttribute("lang", HTML_LANG[other]);
    button.title = t("lang.switch_title");
    button.dataset.lang = current;
  };
  button.addEventListener("click", () => setLang(current === "zh" ? "en" : "zh"));
  onLangChange(sync);
  sync();
}

/** Apply the stored language to the page once at start-up. */
export function initI18n() {
  document.documentElement.lang = HTML_LANG[current];
  applyI18n(document);
}
