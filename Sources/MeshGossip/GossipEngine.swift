import MeshCrypto
import MeshWire

/// The gossip rules of PROTOCOL.md section 6 as a synchronous state machine: envelope bytes,
/// link events and the time in; actions out. No sockets, clock or tasks inside; the owner
/// passes the time (milliseconds since the Unix epoch) to every call and carries out the actions.
///
/// The engine is a value, but `store` is a shared reference: the store is the engine's durable
/// memory of ids and sequence numbers, and it is swapped (in memory, SQLite) without touching this type.
public struct GossipEngine {
    /// This node's signing identity.
    private let identity: SigningPrivateKey
    /// Its X25519 form, for opening direct messages addressed to us.
    private let keyAgreementKey: KeyAgreementPrivateKey
    /// Where accepted envelopes are stored.
    public let store: any MessageStore
    /// The limits in force.
    public let configuration: GossipConfiguration

    /// Linked neighbours and their invalid-envelope record; only linked peers are tracked, so this
    /// is bounded by the number of links.
    private var links: [PeerID: InvalidEnvelopeRecord] = [:]
    private var held = HeldEnvelopes()
    /// Screened envelopes waiting for their signature verdict, by id. A mesh delivers a message
    /// over several links at nearly the same moment; a copy that arrives meanwhile with the same
    /// signature would get the same verdict, so it is a duplicate and is not verified again (in the
    /// 30-node mesh, verifying such copies too saturated the cores and multiplied the delivery
    /// tail). A copy with another signature is checked on its own.
    private var awaitingVerdict: [MessageID: AwaitedEnvelope] = [:]
    /// Forwards of accepted envelopes that `takeForwards` has not handed out yet, in the order
    /// accepted, and where each is in that list by id: a copy that arrives before the owner takes
    /// them spares its sender the forward.
    private var forwardsDue: [DueForward] = []
    private var dueForwardByID: [MessageID: Int] = [:]
    /// The ids stored last, so the other copies of a message are dropped without asking the store.
    private var recentlyStored = RecentIDs(capacity: GossipEngine.recentlyStoredCapacity)
    /// How many ids `recentlyStored` keeps: at the bench mesh's 200 messages/s, five seconds' worth,
    /// far longer than copies trail the first; 1,024 ids are about 100 KiB.
    public static let recentlyStoredCapacity = 1024
    /// Per author, a seq no stored envelope is above, so that a new message is known to be new
    /// without asking the store.
    private var storedSeqBounds = StoredSeqBounds(capacity: GossipEngine.storedSeqBoundsCapacity)
    /// How many authors `storedSeqBounds` keeps: far more than a group's members; about 100 KiB.
    public static let storedSeqBoundsCapacity = 1024
    /// What arrived from neighbours since the engine started.
    public private(set) var counters = GossipCounters()

    /// An engine for `identity` over `store`, with no links.
    public init(identity: SigningPrivateKey, store: any MessageStore, configuration: GossipConfiguration = .init()) {
        self.identity = identity
        self.keyAgreementKey = identity.keyAgreementKey()
        self.store = store
        self.configuration = configuration
    }

    /// This node's public identity.
    public var publicKey: SigningPublicKey { identity.publicKey }

    /// The neighbours envelopes are currently forwarded to.
    public var linkedPeers: Set<PeerID> { Set(links.keys) }

    /// How many far-future envelopes are held back.
    public var heldCount: Int { held.count }

    // MARK: Links

    /// A link to `peer` is established. Idempotent: a link that is already up keeps its record.
    public mutating func linkUp(_ peer: PeerID) {
        if links[peer] == nil { links[peer] = .clean }
    }

    /// The link to `peer` is gone; its invalid-envelope record is forgotten. Envelopes it sent
    /// that are held back stay held and are still processed when released.
    public mutating func linkDown(_ peer: PeerID) {
        links[peer] = nil
    }

    // MARK: Receiving

