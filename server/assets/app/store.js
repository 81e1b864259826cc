// The phone's durable state, in IndexedDB: what survives a reload, a
// closed tab, a killed browser and a phone restart.
//   meta     key → value: the account and device (tokens, actor, next seq),
//            the cursor and resume token, the schema, the inbox;
//   records  id → the record's stored form (PROTOCOL.md, format 2);
//   outbox   seq → a change made here and not yet acknowledged;
//   refused  seq → {change, code, message}: refused by the server, kept
//            for the user to see (never dropped);
//   photos   sha256 → {sha256, media_type, size, blob, seq}: the bytes of a
//            photo taken here, kept until the server has them.
// Every write that must go together (a change, its record and the next
// seq; a pulled page and the cursor after it) is one transaction: a tab
// killed in the middle leaves either all of it or none.

const NAME = "gridsync";
const VERSION = 3;

export function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, VERSION);
    req.onupgradeneeded = (ev) => {
      const db = req.result;
      if (ev.oldVersion < 1) {
        db.createObjectStore("meta");
        const records = db.createObjectStore("records", { keyPath: "id" });
        records.createIndex("grid", "grid");
        db.createObjectStore("outbox", { keyPath: "seq" });
        db.createObjectStore("refused", { keyPath: "seq" });
      }
      if (ev.oldVersion < 2) db.createObjectStore("photos", { keyPath: "sha256" });
      if (ev.oldVersion < 3) req.transaction.objectStore("records").createIndex("collection", "collection");
    };
    req.onsuccess = () => resolve(new Store(req.result));
    req.onerror = () => reject(req.error);
  });
}

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  tx.onerror = () => reject(tx.error);
});
const result = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

export class Store {
  constructor(db) { this.db = db; }

  async get(key) {
    return result(this.db.transaction("meta").objectStore("meta").get(key));
  }

  async set(values) {
    const tx = this.db.transaction("meta", "readwrite");
    for (const [k, v] of Object.entries(values)) tx.objectStore("meta").put(v, k);
    return done(tx);
  }

  async record(id) {
    return result(this.db.transaction("records").objectStore("records").get(id));
  }

  /** The stored records of `ids` (undefined where none), read in one
   *  transaction. */
  async many(ids) {
    const store = this.db.transaction("records").objectStore("records");
    return Promise.all(ids.map((id) => result(store.get(id))));
  }

  async records(grid) {
    const store = this.db.transaction("records").objectStore("records");
    return result(grid ? store.index("grid").getAll(grid) : store.getAll());
  }

  /** The records of one collection (a list opens without reading the rest). */
  async ofCollection(collection) {
    return result(this.db.transaction("records").objectStore("records").index("collection").getAll(collection));
  }

  async count(store) {
    return result(this.db.transaction(store).objectStore(store).count());
  }

  async all(store) {
    return result(this.db.transaction(store).objectStore(store).getAll());
  }

  /** A change made here: its record's new state, the outbox entry, the
   *  next seq and the bytes of its photos, together. */
  async made(change, state, nextSeq, photos = []) {
    const tx = this.db.transaction(["records", "outbox", "meta", "photos"], "readwrite");
    tx.objectStore("records").put(state);
    tx.objectStore("outbox").put(change);
    tx.objectStore("meta").put(nextSeq, "next_seq");
    for (const p of photos) tx.objectStore("photos").put({ ...p, seq: change.seq });
    return done(tx);
  }

  async photo(sha256) {
    return result(this.db.transaction("photos").objectStore("photos").get(sha256));
  }

  async uploaded(sha256) {
    const tx = this.db.transaction("photos", "readwrite");
    tx.objectStore("photos").delete(sha256);
    return done(tx);
  }

  /** A sync's answer: acknowledged changes out of the outbox, refused ones
   *  into `refused`, the pulled states, and the cursor after them, together. */
  async synced({ acknowledged = [], refused = [], states = [], meta = {} }) {
    const tx = this.db.transaction(["records", "outbox", "refused", "meta"], "readwrite");
    for (const seq of acknowledged) tx.objectStore("outbox").delete(seq);
    for (const r of refused) {
      tx.objectStore("outbox").delete(r.change.seq);
      tx.objectStore("refused").put({ seq: r.change.seq, ...r });
    }
    for (const s of states) tx.objectStore("records").put(s);
    for (const [k, v] of Object.entries(meta)) tx.objectStore("meta").put(v, k);
    return done(tx);
  }

  /** Forget the account (signing out of a device that has nothing unsent). */
  async clear() {
    const all = ["records", "outbox", "refused", "meta", "photos"];
    const tx = this.db.transaction(all, "readwrite");
    for (const s of all) tx.objectStore(s).clear();
    return done(tx);
  }
}
