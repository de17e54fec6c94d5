import MeshCrypto
import MeshGossip
import MeshWire

/// A fixed "now" for tests: 2023-11-14, in milliseconds since the Unix epoch.
let t0: UInt64 = 1_700_000_000_000

/// PROTOCOL.md 6 rule 2's "5 minutes", in milliseconds.
let fiveMinutes: UInt64 = 300_000

/// One engine with two linked neighbours, `left` and `right`, and an author who is neither.
struct Bench {
    let me: SigningPrivateKey
    let left = SigningPrivateKey().publicKey
    let right = SigningPrivateKey().publicKey
    let author = SigningPrivateKey()
    /// The engine's store, unless another was passed in.
    let store: InMemoryMessageStore
    var engine: GossipEngine

    init(configuration: GossipConfiguration = .init(), store custom: (any MessageStore)? = nil) {
        let me = SigningPrivateKey(), store = InMemoryMessageStore()
        self.me = me
        self.store = store
        engine = GossipEngine(identity: me, store: custom ?? store, configuration: configuration)
        engine.linkUp(left)
        engine.linkUp(right)
    }

    /// A room envelope signed by `author` (or `by`).
    func room(_ text: String = "hello", seq: UInt64 = 1, timestamp: UInt64 = t0, hops: UInt8 = 0,
              room: String = "general", by key: SigningPrivateKey? = nil) throws -> Envelope
    {
        try Envelope.signed(kind: .room, by: key ?? author, seq: seq, timestamp: timestamp, nickname: "alice",
                            room: room, recipient: nil, body: Array(text.utf8)).withHops(hops)
    }

    /// A direct envelope from `author` to `recipient`, whose body is `plaintext` sealed to `sealedTo`
    /// (by default the recipient itself).
    func direct(_ plaintext: [UInt8], to recipient: SigningPublicKey, sealedTo: SigningPublicKey? = nil,
                seq: UInt64 = 1) throws -> Envelope
    {
        let box = SealedBox.seal(plaintext, to: try (sealedTo ?? recipient).keyAgreementKey())
        return try Envelope.signed(kind: .direct, by: author, seq: seq, timestamp: t0, nickname: "alice",
                                   room: "", recipient: recipient, body: box)
    }
}

extension Array where Element == GossipAction {
    /// The envelopes sent, with their destination, in order.
    var sends: [(envelope: Envelope, to: PeerID)] {
        compactMap { if case .send(let envelope, let peer) = $0 { (envelope, peer) } else { nil } }
    }

    /// The deliveries, in order.
    var deliveries: [Delivery] {
        compactMap { if case .deliver(let delivery) = $0 { delivery } else { nil } }
    }

    /// The disconnects, in order.
    var disconnects: [(PeerID, ByeReason)] {
        compactMap { if case .disconnect(let peer, let reason) = $0 { (peer, reason) } else { nil } }
    }

    /// The drop reasons, in order.
    var dropReasons: [DropReason] {
        compactMap { if case .dropped(_, let reason) = $0 { reason } else { nil } }
    }
}

/// A store that can be told to fail, and that logs what the engine asked of it.
final class ScriptedStore: MessageStore {
    struct Failure: Error {}

    private(set) var base = InMemoryMessageStore()
    var failInserts = false
    /// When set, inserts fail once this many more have succeeded.
    var failInsertsAfter: Int?
    private(set) var log: [String] = []

    /// How many times the engine asked whether an id is stored, or for an author's highest seq.
    var lookups: Int { log.count { $0 == "contains" || $0 == "highestSeq" } }

    /// Forgets everything stored, as a transaction that rolled back forgets what was written in it.
    func loseEverything() { base = InMemoryMessageStore() }

    func contains(_ id: MessageID) throws -> Bool { log.append("contains"); return base.contains(id) }
    func insert(_ envelope: Envelope) throws -> InsertOutcome {
        log.append("insert")
        if failInserts { throw Failure() }
        if let remaining = failInsertsAfter {
            guard remaining > 0 else { throw Failure() }
            failInsertsAfter = remaining - 1
        }
        return base.insert(envelope)
    }
    func highestSeq(author: SigningPublicKey) throws -> UInt64 { log.append("highestSeq"); return base.highestSeq(author: author) }
    func recent(room: String?, limit: Int) throws -> [Envelope] { base.recent(room: room, limit: limit) }
    func transaction<T>(_ body: () throws -> T) throws -> T { try base.transaction(body) }
    func frontier() throws -> [SigningPublicKey: SeqFrontier] { base.frontier() }
    func envelopes(author: SigningPublicKey, after: UInt64, through: UInt64, limit: Int) throws -> [Envelope] {
        base.envelopes(author: author, after: after, through: through, limit: limit)
    }
}