    /// Applies PROTOCOL.md 6 rules 1-4 to one envelope that `peer` sent. Throws only what the store throws.
    public mutating func receive(_ envelopeBytes: [UInt8], from peer: PeerID, now: UInt64) throws -> [GossipAction] {
        switch try screen(envelopeBytes, from: peer, now: now) {
        case .judged(let actions):
            return actions
        case .needsSignatureCheck(let envelope):
            return try admit(envelope, signatureIsValid: envelope.hasValidSignature, from: peer, now: now) + takeForwards()
        }
    }

    /// What `screen` made of an envelope: judged already, or parsed, new, and waiting for its signature check.
    public enum Screening: Sendable {
        case judged([GossipAction])
        case needsSignatureCheck(Envelope)
    }

    /// The first half of `receive`, everything before the signature check: rule 1's parsing and
    /// rule 3. The owner checks `envelope.hasValidSignature` where it likes (another thread) and
    /// passes the verdict to `admit`. Throws only what the store throws.
    public mutating func screen(_ envelopeBytes: [UInt8], from peer: PeerID, now: UInt64) throws -> Screening {
        counters.received += 1
        // Rule 1: "drops it, keeping the connection, if it does not parse exactly, its signature
        // does not verify or a field is out of range".
        let envelope: Envelope
        do {
            envelope = try Envelope.parse(envelopeBytes)
        } catch {
            return .judged(invalid(from: peer, reason: .malformed, now: now))
        }
        // Rule 3 before the signature check: an id this node holds names signed bytes it already
        // verified (the id covers every signed field), so a copy is dropped without a second
        // verification, the costliest step, which a mesh would otherwise pay once per copy.
        guard try !isStored(envelope) else {
            if let index = dueForwardByID[envelope.id] { forwardsDue[index].heldBy(peer, signature: envelope.signature) }
            return .judged(duplicate(from: peer))
        }
        if let awaited = awaitingVerdict[envelope.id] {
            if awaited.signature == envelope.signature {
                awaitingVerdict[envelope.id]?.heldBy(peer)
                return .judged(duplicate(from: peer))
            }
        } else {
            awaitingVerdict[envelope.id] = AwaitedEnvelope(signature: envelope.signature)
        }
        return .needsSignatureCheck(envelope)
    }

    /// Forgets every screened envelope still waiting for `admit`, and which ids were stored last:
    /// for an owner that lost them (a store error, a rolled-back transaction), so later copies are
    /// checked against the store again instead of dropped as duplicates.
    public mutating func forgetUncommitted() {
        awaitingVerdict.removeAll()
        recentlyStored.removeAll()
    }

    /// Rule 3's question, asking the store only when what the engine remembers cannot answer it:
    /// the copies of a message come moments after it, and a new message's seq is above its author's.
    private mutating func isStored(_ envelope: Envelope) throws -> Bool {
        if recentlyStored.contains(envelope.id) { return true }
        let author = envelope.author
        if try envelope.seq > storedSeqBounds.bound(for: author, highestStored: { try store.highestSeq(author: author) }) {
            return false
        }
        return try store.contains(envelope.id)
    }

    /// Remembers that `envelope` was stored.
    private mutating func stored(_ envelope: Envelope) {
        recentlyStored.insert(envelope.id)
        storedSeqBounds.stored(author: envelope.author, seq: envelope.seq)
    }

    /// The second half of `receive`, for an envelope `screen` passed on: rule 1's signature verdict,
    /// then rules 2-4. Rule 3 is checked again, since a copy may have been stored while this one
    /// was being verified. Throws only what the store throws.
    ///
    /// An accepted envelope's forwards are not among the actions: they wait for `takeForwards`, so
    /// an owner that reads once more before taking them does not send a message back to the
    /// neighbours whose copies came in meanwhile.
    public mutating func admit(_ envelope: Envelope, signatureIsValid: Bool, from peer: PeerID, now: UInt64) throws
        -> [GossipAction]
    {
        let awaited = awaitingVerdict.removeValue(forKey: envelope.id)
        guard signatureIsValid else {
            return invalid(from: peer, reason: .badSignature, now: now)
        }
        // Rule 2: "keeps aside, without counting it as invalid, an envelope whose timestamp is
        // more than 5 minutes ahead of the node's clock, until it is no longer ahead".
        if isFarFuture(envelope, now: now) {
            return hold(envelope, from: peer)
        }
        // Copies that came with the same signature while this one was being verified: their
        // senders hold the message already, so forwarding it back to them would only be dropped.
        let holders = awaited.flatMap { $0.signature == envelope.signature ? $0.otherSenders : nil } ?? []
        return try accept(envelope, from: peer, alsoHeldBy: holders)
    }

