import Foundation
import MeshCrypto

extension SQLiteMessageStore {
    /// How hard a commit pushes data to the disk. The journal is always WAL.
    public enum Durability: Sendable, Equatable {
        /// `synchronous=NORMAL`: a commit reaches the operating system but is not flushed; a
        /// process crash loses nothing committed, a power cut may lose the last transactions
        /// since the previous WAL checkpoint (the database itself stays consistent).
        case normal
        /// `synchronous=FULL`: every commit flushes the WAL to the disk before it returns; a power
        /// cut loses nothing committed, at the price of one flush per transaction.
        case full

        /// The value of `PRAGMA synchronous`.
        var pragmaValue: String {
            switch self {
            case .normal: "NORMAL"
            case .full: "FULL"
            }
        }
    }

    /// How much history the store keeps (see `prune(now:)`).
    public struct Retention: Sendable, Equatable {
        /// A group chat keeps about a season of history: long enough for a member who was away on
        /// holiday to catch up, short enough that the store stays small.
        public static let defaultMaxAge: Duration = .seconds(90 * 24 * 60 * 60)
        /// A million messages of at most ~16 KiB, typically well under 1 KiB: a few hundred MB
        /// at most, which every machine that runs a node can hold.
        public static let defaultMaxMessages = 1_000_000
        /// 90 days and a million messages.
        public static let `default` = Retention(maxAge: defaultMaxAge, maxMessages: defaultMaxMessages)
        /// Keeps everything.
        public static let unlimited = Retention(maxAge: nil, maxMessages: nil)

        /// Messages whose author timestamp is older than this are pruned, and refused on insert; nil keeps every age.
        public var maxAge: Duration?
        /// At most this many messages are kept (the oldest inserted go first); nil keeps every count.
        public var maxMessages: Int?

        /// A retention window.
        public init(maxAge: Duration?, maxMessages: Int?) {
            precondition(maxMessages.map { $0 >= 0 } ?? true, "a message limit is not negative")
            self.maxAge = maxAge
            self.maxMessages = maxMessages
        }

        /// `maxAge` in milliseconds, the unit of envelope timestamps.
        var maxAgeMilliseconds: Int64? {
            guard let maxAge else { return nil }
            let (seconds, attoseconds) = maxAge.components
            return seconds.multipliedReportingOverflow(by: 1000).overflow
                ? Int64.max : seconds * 1000 + attoseconds / 1_000_000_000_000_000
        }
    }

    /// How a store is opened.
    public struct Options: Sendable {
        /// WAL with `synchronous=NORMAL` unless asked for `.full`.
        public var synchronous: Durability = .normal
        /// The retention window, by age and count.
        public var retention: Retention = .default
        /// This node's own key: `highestSeq(author:)` of it honours `ownSeqFloor()`, so the next
        /// own seq never reuses one that peers already hold. Nil when the store serves no identity.
        public var owner: SigningPublicKey?
        /// The clock used for `stored_at` and for refusing envelopes older than the window;
        /// injected so tests control time.
        public var now: @Sendable () -> Date = { Date() }
        /// When the WAL is checkpointed (`WALCheckpointer`).
        public var checkpoint: CheckpointLimits = .default

        /// The defaults: `.normal`, `.default` retention, no owner, the system clock, `.default` checkpoints.
        public init(synchronous: Durability = .normal, retention: Retention = .default,
                    owner: SigningPublicKey? = nil, now: @escaping @Sendable () -> Date = { Date() },
                    checkpoint: CheckpointLimits = .default)
        {
            self.synchronous = synchronous
            self.retention = retention
            self.owner = owner
            self.now = now
            self.checkpoint = checkpoint
        }
    }
}
