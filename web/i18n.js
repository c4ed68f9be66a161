// MCC message catalogue and tiny i18n runtime (plain ES module, no build step).
//
// Every visible string of the browser pages comes from `messages`.
// Static markup uses   data-i18n="key"                 -> textContent
//                      data-i18n-attr="attr:key;attr:key" -> attributes (aria-label, title, placeholder…)
// Dynamic code calls   t(key, params)   and re-renders from onLangChange(fn).
// Chinese (Simplified) is the default; the choice is remembered in localStorage.

import wallMessages from "./messages-wall.js";
import consoleMessages from "./messages-console.js";
import adminMessages from "./messages-admin.js";

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
    "alarms.shelved": "· 已搁置 {count} 条",
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
    "alarm.test": "演练",

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
    "kind.patrol.checkpoint_missed": "漏巡",
    "kind.patrol.round_missed": "漏巡（整轮）",
    "kind.elevator.trapped": "电梯困人",
    "kind.elevator.fault": "电梯故障",
    "kind.elevator.restore": "电梯恢复",
    "kind.power.failure": "停电",
    "kind.power.restore": "来电恢复",
    "kind.access.denied_burst": "连续认证失败",
    "kind.parking.plate_blocked": "黑名单车辆",

    // ---- task pages (/guard, /console)
    "guard.doc_title": "监控中心 · 保安任务",
    "console.doc_title": "监控中心 · 处置台",
    "conn.label": "连接状态",
    "sync.label": "提交状态",
    "sync.idle": "已同步",
    "sync.sending": "正在提交 {n} 项…",
    "sync.retrying": "网络异常，正在重试（第 {attempt} 次），{n} 项待提交",
    "sync.offline": "离线",
    "sync.offline_pending": "离线：{n} 项待提交，联网后自动重试",
    "err.session": "登录已过期，请重新登录",
    "due.left": "剩余 {d}",
    "due.overdue": "超时 {d}",
    "task.drill": "演练",
    "task.state.open": "处理中",
    "task.state.closed": "已关闭",

    "guard.title": "保安任务",
    "guard.shift_heading": "值班",
    "guard.shift_state": "在岗状态",
    "guard.on_shift": "在岗",
    "guard.off_shift": "未上岗",
    "guard.sign_on": "上岗",
    "guard.sign_off": "下岗",
    "guard.place": "当前位置",
    "guard.unknown_place": "未知（请扫描巡更点）",
    "guard.scan_heading": "扫码",
    "guard.code": "位置码",
    "guard.code_hint": "扫描二维码或输入 mcc:loc:…",
    "guard.camera": "扫码",
    "guard.camera_stop": "关闭相机",
    "guard.camera_failed": "无法打开相机，请手动输入位置码",
    "guard.scan_submit": "扫描/提交",
    "guard.need_code": "请先扫描或输入位置码",
    "guard.tasks_heading": "我的任务",
    "guard.tasks_empty": "暂无任务",
    "guard.state": "状态：{state}",
    "guard.current_step": "当前步骤：{text}",
    "guard.no_step": "当前无待办步骤",
    "guard.arrive_hint": "到达现场后扫描现场位置码，再按“到场”",
    "guard.reported_note": "已汇报，等待值班员处理",
    "guard.accept": "接单",
    "guard.decline": "拒绝",
    "guard.en_route": "出发",
    "guard.arrive": "到场",
    "guard.report": "汇报",
    "guard.report_text": "汇报内容",
    "guard.need_report": "请先填写汇报内容",
    "guard.open": "查看步骤",
    "guard.steps_heading": "现场步骤",
    "guard.steps_empty": "暂无需要保安处理的步骤",
    "guard.act_after_accept": "接单后才能操作",
    "guard.arrival_auto": "扫描现场位置码到场后自动完成",
    "guard.clear_auto": "设备报告恢复后自动完成",
    "guard.photo": "拍照上传",
    "guard.photos_heading": "照片",
    "guard.photo_alt": "现场照片 {id}",
    "guard.snapshot": "摄像机抓拍",
    "guard.snapshot_alt": "报警时的摄像机抓拍 {time}",

    "dstate.assigned": "已派遣，待接单",
    "dstate.accepted": "已接单",
    "dstate.en_route": "在途",
    "dstate.on_scene": "已到场",
    "dstate.reported": "已汇报",
    "dstate.declined": "已拒绝",
    "dstate.expired": "超时未接单",
    "dstate.replaced": "已改派",
    "dstate.cancelled": "已取消",
    "dstate.null": "—",

    "status.pending": "待定",
    "status.open": "待处理",
    "status.done": "已完成",
    "status.skipped": "已跳过",
    "role.operator_main": "主值班员",
    "role.operator_second": "副值班员",
    "role.guard": "保安",
    "role.supervisor": "主管",
    "role.project_manager": "项目经理",
    "role.engineering": "工程",

    "step.do_check": "完成",
    "step.approve": "批准",
    "step.submit": "提交",
    "step.text_label": "填写内容",
    "step.need_text": "请先填写内容",
    "step.photo": "上传照片",
    "step.dispatch_hint": "在右侧“派遣”区选择保安",
    "step.arrival_hint": "保安扫描现场位置码到场后自动完成",
    "step.clear_hint": "设备报告恢复（收到恢复信号）后自动完成",
    "step.rounds": "已完成 {n} 次，上次 {actor} · {time}",
    "step.optional": "选做",
    "step.done_by": "{actor} · {time}",
    "step.due_at": "时限 {time}",
    "step.deadline_fired": "已超时并已上报",
    "answer.yes": "是",
    "answer.no": "否",
    "answer.done": "已完成",
    "answer.approved": "已批准",
    "answer.photo": "已上传照片",
    "answer.arrival": "已扫码到场",
    "answer.ack": "已确认报警",
    "answer.cleared": "设备已报告恢复",
    "answer.dispatched": "已派 {guard}",
    "answer.deadline": "超时，按“{v}”处置",

    "field.unit_address": "单位地址",
    "field.fire_location": "起火部位",
    "field.burning_material": "燃烧物",
    "field.fire_size": "火势大小",
    "field.caller_name_phone": "报警人姓名和电话",
    "field.guard_name": "保安姓名",
    "field.called_at": "呼叫时间",
    "field.last_checkpoint": "最后打卡点",
    "field.reply": "回复情况",
    "field.plate": "车牌",
    "field.vehicle_description": "车辆特征",
    "field.lane_location": "车道位置",
    "field.time_seen": "发现时间",
    "field.direction": "行驶方向",
    "field.location": "地点",
    "field.event_time": "发生时间",
    "field.situation": "现场情况",
    "field.suspect_description": "可疑人员特征",
    "field.weapons": "是否持械",

    "console.subtitle": "报警处置台",
    "console.keys": "快捷键：J/K 选择 · Enter 打开 · C 备注 · D 派最近的保安 · X 关闭",
    "console.list_heading": "处置任务",
    "console.list_empty": "暂无进行中的任务",
    "console.count": "{n} 项",
    "console.pick": "从左侧选择一个任务（J/K 选择，Enter 打开）",
    "console.loading": "正在读取…",
    "console.no_step": "无待办步骤",
    "console.no_guard": "尚未派遣保安",
    "console.guard_state": "保安 {guard} · {state}",
    "panel.location": "位置",
    "panel.alarm": "报警编号",
    "panel.opened": "开始时间",
    "panel.assignee": "出警保安",
    "panel.steps": "处置步骤",
    "panel.dispatch": "派遣",
    "panel.comments": "备注",
    "panel.photos": "照片",
    "panel.log": "处置记录",
    "panel.close": "关闭任务",
    "panel.closed_by": "已由 {user} 于 {time} 关闭",
    "panel.close_reason": "原因：{reason}",
    "panel.score": "得分 {percent}%（按时 {on_time}，超时完成 {late}，未完成 {missed}）",
    "dispatch.nearest": "派最近的保安",
    "dispatch.proposals": "空闲保安（由近到远）",
    "dispatch.none": "没有空闲的在岗保安",
    "dispatch.send": "派遣 {guard}",
    "dispatch.tried": "已尝试",
    "dispatch.current": "派遣记录",
    "dispatch.empty": "尚未派遣",
    "dispatch.assigned_at": "派遣于 {time}",
    "dispatch.accept_by": "接单时限",
    "dispatch.report": "汇报：{text}",
    "dist.zone": "同一区域",
    "dist.floor": "同一楼层",
    "dist.floors": "相隔 {n} 层",
    "dist.same_building": "同一楼栋",
    "dist.building": "其他楼栋",
    "dist.unknown": "位置未知",
    "comment.label": "备注内容",
    "comment.add": "添加备注",
    "comment.need": "请先填写备注内容",
    "close.reason": "关闭原因",
    "close.button": "关闭任务",
    "close.condition": "关闭条件：{text}",
    "photos.empty": "暂无照片",
    "photos.alt": "照片 {id}（{who}）",
    "log.col.time": "时间",
    "log.col.actor": "操作人",
    "log.col.action": "动作",
    "log.col.step": "步骤",
    "log.col.detail": "详情",
    "log.opened": "创建任务",
    "log.answer": "完成步骤",
    "log.comment": "备注",
    "log.photo": "上传照片",
    "log.dispatch": "派遣",
    "log.no_free_guard": "无空闲保安",
    "log.declined": "保安拒绝",
    "log.accepted": "保安接单",
    "log.en_route": "保安出发",
    "log.on_scene": "保安到场",
    "log.reported": "保安汇报",
    "log.dispatch_expired": "接单超时",
    "log.deadline": "步骤超时",
    "log.repeat": "报警重复",
    "log.alarm_cleared": "报警恢复",
    "log.close": "关闭任务",
    "log.notified": "已通知",
    "log.by.alarm_ack": "确认报警",
    "log.by.arrival": "扫码到场",
    "log.by.alarm_clear": "设备恢复",
    "log.effect.notify": "已通知",
    "log.effect.redispatch": "改派",
    "log.effect.advanced": "按默认答案处置",
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
    "alarms.shelved": "· {count} shelved",
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
    "alarm.test": "DRILL",

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
    "kind.patrol.checkpoint_missed": "Missed patrol checkpoint",
    "kind.patrol.round_missed": "Missed patrol round",
    "kind.elevator.trapped": "People trapped in a lift",
    "kind.elevator.fault": "Lift fault",
    "kind.elevator.restore": "Lift restored",
    "kind.power.failure": "Power failure",
    "kind.power.restore": "Power restored",
    "kind.access.denied_burst": "Repeated access denials",
    "kind.parking.plate_blocked": "Blacklisted plate",

    // ---- task pages (/guard, /console)
    "guard.doc_title": "Monitoring Center · Guard tasks",
    "console.doc_title": "Monitoring Center · Task console",
    "conn.label": "Connection",
    "sync.label": "Pending changes",
    "sync.idle": "All saved",
    "sync.sending": "Sending {n}…",
    "sync.retrying": "Network problem, retrying (attempt {attempt}); {n} waiting",
    "sync.offline": "Offline",
    "sync.offline_pending": "Offline: {n} waiting, sent when back online",
    "err.session": "Your session has expired; please sign in again",
    "due.left": "{d} left",
    "due.overdue": "overdue {d}",
    "task.drill": "DRILL",
    "task.state.open": "Open",
    "task.state.closed": "Closed",

    "guard.title": "Guard tasks",
    "guard.shift_heading": "Shift",
    "guard.shift_state": "Shift",
    "guard.on_shift": "On shift",
    "guard.off_shift": "Off shift",
    "guard.sign_on": "Sign on",
    "guard.sign_off": "Sign off",
    "guard.place": "Current place",
    "guard.unknown_place": "Unknown (scan a checkpoint)",
    "guard.scan_heading": "Scan",
    "guard.code": "Location code",
    "guard.code_hint": "Scan the QR code or type mcc:loc:…",
    "guard.camera": "Scan QR",
    "guard.camera_stop": "Close camera",
    "guard.camera_failed": "Cannot open the camera; type the location code",
    "guard.scan_submit": "Submit scan",
    "guard.need_code": "Scan or type the location code first",
    "guard.tasks_heading": "My tasks",
    "guard.tasks_empty": "No tasks",
    "guard.state": "State: {state}",
    "guard.current_step": "Now: {text}",
    "guard.no_step": "Nothing waiting",
    "guard.arrive_hint": "At the scene, scan the location code, then press Arrived",
    "guard.reported_note": "Reported; the operator takes it from here",
    "guard.accept": "Accept",
    "guard.decline": "Decline",
    "guard.en_route": "On my way",
    "guard.arrive": "Arrived",
    "guard.report": "Report",
    "guard.report_text": "Report",
    "guard.need_report": "Write the report first",
    "guard.open": "Show steps",
    "guard.steps_heading": "Steps at the scene",
    "guard.steps_empty": "No steps for the guard right now",
    "guard.act_after_accept": "Accept the task first",
    "guard.arrival_auto": "Done when you scan the location code at the scene",
    "guard.clear_auto": "Done when the device reports it restored",
    "guard.photo": "Take photo",
    "guard.photos_heading": "Photos",
    "guard.photo_alt": "Photo {id}",
    "guard.snapshot": "Camera snapshot",
    "guard.snapshot_alt": "Camera snapshot at the alarm {time}",

    "dstate.assigned": "Assigned, not accepted",
    "dstate.accepted": "Accepted",
    "dstate.en_route": "On the way",
    "dstate.on_scene": "On scene",
    "dstate.reported": "Reported",
    "dstate.declined": "Declined",
    "dstate.expired": "Not accepted in time",
    "dstate.replaced": "Replaced",
    "dstate.cancelled": "Cancelled",
    "dstate.null": "—",

    "status.pending": "Pending",
    "status.open": "Open",
    "status.done": "Done",
    "status.skipped": "Skipped",
    "role.operator_main": "Main operator",
    "role.operator_second": "Second operator",
    "role.guard": "Guard",
    "role.supervisor": "Supervisor",
    "role.project_manager": "Project manager",
    "role.engineering": "Engineering",

    "step.do_check": "Done",
    "step.approve": "Approve",
    "step.submit": "Submit",
    "step.text_label": "Text",
    "step.need_text": "Write something first",
    "step.photo": "Upload photo",
    "step.dispatch_hint": "Choose a guard in Dispatch on the right",
    "step.arrival_hint": "Done when the guard scans the location code at the scene",
    "step.clear_hint": "Done when the device reports it restored (its restore signal)",
    "step.rounds": "done {n} times, last by {actor} · {time}",
    "step.optional": "optional",
    "step.done_by": "{actor} · {time}",
    "step.due_at": "due {time}",
    "step.deadline_fired": "overdue, escalated",
    "answer.yes": "Yes",
    "answer.no": "No",
    "answer.done": "Done",
    "answer.approved": "Approved",
    "answer.photo": "Photo uploaded",
    "answer.arrival": "Arrival scanned",
    "answer.ack": "Alarm acknowledged",
    "answer.cleared": "The device reported it restored",
    "answer.dispatched": "Sent {guard}",
    "answer.deadline": "No answer in time; handled as \"{v}\"",

    "field.unit_address": "Unit and address",
    "field.fire_location": "Where it burns",
    "field.burning_material": "What burns",
    "field.fire_size": "How big",
    "field.caller_name_phone": "Caller name and phone",
    "field.guard_name": "Guard",
    "field.called_at": "Called at",
    "field.last_checkpoint": "Last checkpoint",
    "field.reply": "Reply",
    "field.plate": "Plate",
    "field.vehicle_description": "Vehicle",
    "field.lane_location": "Lane",
    "field.time_seen": "Time seen",
    "field.direction": "Direction",
    "field.location": "Place",
    "field.event_time": "Time",
    "field.situation": "Situation",
    "field.suspect_description": "Suspect",
    "field.weapons": "Weapons",

    "console.subtitle": "Alarm handling console",
    "console.keys": "Keys: J/K select · Enter open · C comment · D send nearest guard · X close",
    "console.list_heading": "Tasks",
    "console.list_empty": "No open tasks",
    "console.count": "{n} open",
    "console.pick": "Choose a task on the left (J/K to select, Enter to open)",
    "console.loading": "Loading…",
    "console.no_step": "Nothing waiting",
    "console.no_guard": "No guard sent yet",
    "console.guard_state": "Guard {guard} · {state}",
    "panel.location": "Location",
    "panel.alarm": "Alarm",
    "panel.opened": "Opened",
    "panel.assignee": "Guard",
    "panel.steps": "Steps",
    "panel.dispatch": "Dispatch",
    "panel.comments": "Comments",
    "panel.photos": "Photos",
    "panel.log": "Task log",
    "panel.close": "Close task",
    "panel.closed_by": "Closed by {user} at {time}",
    "panel.close_reason": "Reason: {reason}",
    "panel.score": "Score {percent}% (on time {on_time}, late {late}, missed {missed})",
    "dispatch.nearest": "Send nearest guard",
    "dispatch.proposals": "Free guards, nearest first",
    "dispatch.none": "No free guard on shift",
    "dispatch.send": "Send {guard}",
    "dispatch.tried": "tried",
    "dispatch.current": "Dispatches",
    "dispatch.empty": "No guard sent yet",
    "dispatch.assigned_at": "sent {time}",
    "dispatch.accept_by": "accept within",
    "dispatch.report": "Report: {text}",
    "dist.zone": "same zone",
    "dist.floor": "same floor",
    "dist.floors": "{n} floors away",
    "dist.same_building": "same building",
    "dist.building": "another building",
    "dist.unknown": "place unknown",
    "comment.label": "Comment",
    "comment.add": "Add comment",
    "comment.need": "Write the comment first",
    "close.reason": "Reason for closing",
    "close.button": "Close task",
    "close.condition": "Close when: {text}",
    "photos.empty": "No photos",
    "photos.alt": "Photo {id} ({who})",
    "log.col.time": "Time",
    "log.col.actor": "Who",
    "log.col.action": "Action",
    "log.col.step": "Step",
    "log.col.detail": "Detail",
    "log.opened": "Opened",
    "log.answer": "Step done",
    "log.comment": "Comment",
    "log.photo": "Photo",
    "log.dispatch": "Dispatch",
    "log.no_free_guard": "No free guard",
    "log.declined": "Guard declined",
    "log.accepted": "Guard accepted",
    "log.en_route": "Guard on the way",
    "log.on_scene": "Guard on scene",
    "log.reported": "Guard reported",
    "log.dispatch_expired": "Not accepted in time",
    "log.deadline": "Deadline",
    "log.repeat": "Alarm repeated",
    "log.alarm_cleared": "Alarm cleared",
    "log.close": "Closed",
    "log.notified": "Notified",
    "log.by.alarm_ack": "Alarm acknowledged",
    "log.by.arrival": "Arrival scanned",
    "log.by.alarm_clear": "Device restored",
    "log.effect.notify": "notified",
    "log.effect.redispatch": "re-dispatched",
    "log.effect.advanced": "default answer taken",
  },
};

// Each page's own catalogue joins the shared one; a key defined twice is a mistake (reported in the console).
for (const part of [wallMessages, consoleMessages, adminMessages]) {
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries(part[lang] || {})) {
      if (key in messages[lang]) console.error(`mcc: message key ${key} defined twice`);
      messages[lang][key] = text;
    }
  }
}

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
