import Foundation
import GRDB
import MeshCrypto
import MeshGossip
import MeshWire

/// The durable `MessageStore`: SQLite through one GRDB `DatabaseQueue`, in WAL mode.
///
/// Durability: `insert` commits before it returns, and inside `transaction { }` everything is
/// committed together before `transaction` returns, so the node shows, acknowledges or forwards a
/// message only once it is committed (PROTOCOL.md 6 rule 4). What a crash can cost depends on
/// `Options.synchronous` (see `Durability` and docs/storage.md).
///
/// Not thread-safe by itself: the node uses it from its one event loop. The queue serialises
/// SQLite access anyway; `activeDatabase` is only touched on the calling thread.
public final class SQLiteMessageStore: MessageStore {
    /// `node_state` keys.
    private enum StateKey {
        static let ownSeqFloor = "own_seq_floor"
        static let lastHandshakeTimestamp = "last_handshake_timestamp"
    }

    /// The first 16 bytes of every SQLite 3 database file.
    private static let sqliteHeader = Array("SQLite format 3\0".utf8)
    /// What `PRAGMA integrity_check` answers for a sound database.
    private static let integrityOK = "ok"

    /// The file, or ":memory:".
    public let path: String
    /// The options the store was opened with.
    public let options: Options
    private let queue: DatabaseQueue
    private var lock: StoreLock?
    /// Checkpoints the WAL off the committing thread; nil in memory, and once closed.
    private var checkpointer: WALCheckpointer?
    /// The connection of the `transaction` in progress, so calls inside it join it rather than
    /// re-entering the queue (which GRDB forbids).
    private var activeDatabase: Database?
    /// `highestSeq(author: options.owner)` once read, asked for every message this node posts.
    /// Nothing else writes the file (`StoreLock`), so it stays exact: the writes that can raise it
    /// raise it too, and a rollback forgets it.
    private var ownHighestSeq: UInt64?
    /// `frontier()` as last read, until the next write: every link's sync reads it when the link
    /// comes up and again when the peer's frontier arrives, and a node reconnecting to its peers
    /// does that for each of them. Any `write` forgets it, and so does a rollback, which may undo
    /// a write the value was read after.
    private var lastFrontier: [SigningPublicKey: SeqFrontier]?

