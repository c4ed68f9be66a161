// The pages' one WebSocket client (/ws): reconnects with exponential back-off and jitter, sends the
// login page when the session is gone, and, as a page asks for it:
//   resume     keeps the last sequence number, resumes with ?since=&stream= after a drop, drops
//              duplicates, and asks for a fresh snapshot when a change is missing (a gap);
//   heartbeat  {everyMs, message()} sent while connected and after every (re)sync;
//   reloadOnNewBuild  reloads the page when the server answers with another build of the pages.
// A "batch" frame is unpacked: the page sees one message per change, each with its own seq.

import { goLogin, isLeaving, leave, setServerTime } from "./api.js";

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 10000;
const STABLE_MS = 10000; // a connection open this long resets the back-off
const AUTH_PROBE_AFTER = 3; // failed handshakes in a row before the session is checked

export class LiveSocket {
  /**
   * @param {{onMessage: function(object): void, onState?: function(string): void,
   *   onNewBuild?: function(): void, resume?: boolean,
   *   heartbeat?: {everyMs: number, message: function(): object}|null, reloadOnNewBuild?: boolean}} options
   */
  constructor({ onMessage, onState = () => {}, onNewBuild = () => {}, resume = false,
    heartbeat = null, reloadOnNewBuild = false }) {
    Object.assign(this, { onMessage, onState, onNewBuild, resume, heartbeat, reloadOnNewBuild });
    this.ws = null;
    this.attempt = 0;
    this.failed = 0;
    this.timer = null;
    this.seq = null; // the last change applied (resume only)
    this.stream = null;
    this.resumeOk = true;
    this.awaitingResume = false;
    this.build = null;
    this.state = "connecting";
    window.addEventListener("online", () => {
      if (!this.ws && this.timer) {
        this.attempt = 0;
        this.connect();
      }
    });
  }

  start() {
    this.setState("connecting");
    if (this.heartbeat) setInterval(() => this.beat(), this.heartbeat.everyMs);
    this.connect();
  }

  setState(s) {
    this.state = s;
    this.onState(s);
  }

  url(resume) {
    const u = new URL("/ws", window.location.href);
    u.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("batch", "1"); // changes that wait together come as one frame
    if (resume) {
      u.searchParams.set("since", String(this.seq));
      if (this.stream) u.searchParams.set("stream", this.stream);
    }
    return u.toString();
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (isLeaving()) return;
    const resume = this.resume && this.resumeOk && this.seq !== null;
    this.awaitingResume = resume;
    let sock;
    try {
      sock = new WebSocket(this.url(resume));
    } catch (err) {
      console.error("mcc: cannot open WebSocket", err);
      this.schedule();
      return;
    }
    this.ws = sock;
    let openedAt = null;
    sock.onopen = () => {
      if (sock !== this.ws) return;
      openedAt = Date.now();
      this.failed = 0;
      if (resume) {
        this.setState("live");
        this.beat();
      }
    };
    sock.onmessage = (ev) => {
      if (sock === this.ws) this.receive(ev.data);
    };
    sock.onclose = (ev) => {
      if (sock !== this.ws) return;
      this.ws = null;
      if (ev.code === 4401 || ev.code === 1008) {
        this.setState("unauthorized");
        goLogin();
        return;
      }
      if (openedAt === null) this.failed += 1;
      if (openedAt !== null && Date.now() - openedAt > STABLE_MS) this.attempt = 0;
      this.setState("reconnecting");
      if (this.failed >= AUTH_PROBE_AFTER && this.failed % AUTH_PROBE_AFTER === 0) this.probe();
      this.schedule();
    };
  }

  schedule() {
    if (isLeaving() || this.timer) return;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    this.timer = setTimeout(() => this.connect(), cap / 2 + Math.random() * (cap / 2));
  }

  /** Close and connect again: with ?since= as before, or (``fresh``) for a new snapshot. */
  resync(fresh) {
    if (fresh) this.resumeOk = false;
    const old = this.ws;
    this.ws = null;
    if (old) {
      try {
        old.close(4000, "resync");
      } catch {
        /* closing anyway */
      }
    }
    this.setState("resyncing");
    this.connect();
  }

  /** A refused handshake looks like a network error (1006): ask the page itself whether we are still logged in. */
  async probe() {
    try {
      const res = await fetch(window.location.pathname + window.location.search,
        { redirect: "manual", credentials: "same-origin", cache: "no-store" });
      if (res.type === "opaqueredirect" || res.status === 401 || res.status === 403) goLogin();
    } catch {
      /* unreachable: keep trying */
    }
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    try {
      this.ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false; // closing: the next connection sends again
    }
  }

  beat() {
    if (this.heartbeat) this.send(this.heartbeat.message());
  }

  receive(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      console.warn("mcc: ignoring non-JSON message");
      return;
    }
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "batch") {
      for (const item of Array.isArray(msg.items) ? msg.items : []) this.apply(item);
    } else {
      this.apply(msg);
    }
  }

  apply(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "hello") {
      if (msg.server_time) setServerTime(msg.server_time);
      this.hello(msg.build);
      return;
    }
    if (msg.type === "snapshot") {
      setServerTime(msg.server_time);
      this.seq = typeof msg.seq === "number" ? msg.seq : null;
      this.stream = msg.stream ?? null;
      this.resumeOk = true;
      this.awaitingResume = false;
      this.onMessage(msg);
      this.setState("live");
      this.beat();
      return;
    }
    if (this.resume) {
      if (this.seq === null) return; // no baseline yet: wait for the snapshot
      if (typeof msg.seq === "number") {
        if (msg.seq <= this.seq) return; // already applied (a duplicate, a replay)
        if (msg.seq !== this.seq + 1) {
          this.resync(this.awaitingResume); // missed a change: a replay that has a gap gets a snapshot
          return;
        }
        this.seq = msg.seq;
      }
      this.awaitingResume = false;
    }
    if (this.state !== "live") this.setState("live");
    this.onMessage(msg);
  }

  hello(build) {
    if (typeof build !== "string" || !build) return;
    if (this.build === null) {
      this.build = build;
      document.body.dataset.build = build;
    } else if (build !== this.build && this.reloadOnNewBuild) {
      // The server was upgraded: load the new page (and its new scripts).
      leave();
      this.onNewBuild();
      window.location.reload();
    }
  }
}
