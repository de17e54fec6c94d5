import MeshCrypto
import MeshWire

/// Where accepted envelopes live. Implementations must make `insert` durable before returning
/// (PROTOCOL.md 6 rule 4: "stores it durably, shows it ..."), because the engine emits
/// `.deliver` and `.send` only after `insert` returns.
public protocol MessageStore: AnyObject {
    /// Whether an envelope with this id is stored.
    func contains(_ id: MessageID) throws -> Bool
    /// Stores the envelope (as received, with its hops), and says whether it was new and whether
    /// its author had already used its seq for another stored envelope (the reuse warning).
    func insert(_ envelope: Envelope) throws -> InsertOutcome
    /// The highest seq stored for `author`, 0 if none.
    func highestSeq(author: SigningPublicKey) throws -> UInt64
    /// The most recently stored messages, oldest first, optionally filtered to one room (room kind only).
    func recent(room: String?, limit: Int) throws -> [Envelope]
    /// Runs `body` as one transaction: every insert inside it is committed together (one disk
    /// flush for many messages) before this returns; if it throws, nothing of it is kept.
    func transaction<T>(_ body: () throws -> T) throws -> T
    /// Per author, the sync frontier: `contiguous` is the highest seq n such that every seq 1...n
    /// is held (or was held and pruned); `highest` is the highest seq held or pruned.
    func frontier() throws -> [SigningPublicKey: SeqFrontier]
    /// Stored envelopes by `author` with `after < seq <= through`, in seq order (a reused seq gives
    /// several), at most `limit` of them.
    func envelopes(author: SigningPublicKey, after: UInt64, through: UInt64, limit: Int) throws -> [Envelope]
}

/// What `MessageStore.insert` did with an envelope. One answer for both questions rule 3 asks
/// (PROTOCOL.md 6), so a store answers them in the statements that store the envelope.
public enum InsertOutcome: Equatable, Sendable {
    /// Stored; no other stored envelope has its author and seq.
    case stored
    /// Stored, and another stored envelope already has its author and seq: "a second envelope
    /// with an author and seq already seen but another id is kept like any other".
    case storedReusingSeq
    /// Not stored: the id is stored already (or the store does not keep such an envelope).
    case notStored
}

/// What a node holds of one author's sequence (see `MessageStore.frontier()`).
public struct SeqFrontier: Equatable, Sendable {
    /// Every seq 1...contiguous is held (or was, before pruning).
    public var contiguous: UInt64
    /// The highest seq held (or pruned).
    public var highest: UInt64

    /// Builds a frontier.
    public init(contiguous: UInt64, highest: UInt64) {
        self.contiguous = contiguous
        self.highest = highest
    }
}

/// A `MessageStore` in memory, for tests and the in-memory mesh. Keeps everything it is given
/// (it is as unbounded as a database); insertion order is the order `recent` reports.
public final class InMemoryMessageStore: MessageStore {
    private struct AuthorSeq: Hashable {
        let author: SigningPublicKey
        let seq: UInt64
    }

    private var envelopes: [Envelope] = []
    private var ids: Set<MessageID> = []
    /// Every author and seq stored.
    private var heldSeqs: Set<AuthorSeq> = []
    private var highestSeqByAuthor: [SigningPublicKey: UInt64] = [:]

    /// An empty store.
    public init() {}

    /// How many envelopes are stored.
    public var count: Int { envelopes.count }

    /// Every stored envelope, in insertion order.
    public var all: [Envelope] { envelopes }

    /// Whether an envelope with this id is stored.
    public func contains(_ id: MessageID) -> Bool { ids.contains(id) }

    /// Stores the envelope unless its id is stored already.
    public func insert(_ envelope: Envelope) -> InsertOutcome {
        guard ids.insert(envelope.id).inserted else { return .notStored }
        envelopes.append(envelope)
        highestSeqByAuthor[envelope.author] = max(highestSeqByAuthor[envelope.author] ?? 0, envelope.seq)
        let seqIsNew = heldSeqs.insert(AuthorSeq(author: envelope.author, seq: envelope.seq)).inserted
        return seqIsNew ? .stored : .storedReusingSeq
    }

    /// The highest seq stored for `author`, 0 if none.
    public func highestSeq(author: SigningPublicKey) -> UInt64 {
        highestSeqByAuthor[author] ?? 0
    }

    /// Runs `body`; memory needs no commit.
    public func transaction<T>(_ body: () throws -> T) throws -> T { try body() }

    /// The contiguous and highest seq held per author.
    public func frontier() -> [SigningPublicKey: SeqFrontier] {
        var seqs: [SigningPublicKey: Set<UInt64>] = [:]
        for key in heldSeqs { seqs[key.author, default: []].insert(key.seq) }
        return seqs.mapValues { held in
            var contiguous: UInt64 = 0
            while held.contains(contiguous + 1) { contiguous += 1 }
            return SeqFrontier(contiguous: contiguous, highest: held.max() ?? 0)
        }
    }

    /// Stored envelopes by `author` in `after < seq <= through`, in seq order, at most `limit`.
    public func envelopes(author: SigningPublicKey, after: UInt64, through: UInt64, limit: Int) -> [Envelope] {
        Array(envelopes.filter { $0.author == author && $0.seq > after && $0.seq <= through }
            .sorted { $0.seq < $1.seq }.prefix(max(0, limit)))
    }

    /// The last `limit` stored envelopes (optionally only room messages of `room`), oldest first.
    public func recent(room: String?, limit: Int) -> [Envelope] {
        guard limit > 0 else { return [] }
        guard let room else { return Array(envelopes.suffix(limit)) }
        return Array(envelopes.lazy.filter { $0.kind == .room && $0.room == room }.suffix(limit))
    }
}
