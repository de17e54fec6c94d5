import Foundation
import MeshCrypto
import MeshGossip
import MeshStore
import MeshWire

/// A length inside PROTOCOL.md 6's 49..16432 bytes for a direct body; the store never opens it.
let sealedBodyLength = 64

/// Milliseconds since the Unix epoch, the unit of envelope timestamps.
func milliseconds(_ date: Date) -> UInt64 { UInt64(date.timeIntervalSince1970 * 1000) }

/// One author who signs envelopes for the tests.
struct Author {
    let key = SigningPrivateKey()
    var publicKey: SigningPublicKey { key.publicKey }

    /// A room envelope, by default stamped now.
    func room(_ seq: UInt64, _ text: String = "hello", room: String = "general",
              timestamp: UInt64 = milliseconds(Date()), hops: UInt8 = 0) throws -> Envelope
    {
        try Envelope.signed(kind: .room, by: key, seq: seq, timestamp: timestamp, nickname: "alice",
                            room: room, recipient: nil, body: Array(text.utf8)).withHops(hops)
    }

    /// A direct envelope to `recipient`; its body stands in for a sealed box.
    func direct(_ seq: UInt64, to recipient: SigningPublicKey) throws -> Envelope {
        try Envelope.signed(kind: .direct, by: key, seq: seq, timestamp: milliseconds(Date()), nickname: "alice",
                            room: "", recipient: recipient, body: [UInt8](repeating: 7, count: sealedBodyLength))
    }
}

/// A directory of its own for one test's files, removed when the test drops it.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("MeshStoreTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    func path(_ name: String = "store.sqlite") -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A clock a test moves by hand. `@unchecked Sendable`: the lock serialises every access.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) { current = start }

    var now: Date {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// A store kind that the conformance tests run against.
enum StoreKind: String, CaseIterable, CustomStringConvertible {
    /// `InMemoryMessageStore`, the reference semantics.
    case reference
    /// `SQLiteMessageStore` in memory.
    case sqliteInMemory
    /// `SQLiteMessageStore` on a file.
    case sqliteFile

    var description: String { rawValue }

    /// A fresh store, and the directory that must outlive it (for the file kind).
    func make() throws -> (store: any MessageStore, directory: TemporaryDirectory?) {
        switch self {
        case .reference: return (InMemoryMessageStore(), nil)
        case .sqliteInMemory: return (try SQLiteMessageStore.inMemory(), nil)
        case .sqliteFile:
            let directory = try TemporaryDirectory()
            return (try SQLiteMessageStore(path: directory.path()), directory)
        }
    }
}