    /// The forwards of every envelope accepted since the last call, in the order accepted: each to
    /// every linked neighbour not known to hold it. `receive` and `tick` include them already.
    public mutating func takeForwards() -> [GossipAction] {
        guard !forwardsDue.isEmpty else { return [] }
        let neighbours = links.keys.sorted()
        var actions: [GossipAction] = []
        for due in forwardsDue {
            for neighbour in neighbours where !due.holders.contains(neighbour) {
                actions.append(.send(due.envelope, to: neighbour))
            }
        }
        forwardsDue.removeAll(keepingCapacity: true)
        dueForwardByID.removeAll(keepingCapacity: true)
        return actions
    }

    /// Processes held envelopes that are no longer ahead of `now`, nearest first, as if each had just
    /// arrived from the neighbour that sent it (forwarded to every other link, even if that
    /// neighbour is gone), and forgets invalid envelopes that slid out of the window.
    ///
    /// If the store throws, the envelope that failed and those after it stay held. So that nothing
    /// already stored goes unshown or unsent, the error is thrown only when no envelope was
    /// processed; otherwise the actions so far are returned and the next tick meets the error again.
    public mutating func tick(now: UInt64) throws -> [GossipAction] {
        for peer in links.keys {
            links[peer]?.prune(now: now, windowMs: configuration.invalidEnvelopeWindowMs)
        }
        // "until it is no longer ahead": released once its timestamp is not after our clock.
        let released = held.release(timestampsUpTo: now)
        var actions: [GossipAction] = []
        for (index, entry) in released.enumerated() {
            do {
                actions += try accept(entry.envelope, from: entry.from)
            } catch {
                held.restore(released[index...])
                if index == 0 { throw error }
                break
            }
        }
        return actions + takeForwards()
    }

    // MARK: Posting

    /// Signs a room message as the next seq of this node, stores it, and sends it (hops 0) to every
    /// linked neighbour. It is not delivered back to this node: the caller has the envelope.
    public mutating func postRoom(text: String, room: String, nickname: String, now: UInt64) throws
        -> (envelope: Envelope, actions: [GossipAction])
    {
        guard Names.isValidRoom(room) else { throw GossipError.invalidRoom }
        guard Names.isValidNickname(nickname) else { throw GossipError.invalidNickname }
        let body = Array(text.utf8)
        guard WireBounds.roomBodyBytes.contains(body.count) else { throw GossipError.invalidTextLength }
        return try post(kind: .room, nickname: nickname, room: room, recipient: nil, body: body, now: now)
    }

    /// Seals `text` to `recipient` (`crypto_box_seal` to its X25519 key), signs it as the next seq
    /// of this node, stores it, and sends it (hops 0) to every linked neighbour.
    public mutating func postDirect(text: String, to recipient: SigningPublicKey, nickname: String, now: UInt64) throws
        -> (envelope: Envelope, actions: [GossipAction])
    {
        guard recipient != identity.publicKey else { throw GossipError.directToSelf }
        guard Names.isValidNickname(nickname) else { throw GossipError.invalidNickname }
        let plaintext = Array(text.utf8)
        guard WireBounds.directBodyBytes.contains(plaintext.count + SealedBox.overhead) else {
            throw GossipError.invalidTextLength
        }
        let recipientKey: KeyAgreementPublicKey
        do {
            recipientKey = try recipient.keyAgreementKey()
        } catch {
            throw GossipError.invalidRecipient
        }
        let body = SealedBox.seal(plaintext, to: recipientKey)
        // kind 2: "room: empty".
        return try post(kind: .direct, nickname: nickname, room: "", recipient: recipient, body: body, now: now)
    }

