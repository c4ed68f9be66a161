// Writes from a page that must not be lost on a bad network (the guard's phone, the console's
// steps): one at a time, in order, retried with the same action id until the server answers.
import { t } from "./i18n.js";
import { $, setText, NetworkError, ApiError } from "./api.js";

export const retryable = (err) => err instanceof NetworkError || (err instanceof ApiError && err.status >= 500);

/**
 * Writes, one at a time and in order. A write that gets no answer (network) or a 5xx is sent again,
 * with the same body and so the same action_id, after a growing pause; a 4xx is final and rejects.
 * `onChange({pending, retrying, attempt, offline})` drives the page's pending/offline indicator.
 */
export class ActionQueue {
  constructor(onChange, { baseMs = 1000, maxMs = 15000 } = {}) {
    this.onChange = onChange;
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.items = [];
    this.running = false;
    this.attempt = 0;
    this.wake = null;
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("offline", () => this.emit());
  }

  /** Queue `run` (a function making the request); resolves with its answer, rejects on a 4xx. */
  push(key, run) {
    return new Promise((resolve, reject) => {
      this.items.push({ key, run, resolve, reject });
      this.emit();
      this.drain();
    });
  }

  has(key) {
    return this.items.some((item) => item.key === key);
  }

  retryNow() {
    if (this.wake) this.wake();
  }

  state() {
    return {
      pending: this.items.length,
      retrying: this.attempt > 0,
      attempt: this.attempt,
      offline: navigator.onLine === false,
    };
  }

  emit() {
    try {
      this.onChange(this.state());
    } catch (err) {
      console.error(err);
    }
  }

  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }

  async drain() {
    if (this.running) return;
    this.running = true;
    while (this.items.length) {
      const item = this.items[0];
      try {
        const result = await item.run();
        this.items.shift();
        this.attempt = 0;
        this.emit();
        item.resolve(result);
      } catch (err) {
        if (retryable(err)) {
          this.attempt += 1;
          this.emit();
          const cap = Math.min(this.maxMs, this.baseMs * 2 ** (this.attempt - 1));
          await this.pause(cap / 2 + Math.random() * (cap / 2));
          continue;
        }
        this.items.shift();
        this.attempt = 0;
        this.emit();
        item.reject(err);
      }
    }
    this.running = false;
  }
}

/** The text of the pending/offline indicator for an ActionQueue state. */
export function syncText(s) {
  if (s.offline && s.pending) return t("sync.offline_pending", { n: s.pending });
  if (s.offline) return t("sync.offline");
  if (s.retrying) return t("sync.retrying", { n: s.pending, attempt: s.attempt });
  if (s.pending) return t("sync.sending", { n: s.pending });
  return t("sync.idle");
}

export function syncKey(s) {
  if (s.offline) return "offline";
  if (s.retrying) return "retrying";
  return s.pending ? "sending" : "idle";
}

/** Show a queue's state in the page's #sync-status indicator (its #sync-text and data-state). */
export function showSync(s) {
  $("sync-status").dataset.state = syncKey(s);
  setText($("sync-text"), syncText(s));
}
