import Foundation
import GRDB
import GRDBSQLite
import NIOConcurrencyHelpers
import Synchronization

extension SQLiteMessageStore {
    /// When the WAL is checkpointed, in pages (of 4 KiB by default).
    public struct CheckpointLimits: Sendable, Equatable {
        /// In the background from SQLite's own automatic threshold, 1,000 pages; on the committing
        /// thread from 4,000 (16 MiB), which only a writer faster than the background reaches.
        public static let `default` = CheckpointLimits(background: 1_000, inline: 4_000)

        /// WAL length from which a background checkpoint is asked for after each commit.
        public var background: Int
        /// WAL length from which the committing thread checkpoints itself (waiting for a
        /// background pass under way to end): the WAL then starts over at the next commit, so it
        /// never holds much more than this (one or two transactions more).
        public var inline: Int

        /// Background from `background` pages, on the committing thread from `inline` pages.
        public init(background: Int, inline: Int) {
            precondition(0 < background && background <= inline, "the fallback comes after the background threshold")
            self.background = background
            self.inline = inline
        }
    }
}

/// Copies the WAL back into the database on a thread of its own, so commits do not stall.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages, on
/// the committing thread: the node's event loop, which then stops for the length of the copy and
/// its flush (the hop latency tail, docs/performance.md). This replaces it, through
/// `sqlite3_wal_hook`, with PASSIVE checkpoints on a second connection: they never block the
/// writer or wait for it. A PASSIVE checkpoint cannot always finish while the writer keeps
/// committing, and the WAL only starts over from its beginning once everything in it is copied, so
/// past `CheckpointLimits.inline` pages the committing thread checkpoints itself, as SQLite would
/// have, after any background pass under way; that copy is short, because the background has
/// already copied almost everything. The store's one connection is the only reader and writer, so
/// that checkpoint copies the whole WAL.
///
/// The background runs have a thread of their own at a lower priority than the event loop's
/// (`niceness`): a run copies megabytes and flushes them, and on a machine with few cores a loop
/// that wakes meanwhile should get a core first (the hop latency tail, docs/performance.md 10).
/// Under load the thread still gets its share, and past `inline` pages the committing thread
/// checkpoints itself anyway.
final class WALCheckpointer: Sendable {
    /// The most PASSIVE passes in one background run: each copies what was committed during the
    /// one before, so a few passes normally catch up with a writer that keeps committing.
    private static let passesPerRun = 4
    /// The background thread's nice value (0 is the default, 19 the lowest priority). At 10 the
    /// scheduler gives it about a tenth of the weight of a default thread when they compete.
    static let niceness: Int32 = 10
    /// The background thread's name, as /proc/PID/task/TID/comm shows it (15 bytes at most).
    static let threadName = "WALCheckpointer"

    let limits: SQLiteMessageStore.CheckpointLimits
    /// The checkpointer's own connection, used only on the background thread.
    private let connection: DatabaseQueue
    /// Whether a background run is asked for or running, so commits ask for at most one at a time.
    private let running = Atomic<Bool>(false)
    /// Signalled for each background run asked for, and once more by `detach` to end the thread.
    private let requests = DispatchSemaphore(value: 0)
    private let ending = Atomic<Bool>(false)
    /// Signalled by the background thread as it ends.
    private let ended = DispatchSemaphore(value: 0)
    /// Held for each checkpoint pass, so the committing thread's fallback waits for a background
    /// pass to end instead of finding the checkpoint lock taken and letting the WAL grow on. A
    /// pthread mutex (NIO's), which ThreadSanitizer sees order the two threads; Synchronization's
    /// `Mutex` waits on a futex it cannot see.
    private let pass = NIOLock()

    /// Opens the second connection to the database at `path` (already in WAL mode).
    init(path: String, limits: SQLiteMessageStore.CheckpointLimits) throws {
        var configuration = Configuration()
        configuration.label = "MeshStore.WALCheckpointer"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.limits = limits
        let started = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [self] in serveRequests(started: started) }
        started.wait()
    }

    /// Takes over checkpointing for the writer connection `db`; until `detach(from:)` this object
    /// must stay alive (the hook holds it unretained).
    func attach(to db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, walHook, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Gives checkpointing back to SQLite's default on `db`, and ends the background thread once a
    /// run under way is done.
    func detach(from db: Database) {
        sqlite3_wal_autocheckpoint(db.sqliteConnection, Int32(SQLiteMessageStore.CheckpointLimits.default.background))
        ending.store(true, ordering: .releasing)
        requests.signal()
        ended.wait()
    }

    /// Closes the second connection; call after `detach(from:)`.
    func close() throws {
        try connection.close()
    }

    /// After each commit of the writer `db`, on the committing thread, with the WAL's length.
    fileprivate func committed(writer db: OpaquePointer?, walPages: Int) {
        if walPages >= limits.inline {
            // Copies the whole WAL (nothing else reads or writes), so the next commit starts it over.
            pass.withLock { _ = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) }
        } else if walPages >= limits.background, !running.exchange(true, ordering: .acquiringAndReleasing) {
            requests.signal()
        }
    }

    /// The background thread: one run per request, until `detach`. Signals `started` once named
    /// and at its priority.
    private func serveRequests(started: DispatchSemaphore) {
        Thread.current.name = Self.threadName
        // For this thread only: Linux keeps a nice value per thread, and `who` 0 is the caller.
        // Raising it needs no privilege; if it fails, the runs go on at the default priority.
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
        started.signal()
        while true {
            requests.wait()
            if ending.load(ordering: .acquiring) { break }
            for _ in 0..<Self.passesPerRun {
                guard let (walFrames, copied) = try? pass.withLock({
                    try connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
                }), copied < walFrames else { break }
            }
            running.store(false, ordering: .releasing)
        }
        ended.signal()
    }
}

/// `sqlite3_wal_hook`'s callback: "invoked by SQLite after the commit has taken place and the
/// associated write-lock on the database released"; returning SQLITE_OK keeps the commit's result.
private func walHook(context: UnsafeMutableRawPointer?, db: OpaquePointer?, name: UnsafePointer<CChar>?, pages: Int32) -> Int32 {
    guard let context else { return SQLITE_OK }
    Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue().committed(writer: db, walPages: Int(pages))
    return SQLITE_OK
}
