// Where the guard's unsent writes wait: IndexedDB, one database per guard on this phone, so that
// a reload, a killed tab or a phone restarted in the basement loses nothing. Each entry is the
// write's description ({kind, ...}, photos as Blobs), never a function.
const STORE = "outbox";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class IdbOutbox {
  constructor(user) {
    this.name = `mcc-outbox-${user}`;
    this.db = null;
  }

  async open() {
    if (this.db) return this.db;
    const req = indexedDB.open(this.name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    this.db = await request(req);
    return this.db;
  }

  async tx(mode, fn) {
    const db = await this.open();
    const tx = db.transaction(STORE, mode);
    const result = await request(fn(tx.objectStore(STORE)));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return result;
  }

  /** Every waiting entry, oldest first. */
  all() {
    return this.tx("readonly", (store) => store.getAll());
  }

  /** Keep an entry; its id. */
  add(entry) {
    return this.tx("readwrite", (store) => store.add(entry));
  }

  remove(id) {
    return this.tx("readwrite", (store) => store.delete(id));
  }
}