    /// Opens the store at `path`, creating it if absent, and brings its schema up to date. Refuses,
    /// without writing a byte to it, a file that is not SQLite, one another node holds, or one
    /// from a newer MeshChat.
    public init(path: String, options: Options = .init()) throws(StoreError) {
        let lock = try StoreLock(databasePath: path)
        try Self.checkHeader(path: path)
        var configuration = Configuration()
        configuration.label = "MeshStore"
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw Self.openError(error, path: path)
        }
        self.path = path
        self.options = options
        self.queue = queue
        self.lock = lock
        // Until the schema is known to be ours nothing is written: the journal mode is only
        // switched to WAL after the version check, because that switch rewrites the file header.
        do {
            try queue.writeWithoutTransaction { db in
                guard try !Schema.migrator.hasBeenSuperseded(db) else { throw StoreError.newerVersion(path: path) }
                // An SQLite file with tables but no migrations of ours belongs to something else.
                if try Schema.migrator.appliedIdentifiers(db).isEmpty,
                   try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master)") == true
                {
                    throw StoreError.unreadable(path: path)
                }
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                guard mode?.lowercased() == "wal" else {
                    throw StoreError.cannotOpen(path: path, reason: "SQLite refused WAL mode")
                }
                try db.execute(sql: "PRAGMA synchronous = \(options.synchronous.pragmaValue)")
            }
            try Schema.migrator.migrate(queue)
            let checkpointer = try WALCheckpointer(path: path, limits: options.checkpoint)
            queue.inDatabase { checkpointer.attach(to: $0) }
            self.checkpointer = checkpointer
        } catch {
            try? queue.close()
            lock.release()
            throw Self.openError(error, path: path)
        }
    }

    private init(memoryQueue: DatabaseQueue, options: Options) throws {
        path = ":memory:"
        self.options = options
        queue = memoryQueue
        lock = nil
        try Schema.migrator.migrate(queue)
    }

    /// A fresh, empty store in memory, for tests. `options` default to keeping everything, so a
    /// test's fixed timestamps are not refused as old.
    public static func inMemory(options: Options = .init(retention: .unlimited)) throws -> SQLiteMessageStore {
        try SQLiteMessageStore(memoryQueue: DatabaseQueue(), options: options)
    }

    /// Closes the database and releases the lock, so another store may open the file. The store
    /// must not be used afterwards. Dropping the last reference does the same.
    public func close() throws(StoreError) {
        do {
            try closeCheckpointer()
            try queue.close()
        } catch { throw failure(error) }
        lock?.release()
        lock = nil
    }

    deinit {
        // The connections close before the lock goes, so the next node never meets a live connection.
        try? closeCheckpointer()
        try? queue.close()
        lock?.release()
    }

    /// Stops background checkpoints before the writer closes, so the writer, closing last, still
    /// checkpoints and removes the WAL as SQLite does.
    private func closeCheckpointer() throws {
        guard let checkpointer else { return }
        self.checkpointer = nil
        queue.inDatabase { checkpointer.detach(from: $0) }
        try checkpointer.close()
    }

    // MARK: - MessageStore
    // The per-message statements are `cachedStatement`s: compiling SQL (and GRDB's authorizer pass
    // over it) for every message was a large share of storing one (docs/performance.md).

    /// Whether an envelope with this id is stored.
    public func contains(_ id: MessageID) throws(StoreError) -> Bool {
        try read { db in try Self.contains(db, id: id) }
    }

    /// Stores the envelope as received (hops included) and commits it; `.notStored` if its id is
    /// already stored. Also `.notStored`, storing nothing, for an envelope this store will not keep:
    /// one whose timestamp is older than the retention age (it counts as received and pruned at
    /// once, so its seq is not asked for again), or one whose seq or timestamp exceeds SQLite's
    /// signed 64-bit integers (no honest author reaches 2^63).
    public func insert(_ envelope: Envelope) throws(StoreError) -> InsertOutcome {
        guard let seq = Int64(exactly: envelope.seq), let timestamp = Int64(exactly: envelope.timestamp) else {
            return .notStored
        }
        let nowMilliseconds = Self.milliseconds(options.now())
        let author = envelope.author.rawRepresentation
        let isOwn = envelope.author == options.owner
        return try write { db in
            if let maxAge = options.retention.maxAgeMilliseconds, timestamp < nowMilliseconds - maxAge {
                guard try !Self.contains(db, id: envelope.id) else { return .notStored }
                try Self.markPruned(db, author: Data(author), seq: seq)
                if isOwn { raiseOwnHighestSeq(to: envelope.seq) }
                return .notStored
            }
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO message (id, author, seq, kind, room, timestamp, hops, envelope, stored_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).run([
                    .blob(envelope.id.bytes), .blob(author), .integer(seq), .integer(Int64(envelope.kind.rawValue)),
                    .text(Array(envelope.room.utf8)), .integer(timestamp), .integer(Int64(envelope.hops)),
                    .blob(envelope.encoded()), .integer(nowMilliseconds),
                ], in: db)
            guard db.changesCount > 0 else { return .notStored }
            // The author's next seq, with nothing held beyond it, is one no other envelope has.
            let isNext = try Self.recordNext(db, author: author, seq: seq)
            if isOwn { raiseOwnHighestSeq(to: envelope.seq) }
            guard !isNext else { return .stored }
            try Self.recordHeld(db, author: Data(author), seq: seq)
            return try Self.holdsAnother(db, author: author, seq: seq, id: envelope.id) ? .storedReusingSeq : .stored
        }
    }

    /// The highest seq held or pruned for `author`, 0 if none; for `Options.owner`, at least
    /// `ownSeqFloor()`. It never goes down.
    public func highestSeq(author: SigningPublicKey) throws(StoreError) -> UInt64 {
        let isOwner = author == options.owner
        if isOwner, let ownHighestSeq { return ownHighestSeq }
        let highest = try read { db in
            let highest = try db.cachedStatement(sql: "SELECT highest FROM author WHERE key = ?")
                .run([.blob(author.rawRepresentation)], in: db) ?? 0
            let floor = isOwner ? try Self.state(db, StateKey.ownSeqFloor) : 0
            return max(UInt64(highest), floor)
        }
        if isOwner { ownHighestSeq = highest }
        return highest
    }

    /// Keeps `ownHighestSeq`, if known, up to date with a write that made the owner's `seq` held,
    /// pruned, or the floor.
    private func raiseOwnHighestSeq(to seq: UInt64) {
        if let known = ownHighestSeq { ownHighestSeq = max(known, seq) }
    }

    /// The last `limit` stored envelopes, oldest first (insertion order), optionally only the
    /// room messages of `room`.
    public func recent(room: String?, limit: Int) throws(StoreError) -> [Envelope] {
        guard limit > 0 else { return [] }
        return try read { db in
            let rows: [Data]
            if let room {
                rows = try Data.fetchAll(db, sql: """
                    SELECT envelope FROM message WHERE room = ? AND kind = ? ORDER BY rowid DESC LIMIT ?
                    """, arguments: [room, Int64(EnvelopeKind.room.rawValue), limit])
            } else {
                rows = try Data.fetchAll(db, sql: "SELECT envelope FROM message ORDER BY rowid DESC LIMIT ?",
                                         arguments: [limit])
            }
            return try rows.reversed().map { data throws(StoreError) in try decode(data) }
        }
    }

    /// Runs `body` as one transaction, committed (one WAL write, at most one flush) before this
    /// returns; if `body` throws, everything it wrote is rolled back and the error rethrown.
    /// A nested call runs as a savepoint of the outer transaction: its throw undoes only its own
    /// writes, and nothing is committed before the outermost call returns.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        if let db = activeDatabase {
            var result: T?
            do {
                try db.inSavepoint {
                    result = try body()
                    return .commit
                }
            } catch {
                forgetWhatARollbackMayUndo()
                throw error
            }
            // inSavepoint returns only after `body` returned a value.
            return result!
        }
        do {
            return try committed { db in
                activeDatabase = db
                defer { activeDatabase = nil }
                return try body()
            }
        } catch let error as DatabaseError {
            throw failure(error)
        }
    }

    /// Per author, the contiguous and highest seq held or pruned.
    public func frontier() throws(StoreError) -> [SigningPublicKey: SeqFrontier] {
        if let lastFrontier { return lastFrontier }
        let frontier = try read { db in
            var result: [SigningPublicKey: SeqFrontier] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT key, contiguous, highest FROM author")) {
                let keyBytes: Data = row["key"]
                guard let key = try? SigningPublicKey(rawRepresentation: keyBytes) else {
                    throw StoreError.unreadable(path: path)
                }
                result[key] = SeqFrontier(contiguous: UInt64(row["contiguous"] as Int64),
                                          highest: UInt64(row["highest"] as Int64))
            }
            return result
        }
        lastFrontier = frontier
        return frontier
    }

    /// Stored envelopes by `author` with `after < seq <= through`, in seq order (a reused seq in
    /// insertion order), at most `limit`.
    public func envelopes(author: SigningPublicKey, after: UInt64, through: UInt64,
                          limit: Int) throws(StoreError) -> [Envelope]
    {
        guard limit > 0, after < through, let low = Int64(exactly: after) else { return [] }
        let high = Int64(clamping: through)
        return try read { db in
            try Data.fetchAll(db, sql: """
                SELECT envelope FROM message WHERE author = ? AND seq > ? AND seq <= ? ORDER BY seq, rowid LIMIT ?
                """, arguments: [Data(author.rawRepresentation), low, high, limit])
                .map { data throws(StoreError) in try decode(data) }
        }
    }

    // MARK: - Node state

    /// The last handshake timestamp this node sent (nanoseconds, PROTOCOL.md 4), 0 if none.
    public func lastHandshakeTimestamp() throws(StoreError) -> UInt64 {
        try read { db in try Self.state(db, StateKey.lastHandshakeTimestamp) }
    }

    /// Records the handshake timestamp just sent, so the next one, restarts included, is larger.
    public func setLastHandshakeTimestamp(_ timestamp: UInt64) throws(StoreError) {
        try writeStatement { db in try Self.setState(db, StateKey.lastHandshakeTimestamp, timestamp) }
    }

    /// The largest handshake timestamp accepted from `peer`, nil if none (PROTOCOL.md 4 replay protection).
    public func lastAcceptedTimestamp(from peer: SigningPublicKey) throws(StoreError) -> UInt64? {
        try read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT last_accepted_timestamp FROM peer WHERE key = ?"),
                               arguments: [Data(peer.rawRepresentation)])
                .map { UInt64(bitPattern: $0) }
        }
    }

    /// Records the handshake timestamp accepted from `peer`.
    public func setLastAcceptedTimestamp(_ timestamp: UInt64, from peer: SigningPublicKey) throws(StoreError) {
        try writeStatement { db in
            // Stored by bit pattern: only read back, never compared in SQL, so all of u64 round-trips.
            try db.cachedStatement(sql: """
                INSERT INTO peer (key, last_accepted_timestamp) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET last_accepted_timestamp = excluded.last_accepted_timestamp
                """).execute(arguments: [Data(peer.rawRepresentation), Int64(bitPattern: timestamp)])
        }
    }

    /// The lowest value `highestSeq(author: owner)` may report: seqs of this node's own that peers
    /// hold though this store lost them. 0 if never raised.
    public func ownSeqFloor() throws(StoreError) -> UInt64 {
        try read { db in try Self.state(db, StateKey.ownSeqFloor) }
    }

    /// Raises the own seq floor to `seq` (never lowers it), so the next own message uses a larger seq.
    public func raiseOwnSeqFloor(to seq: UInt64) throws(StoreError) {
        try write { db in
            let current = try Self.state(db, StateKey.ownSeqFloor)
            if seq > current { try Self.setState(db, StateKey.ownSeqFloor, seq) }
        }
        raiseOwnHighestSeq(to: seq)
    }

    // MARK: - Retention and health

    /// Removes the messages outside the retention window: those whose author timestamp is older
    /// than `maxAge` before `now`, then the oldest inserted beyond `maxMessages`. Each author's
    /// frontier keeps what was pruned (the contiguous seq moves past it, giving up any gap below
    /// a pruned message, which is older still), so pruning never makes the node ask again for it.
    /// Returns how many messages were removed.
    @discardableResult
    public func prune(now: Date) throws(StoreError) -> Int {
        let ageCutoff = options.retention.maxAgeMilliseconds.map { Self.milliseconds(now) - $0 } ?? Int64.min
        let maxMessages = options.retention.maxMessages
        return try write { db in
            // The newest rowid that falls outside the count limit, if any.
            let countCutoff: Int64 = if let maxMessages {
                try Int64.fetchOne(db, sql: "SELECT rowid FROM message ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                                   arguments: [maxMessages]) ?? 0
            } else { 0 }
            let condition = "timestamp < ? OR rowid <= ?"
            let arguments: StatementArguments = [ageCutoff, countCutoff]
            let pruned = try Row.fetchAll(db, sql: """
                SELECT author, max(seq) AS seq FROM message WHERE \(condition) GROUP BY author
                """, arguments: arguments)
            guard !pruned.isEmpty else { return 0 }
            try db.execute(sql: "DELETE FROM message WHERE \(condition)", arguments: arguments)
            let removed = db.changesCount
            for row in pruned {
                try Self.markPruned(db, author: row["author"], seq: row["seq"])
            }
            return removed
        }
    }

    /// Whether SQLite's `PRAGMA integrity_check` finds the database sound.
    public func integrityCheck() throws(StoreError) -> Bool {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") == [Self.integrityOK] }
    }

    /// How many messages are stored.
    public var messageCount: Int {
        get throws(StoreError) {
            try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM message") ?? 0 }
        }
    }

    // MARK: - Internals

    /// Runs `body` inside the active transaction, or in a transaction of its own.
    private func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        lastFrontier = nil
        do {
            if let db = activeDatabase { return try body(db) }
            return try committed(body)
        } catch {
            throw failure(error)
        }
    }

    /// Runs `body` in a transaction of its own, committed before this returns, rolled back if
    /// `body` throws.
    ///
    /// Not GRDB's `write`, which compiles its BEGIN and COMMIT afresh for every transaction:
    /// with one message a transaction, as at any rate a person types, that was about a sixth of
    /// storing it (docs/performance.md 9). These statements are compiled once.
    private func committed<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "BEGIN").execute()
            do {
                let result = try body(db)
                try db.cachedStatement(sql: "COMMIT").execute()
                return result
            } catch {
                forgetWhatARollbackMayUndo()
                // SQLite may already have rolled back (a full disk, say); ROLLBACK then has nothing to do.
                if db.isInsideTransaction { try? db.cachedStatement(sql: "ROLLBACK").execute() }
                throw error
            }
        }
    }

    /// Forgets what is kept in memory of the tables, for a rollback: it may have been read or
    /// raised after a write the rollback undoes.
    private func forgetWhatARollbackMayUndo() {
        ownHighestSeq = nil
        lastFrontier = nil
    }

    /// Runs `body`, one statement, inside the active transaction, or alone: SQLite commits a lone
    /// statement by itself, durably as a transaction would, which spares running a BEGIN and a
    /// COMMIT (recording a handshake timestamp is one a handshake). Only for `node_state` and
    /// `peer`: unlike `write`, it keeps `lastFrontier`, which a handshake's link reads next.
    private func writeStatement(_ body: (Database) throws -> Void) throws(StoreError) {
        do {
            if let db = activeDatabase { return try body(db) }
            try queue.writeWithoutTransaction(body)
        } catch {
            throw failure(error)
        }
    }

    /// Reads inside the active transaction (seeing its writes), or on the queue.
    ///
    /// `unsafeRead`, not `read`: GRDB's `read` brackets the body with `PRAGMA query_only = 1` and
    /// `= 0`, and SQLite expires every prepared statement when a flag pragma changes, so each read
    /// recompiled every cached statement (6% of a node's CPU in handshakes). The guarantees `read`
    /// adds are not needed here: the body only reads, and nothing can write between its statements,
    /// since this one connection is used from the node's one loop and `StoreLock` keeps other
    /// processes out of the file.
    private func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            if let db = activeDatabase { return try body(db) }
            return try queue.unsafeRead(body)
        } catch {
            throw failure(error)
        }
    }

    /// A `StoreError` for an error met on an open store.
    private func failure(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .unreadable(path: path)
            default: return .failed(path: path, reason: error.message ?? "\(error.resultCode)")
            }
        }
        return .failed(path: path, reason: "\(error)")
    }

    /// A stored envelope, re-parsed from the bytes as received.
    private func decode(_ data: Data) throws(StoreError) -> Envelope {
        do { return try Envelope.parse(data) } catch { throw .unreadable(path: path) }
    }

    /// Refuses a non-empty file that does not start with SQLite's header, before SQLite sees it.
    private static func checkHeader(path: String) throws(StoreError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }  // absent: created fresh
        defer { try? handle.close() }
        let header: Data
        do { header = try handle.read(upToCount: sqliteHeader.count) ?? Data() } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
        // An empty file is an empty database to SQLite.
        guard header.isEmpty || Array(header) == sqliteHeader else { throw .unreadable(path: path) }
    }

    /// A `StoreError` for an error met while opening.
    private static func openError(_ error: any Error, path: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .unreadable(path: path)
            case .SQLITE_BUSY, .SQLITE_LOCKED: return .lockedByAnotherNode(path: path)
            default: return .cannotOpen(path: path, reason: error.message ?? "\(error.resultCode)")
            }
        }
        return .cannotOpen(path: path, reason: "\(error)")
    }

    private static func contains(_ db: Database, id: MessageID) throws -> Bool {
        try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM message WHERE id = ?)").run([.blob(id.bytes)], in: db) == 1
    }

    /// Moves `author`'s frontier to `seq`, just stored, if it is the author's next seq with nothing
    /// held beyond it; false, changing nothing, otherwise (and for an author not yet known).
    ///
    /// Messages mostly come in order, so one statement usually settles the frontier, and it also
    /// tells that the seq is new: every seq held is at most `highest`.
    private static func recordNext(_ db: Database, author: [UInt8], seq: Int64) throws -> Bool {
        try db.cachedStatement(sql: """
            UPDATE author SET contiguous = ?2, highest = ?2 WHERE key = ?1 AND contiguous = ?2 - 1 AND highest < ?2
            """).run([.blob(author), .integer(seq)], in: db)
        return db.changesCount > 0
    }

    /// Moves `author`'s frontier to take in `seq`, just stored, wherever it falls: the highest seq
    /// is raised and the contiguous one walked up through what is held (`advanceContiguous`).
    private static func recordHeld(_ db: Database, author: Data, seq: Int64) throws {
        try db.cachedStatement(sql: """
            INSERT INTO author (key, contiguous, highest) VALUES (?, 0, ?)
            ON CONFLICT (key) DO UPDATE SET highest = max(highest, excluded.highest)
            """).execute(arguments: [author, seq])
        try advanceContiguous(db, author: author)
    }

    /// Whether an envelope other than `id` by `author` with `seq` is stored.
    private static func holdsAnother(_ db: Database, author: [UInt8], seq: Int64, id: MessageID) throws -> Bool {
        try db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM message WHERE author = ? AND seq = ? AND id <> ?)
            """).run([.blob(author), .integer(seq), .blob(id.bytes)], in: db) == 1
    }

    /// Records that `author`'s `seq` was held and is gone: the frontier moves to at least `seq`.
    private static func markPruned(_ db: Database, author: Data, seq: Int64) throws {
        try db.execute(sql: """
            INSERT INTO author (key, contiguous, highest) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET contiguous = max(contiguous, excluded.contiguous),
                                            highest = max(highest, excluded.highest)
            """, arguments: [author, seq, seq])
        try advanceContiguous(db, author: author)
    }

    /// Moves `author`'s contiguous seq up through the seqs now held right after it.
    private static func advanceContiguous(_ db: Database, author: Data) throws {
        guard let start = try Int64.fetchOne(db.cachedStatement(sql: "SELECT contiguous FROM author WHERE key = ?"),
                                             arguments: [author])
        else { return }
        var contiguous = start
        let held = try Int64.fetchCursor(
            db.cachedStatement(sql: "SELECT DISTINCT seq FROM message WHERE author = ? AND seq > ? ORDER BY seq"),
            arguments: [author, contiguous])
        while let seq = try held.next(), seq == contiguous + 1 { contiguous = seq }
        guard contiguous != start else { return }
        try db.cachedStatement(sql: "UPDATE author SET contiguous = ? WHERE key = ?").execute(arguments: [contiguous, author])
    }

    private static func state(_ db: Database, _ key: String) throws -> UInt64 {
        // Stored by bit pattern, like peer timestamps: all of u64 round-trips.
        try db.cachedStatement(sql: "SELECT value FROM node_state WHERE key = ?").run([.text(Array(key.utf8))], in: db)
            .map { UInt64(bitPattern: $0) } ?? 0
    }

    private static func setState(_ db: Database, _ key: String, _ value: UInt64) throws {
        try db.cachedStatement(sql: """
            INSERT INTO node_state (key, value) VALUES (?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """).execute(arguments: [key, Int64(bitPattern: value)])
    }

    /// Milliseconds since the Unix epoch, the unit of envelope timestamps.
    private static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }
}
