import MeshCrypto
import MeshWire

/// A linked neighbour, named by its Ed25519 identity. There is at most one link per neighbour
/// (PROTOCOL.md 4 closes duplicates), so the identity names the link.
public typealias PeerID = SigningPublicKey

/// A message ready to be shown: it has already been stored.
public struct Delivery: Sendable, Equatable {
    /// The envelope as received, with its hops.
    public let envelope: Envelope
    /// The text to show: the room body, or the opened direct body. Not escaped for terminals (the UI does that).
    public let text: String

    /// Room text or direct text.
    public var kind: EnvelopeKind { envelope.kind }

    /// Pairs an envelope with its decoded text.
    public init(envelope: Envelope, text: String) {
        self.envelope = envelope
        self.text = text
    }
}

/// Why the engine did not act on an envelope. For debug logging and tests only: a peer is never
/// told (STYLE.md 5).
public enum DropReason: Sendable, Equatable, Hashable {
    /// The bytes do not parse exactly, or a field is out of range (PROTOCOL.md 6 rule 1). Counted as invalid.
    case malformed
    /// The signature does not verify (PROTOCOL.md 6 rule 1). Counted as invalid.
    case badSignature
    /// The id is already stored or already held (PROTOCOL.md 6 rule 3).
    case duplicate
    /// A far-future envelope was let go because the held set was full (the farthest ahead goes first).
    case heldLimit
    /// A direct message to us whose box does not open or holds invalid UTF-8: stored and forwarded, not shown.
    case undecryptableDirect
}

/// What the engine asks its owner to do. The owner carries actions out in order.
public enum GossipAction: Sendable, Equatable {
    /// Send this envelope to one neighbour; it already carries the hops to put on the wire.
    case send(Envelope, to: PeerID)
    /// Show this message; it was stored before this action was emitted.
    case deliver(Delivery)
    /// Close the link to this neighbour with BYE and the given reason.
    case disconnect(PeerID, ByeReason)
    /// An author signed two different envelopes with one seq. A warning only: the envelope was kept.
    case sequenceReused(author: SigningPublicKey, seq: UInt64)
    /// An envelope from this neighbour was not acted on (or, for `.undecryptableDirect`, not shown).
    case dropped(from: PeerID, reason: DropReason)
}
