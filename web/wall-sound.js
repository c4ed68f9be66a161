// The wall's sound, synthesised in the page (no audio files): a siren for urgent alarms that loops
// until they are acknowledged, three beeps for major, a chime for minor; the browser's autoplay rule
// (no sound before a gesture) is said plainly and the choice is remembered.
import { t } from "./i18n.js";
import { SEVERITY_RANK, $, setText, state, storeGet, storeSet, sevOf, isUrgent } from "./wall-state.js";

const STORE_SOUND = "mcc.wall.sound";

/** A mono 16-bit PCM WAV of `seconds`, sample by sample from fn(t) in -1..1, as a Blob URL. */
function wavUrl(seconds, fn, rate = 22050) {
  const n = Math.round(seconds * rate);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o, s) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, "RIFF");
  v.setUint32(4, 36 + n * 2, true);
  str(8, "WAVE");
  str(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, "data");
  v.setUint32(40, n * 2, true);
  for (let i = 0; i < n; i += 1) {
    const s = Math.max(-1, Math.min(1, fn(i / rate)));
    v.setInt16(44 + i * 2, Math.round(s * 32767), true);
  }
  return URL.createObjectURL(new Blob([buf], { type: "audio/wav" }));
}

const TAU = Math.PI * 2;
const env = (x, len, edge = 0.01) => Math.min(1, x / edge, (len - x) / edge); // click-free edges

const SOUNDS = {
  // critical: a two-tone siren (960/770 Hz, 4 Hz) for 1.6 s — unmistakable, loops until acknowledged
  critical: () => wavUrl(1.6, (x) => 0.8 * Math.sin(TAU * (Math.floor(x * 4) % 2 ? 770 : 960) * x) * env(x, 1.6)),
  // major: three quick 880 Hz beeps, then a pause
  major: () => wavUrl(1.2, (x) => {
    const k = Math.floor(x / 0.2);
    const y = x - k * 0.2;
    return k < 3 && y < 0.13 ? 0.6 * Math.sin(TAU * 880 * x) * env(y, 0.13) : 0;
  }),
  // minor: one soft falling chime
  minor: () => wavUrl(0.9, (x) => 0.45 * Math.exp(-4 * x) * Math.sin(TAU * (660 - 120 * x) * x) * env(x, 0.9)),
  probe: () => wavUrl(0.25, () => 0),
};

export const sound = {
  pref: storeGet(STORE_SOUND) === "on" ? "on" : "off",
  state: "off", // on | off | blocked
  els: {},
  ready: false,
  gestureArmed: false, // the pointer/key listeners of the blocked state are in place
  looping: null,

  init() {
    for (const name of Object.keys(SOUNDS)) {
      const a = $(`sound-${name}`);
      a.src = SOUNDS[name]();
      this.els[name] = a;
    }
    this.ready = true;
    $("sound-toggle").addEventListener("click", (e) => {
      e.stopPropagation();
      if (this.state === "on") this.disable();
      else this.enable();
    });
    if (this.pref === "on") this.unlock(false);
    else this.setState("off");
  },

  setState(s) {
    this.state = s;
    document.body.dataset.sound = s;
    $("sound-status").dataset.state = s;
    this.paint();
    if (s === "blocked" && !this.gestureArmed) {
      // the first click or key anywhere counts as the enabling gesture (one pair of listeners at a time)
      this.gestureArmed = true;
      const once = () => {
        document.removeEventListener("pointerdown", once, true);
        document.removeEventListener("keydown", once, true);
        this.gestureArmed = false;
        if (this.state === "blocked") this.unlock(true);
      };
      document.addEventListener("pointerdown", once, true);
      document.addEventListener("keydown", once, true);
    }
  },

  paint() {
    const s = this.state;
    setText($("sound-text"), t(`wall.sound.${s}`));
    const btn = $("sound-toggle");
    setText(btn, t(s === "on" ? "wall.sound.disable" : "wall.sound.enable"));
    btn.setAttribute("aria-pressed", String(s === "on"));
    const banner = $("sound-banner");
    banner.hidden = s !== "blocked";
    if (s === "blocked") setText(banner, t("wall.sound.blocked_banner"));
  },

  /** Try to play (a silent probe): it works after a gesture, or with a kiosk's autoplay flag. */
  async unlock(gesture) {
    try {
      const probe = this.els.probe;
      probe.currentTime = 0;
      await probe.play();
      this.setState("on");
      this.sync();
    } catch (err) {
      if (err && err.name === "NotAllowedError") this.setState("blocked");
      else if (gesture) this.setState("on");
      else this.setState("blocked");
    }
  },

  enable() {
    this.pref = "on";
    storeSet(STORE_SOUND, "on");
    this.unlock(true);
  },

  disable() {
    this.pref = "off";
    storeSet(STORE_SOUND, "off");
    this.stopAll();
    this.setState("off");
  },

  stopAll() {
    for (const name of ["critical", "major", "minor"]) {
      const a = this.els[name];
      if (!a) continue;
      a.loop = false;
      a.pause();
      a.currentTime = 0;
    }
    this.looping = null;
  },

  play(a, loop) {
    a.loop = loop;
    if (!loop) a.currentTime = 0;
    const p = a.play();
    if (p && p.catch) {
      p.catch((err) => {
        if (err && err.name === "NotAllowedError" && this.state === "on") this.setState("blocked");
      });
    }
  },

  channel(a) {
    const sev = sevOf(a);
    return sev === "critical" ? "critical" : sev === "major" ? "major" : "minor";
  },

  /** Urgent alarms (isUrgent: fire.alarm, critical) sound until acknowledged; the loudest decides. */
  sync() {
    if (!this.ready) return;
    let loopSev = null;
    for (const a of state.sorted) {
      if (!isUrgent(a)) continue;
      const ch = this.channel(a);
      if (!loopSev || SEVERITY_RANK[ch] < SEVERITY_RANK[loopSev]) loopSev = ch;
    }
    if (this.looping && this.looping !== loopSev) {
      const old = this.els[this.looping];
      old.loop = false;
      old.pause();
      old.currentTime = 0;
      this.looping = null;
    }
    if (!loopSev || this.state !== "on") return;
    const a = this.els[loopSev];
    this.looping = loopSev;
    if (a.paused || !a.loop) this.play(a, true);
  },

  /** Other alarms sound once when they arrive. */
  newAlarm(alarm) {
    if (this.state !== "on") return;
    if (isUrgent(alarm)) return; // the loop takes it
    const ch = this.channel(alarm);
    if (this.looping === ch) return;
    this.play(this.els[ch], false);
  },
};

