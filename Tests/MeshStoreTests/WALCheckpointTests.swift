import Foundation
import MeshStore
import MeshWire
import Testing

/// The WAL is checkpointed off the committing thread (WALCheckpointer) and still cannot grow
/// without bound while a writer commits without pause; nothing committed is lost on the way.
@Suite struct WALCheckpointTests {
    /// SQLite's default page size, which the store keeps; a WAL frame is a page and a 24-byte header.
    static let walFrameBytes = 4096 + 24
    static let walHeaderBytes = 32

    /// Commits `count` envelopes one transaction each; returns the most frames the WAL file held.
    private func commitOneByOne(_ count: Int, into store: SQLiteMessageStore, author: Author) throws -> Int {
        let wal = store.path + "-wal"
        var mostFrames = 0
        for seq in 1...UInt64(count) {
            #expect(try store.insert(author.room(seq, String(repeating: "w", count: 1000))) == .stored)
            // The file never shrinks, so its size is the WAL's high-water mark.
            let bytes = try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int ?? 0
            mostFrames = max(mostFrames, (bytes - Self.walHeaderBytes) / Self.walFrameBytes)
        }
        return mostFrames
    }

    @Test("with only the committing thread's fallback, the WAL never passes its limit by more than one transaction")
    func theFallbackAloneBoundsTheWAL() throws {
        let directory = try TemporaryDirectory()
        // Equal limits: every checkpoint runs inline, so the bound is exact.
        let limits = SQLiteMessageStore.CheckpointLimits(background: 100, inline: 100)
        let store = try SQLiteMessageStore(path: directory.path(), options: .init(retention: .unlimited, checkpoint: limits))
        let mostFrames = try commitOneByOne(2000, into: store, author: Author())
        // One insert of a 1,000-byte text touches a handful of pages (table, indexes, author row):
        // the WAL starts over one or two commits after the limit, far fewer than 50 pages, while
        // the 2,000 commits write thousands of frames in all.
        #expect(mostFrames >= limits.inline)
        #expect(mostFrames < limits.inline + 50)
    }

    @Test("with background checkpoints the WAL stays bounded, and every message survives a reopen")
    func backgroundCheckpointsKeepTheWALShortAndLoseNothing() throws {
        let directory = try TemporaryDirectory()
        let limits = SQLiteMessageStore.CheckpointLimits(background: 50, inline: 200)
        let author = Author()
        var store = try SQLiteMessageStore(path: directory.path(), options: .init(retention: .unlimited, checkpoint: limits))
        let mostFrames = try commitOneByOne(2000, into: store, author: author)
        // The fallback waits for a background pass rather than skipping, so the same bound holds.
        #expect(mostFrames < limits.inline + 50)
        try store.close()
        store = try SQLiteMessageStore(path: directory.path(), options: .init(retention: .unlimited))
        #expect(try store.highestSeq(author: author.publicKey) == 2000)
        #expect(try store.recent(room: "general", limit: 3000).count == 2000)
        #expect(try store.integrityCheck())
    }
}

/// Background checkpoints run below the event loop's priority, so a loop that wakes during one
/// gets a core first.
@Suite struct WALCheckpointerPriorityTests {
    @Test func theCheckpointThreadRunsAtALowerPriority() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteMessageStore(path: directory.path(), options: .init(retention: .unlimited))
        // Other tests' stores may be open at the same time in this process: each has its own thread.
        let niceness = Self.niceValues(ofThreadsNamed: "WALCheckpointer")
        #expect(!niceness.isEmpty && niceness.allSatisfy { $0 == 10 }, "checkpointer threads at nice 10: \(niceness)")
        try store.close()
    }

    /// The nice value (field 19 of /proc/self/task/TID/stat) of each of this process's threads named `name`.
    private static func niceValues(ofThreadsNamed name: String) -> [Int] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { task in
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let afterName = stat.lastIndex(of: ")") else { return nil }
            // After the name: the state is field 3, so field 19 is the 17th of the rest.
            let fields = stat[stat.index(after: afterName)...].split(separator: " ")
            return fields.count > 16 ? Int(fields[16]) : nil
        }
    }
}