    private mutating func post(
        kind: EnvelopeKind, nickname: String, room: String, recipient: SigningPublicKey?, body: [UInt8], now: UInt64
    ) throws -> (envelope: Envelope, actions: [GossipAction]) {
        // "seq: the author's sequence number: 1, 2, 3, ... with no gaps".
        let (seq, overflow) = try store.highestSeq(author: identity.publicKey).addingReportingOverflow(1)
        guard !overflow else { throw GossipError.sequenceExhausted }
        let envelope: Envelope
        do {
            envelope = try Envelope.signed(
                kind: kind, by: identity, seq: seq, timestamp: now,
                nickname: nickname, room: room, recipient: recipient, body: body)
        } catch {
            throw GossipError.envelope(error)
        }
        // The seq is new, so the id is too; storing before sending means a crash never leaves a
        // message out on the mesh that this node has forgotten (and would reuse the seq of).
        _ = try store.insert(envelope)
        stored(envelope)
        let actions = links.keys.sorted().map { GossipAction.send(envelope, to: $0) }
        return (envelope, actions)
    }

    // MARK: Rules

    /// Counts an invalid envelope against `peer` and drops it; asks once for the link to close
    /// when the peer passes the limit inside the window.
    private mutating func invalid(from peer: PeerID, reason: DropReason, now: UInt64) -> [GossipAction] {
        counters.invalid += 1
        var actions: [GossipAction] = [.dropped(from: peer, reason: reason)]
        // Envelopes from a peer that is not linked (a frame racing its link's close) are dropped
        // but not counted: records exist only for linked peers, which keeps memory bounded.
        if links[peer]?.recordInvalid(
            now: now, limit: configuration.invalidEnvelopeLimit, windowMs: configuration.invalidEnvelopeWindowMs) == true
        {
            actions.append(.disconnect(peer, .tooManyInvalidEnvelopes))
        }
        return actions
    }

    private func isFarFuture(_ envelope: Envelope, now: UInt64) -> Bool {
        envelope.timestamp > now && envelope.timestamp - now > configuration.farFutureToleranceMs
    }

    /// Rule 2's holding, deduplicated by id and bounded by `maxHeldEnvelopes`.
    private mutating func hold(_ envelope: Envelope, from peer: PeerID) -> [GossipAction] {
        guard !held.contains(envelope.id) else {
            counters.duplicates += 1
            return [.dropped(from: peer, reason: .duplicate)]
        }
        let evicted = held.hold(.init(envelope: envelope, from: peer), capacity: configuration.maxHeldEnvelopes)
        return evicted.map { [.dropped(from: $0.from, reason: .heldLimit)] } ?? []
    }

    /// Rule 3: "drops it if it already has that message id".
    private mutating func duplicate(from peer: PeerID) -> [GossipAction] {
        counters.duplicates += 1
        return [.dropped(from: peer, reason: .duplicate)]
    }

