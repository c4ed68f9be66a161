// Writes from a page that must not be lost on a bad network (the guard's phone, the console's
// steps): one at a time, in order, retried with the same action id until the server answers.
// A write is a function (kept in memory: the console) or a description {kind, ...} that
// `perform` turns into requests, kept in a store (IndexedDB on the guard's phone) until the
// server has answered it, so that a reload or a killed tab loses nothing.
import { t } from "./i18n.js";
import { $, setText, NetworkError, ApiError } from "./api.js";

export const retryable = (err) => err instanceof NetworkError || (err instanceof ApiError && err.status >= 500);
// Signed out (the session ended): the write is neither sent nor dropped; it waits for the login.
const signedOut = (err) => err instanceof ApiError && err.status === 401;

/**
 * Writes, one at a time and in order. A write that gets no answer (network) or a 5xx is sent again,
 * with the same body and so the same action_id, after a growing pause; a 4xx is final and rejects.
 * `onChange({pending, retrying, attempt, offline})` drives the page's pending/offline indicator.
 */
export class ActionQueue {
  constructor(onChange, { baseMs = 1000, maxMs = 15000, store = null, perform = null, onDone = null } = {}) {
    this.onChange = onChange;
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.store = store; // {all, add, remove}: where described writes wait (none: memory only)
    this.perform = perform; // description -> Promise of the answer
    this.onDone = onDone; // (entry, answer | null, error | null): a write restored from the store ended
    this.items = [];
    this.running = false;
    this.held = false; // true: kept writes wait (their user is not confirmed, or the session ended)
    this.attempt = 0;
    this.wake = null;
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("offline", () => this.emit());
  }

  /** The writes a reload or a killed tab left in the store: queued again, in their order. */
  async restore() {
    if (!this.store) return;
    const store = this.store;
    for (const entry of await store.all()) {
      if (!this.items.some((item) => item.store === store && item.entry && item.entry.id === entry.id)) {
        this.items.push({ key: entry.key, entry, store, saved: Promise.resolve(entry.id), resolve: null, reject: null });
      }
    }
    this.emit();
    this.drain();
  }

  /** Hold the kept writes (e.g. until the page knows who is signed in), or let them go. */
  hold(on) {
    this.held = on;
    if (!on) this.drain();
  }

  /** Another user's store: their kept writes stay in it (sent when they sign in again), and
   * leave this page's queue; writes made from now on go to ``store``. */
  switchStore(store) {
    const old = this.store;
    this.items = this.items.filter((item) => !item.entry || item.store !== old || item.running);
    this.store = store;
    this.emit();
  }

  /** Queue a write: a function making the request, or a description for `perform` (kept in the
   * store until answered). Resolves with its answer, rejects on a 4xx. */
  push(key, job) {
    return new Promise((resolve, reject) => {
      const item = { key, resolve, reject };
      if (typeof job === "function") {
        item.run = job;
      } else {
        item.entry = { ...job, key, queued_at: new Date().toISOString() };
        item.store = this.store;
        item.saved = this.store ? this.store.add(item.entry).then((id) => (item.entry.id = id)) : Promise.resolve(null);
      }
      this.items.push(item);
      this.emit();
      this.drain();
    });
  }

  /** What is still waiting to be sent (the page lists it). */
  waiting() {
    return this.items.map((item) => ({ key: item.key, entry: item.entry || null }));
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

  async settle(item) {
    if (item.entry && item.store) {
      const id = await item.saved;
      if (id !== null && id !== undefined) await item.store.remove(id); // the store it was kept in
    }
  }

  async drain() {
    if (this.running) return;
    this.running = true;
    while (this.items.length) {
      const item = this.items[0];
      if (this.held && item.entry) break;
      try {
        if (item.saved) await item.saved; // kept before it is sent: a killed tab cannot lose it
        item.running = true;
        const result = item.run ? await item.run() : await this.perform(item.entry);
        await this.settle(item);
        this.items.shift();
        this.attempt = 0;
        this.emit();
        if (item.resolve) item.resolve(result);
        else if (this.onDone) this.onDone(item.entry, result, null);
      } catch (err) {
        item.running = false;
        if (signedOut(err) && item.entry) {
          this.held = true; // the login page opens; the write is sent once signed in again
          this.emit();
          break;
        }
        if (retryable(err)) {
          this.attempt += 1;
          this.emit();
          const cap = Math.min(this.maxMs, this.baseMs * 2 ** (this.attempt - 1));
          await this.pause(cap / 2 + Math.random() * (cap / 2));
          continue;
        }
        await this.settle(item).catch(() => {});
        this.items.shift();
        this.attempt = 0;
        this.emit();
        if (item.reject) item.reject(err);
        else if (this.onDone) this.onDone(item.entry, null, err);
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