    /// Rules 3 and 4 for a valid envelope that is not far ahead. Rule 3 is the insert's answer: a
    /// stored id is not inserted again, so no separate lookup is needed. `holders` are neighbours
    /// other than `peer` known to have the message already; it is not forwarded to them either.
    /// The forwards are left due for `takeForwards`.
    private mutating func accept(_ envelope: Envelope, from peer: PeerID, alsoHeldBy holders: [PeerID] = [])
        throws -> [GossipAction]
    {
        // Rule 4: "otherwise stores it durably, shows it ..., and forwards it". Stored first, so
        // nothing is shown or sent that a crash could lose.
        let outcome = try store.insert(envelope)
        guard outcome != .notStored else { return duplicate(from: peer) }
        stored(envelope)
        counters.accepted += 1

        var actions: [GossipAction] = []
        // "a second envelope with an author and seq already seen but another id is kept like any
        // other (the node may warn that the author reused a sequence number)".
        if outcome == .storedReusingSeq {
            actions.append(.sequenceReused(author: envelope.author, seq: envelope.seq))
        }
        switch delivery(of: envelope) {
        case .show(let delivery): actions.append(.deliver(delivery))
        case .notForUs: break
        case .unopenable: actions.append(.dropped(from: peer, reason: .undecryptableDirect))
        }
        // "forwards it to every other connected peer with hops increased by one, if the result is
        // not above the node's maximum hop count". A neighbour that sent a copy itself is one the
        // message came from too (docs/protocol-notes.md).
        if envelope.hops < configuration.hopLimit {
            dueForwardByID[envelope.id] = forwardsDue.count
            forwardsDue.append(DueForward(envelope: envelope.withHops(envelope.hops + 1), holders: [peer] + holders))
        }
        return actions
    }

    /// Whether and what an accepted envelope shows at this node.
    private enum Showing {
        /// Room text, or a direct message to us that opened to UTF-8 text.
        case show(Delivery)
        /// A direct message for another node: relayed, never opened here.
        case notForUs
        /// A direct message to us whose box does not open or holds invalid UTF-8.
        case unopenable
    }

    /// "room text in that room's view; direct text only on the recipient's node, after
    /// `crypto_box_seal_open`; a box that does not open or holds invalid UTF-8 is not shown".
    private func delivery(of envelope: Envelope) -> Showing {
        switch envelope.kind {
        case .room:
            // `Envelope.parse` already refused a room body that is not UTF-8 ("kind 1: UTF-8 text").
            return .show(Delivery(envelope: envelope, text: String(decoding: envelope.body, as: UTF8.self)))
        case .direct:
            guard envelope.recipient == identity.publicKey else { return .notForUs }
            guard let plaintext = try? SealedBox.open(envelope.body, with: keyAgreementKey),
                  let text = Self.text(fromUTF8: plaintext)
            else { return .unopenable }
            return .show(Delivery(envelope: envelope, text: text))
        }
    }

    /// The string these bytes encode, or nil if they are not valid UTF-8.
    private static func text(fromUTF8 bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        // Decoding replaces invalid sequences with U+FFFD, so a faithful decode re-encodes to the input.
        return text.utf8.elementsEqual(bytes) ? text : nil
    }
}

extension GossipEngine: CustomStringConvertible {
    /// A summary for logs: counts only, so the identity's secret key can never reach a log by reflection.
    public var description: String {
        "GossipEngine(key: \(identity.publicKey.base64), links: \(links.count), held: \(held.count))"
    }
}

/// An envelope `screen` passed on for its signature check, as `admit` will want it.
private struct AwaitedEnvelope {
    /// The signature it came with: a copy with the same one gets the same verdict.
    let signature: [UInt8]
    /// Neighbours that sent such a copy meanwhile, each once: at most one per link.
    private(set) var otherSenders: [PeerID] = []

    init(signature: [UInt8]) { self.signature = signature }

    mutating func heldBy(_ peer: PeerID) {
        if !otherSenders.contains(peer) { otherSenders.append(peer) }
    }
}

/// An accepted envelope waiting to be forwarded, and the neighbours it is not forwarded to.
private struct DueForward {
    /// The envelope with the hops it goes out with.
    let envelope: Envelope
    /// The neighbour it came from and those that sent a copy with the same signature since, each once.
    private(set) var holders: [PeerID]

    init(envelope: Envelope, holders: [PeerID]) {
        self.envelope = envelope
        self.holders = holders
    }

    /// A copy with `signature` came from `peer`: it holds the same signed bytes unless the signature differs.
    mutating func heldBy(_ peer: PeerID, signature: [UInt8]) {
        if signature == envelope.signature && !holders.contains(peer) { holders.append(peer) }
    }
}
