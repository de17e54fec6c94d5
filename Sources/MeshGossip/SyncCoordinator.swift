import MeshCrypto
import MeshWire

/// Catch-up sync (anti-entropy) for one node over all its links, as a synchronous state machine:
/// link events and sync messages in, `SyncAction`s out; no clock, socket or task inside
/// (STYLE.md 1). docs/sync-protocol.md is the contract it implements.
///
/// When a link comes up both sides send their per-author frontier (SYNC_FRONTIER). Each then
/// asks (SYNC_REQUEST) for the seqs the other holds beyond its own, and the other answers with
/// ordinary MESSAGE frames and a SYNC_DONE. A seq range is asked of one peer at a time, so many
/// links coming up together do not each deliver the same messages; a range is asked of a given
/// peer at most once per link, so a peer that advertises what it no longer holds cannot cause a loop.
///
/// Like `GossipEngine`, the coordinator is a value but `store` is a shared reference: it reads the
/// store for frontiers and answers, and never writes it (envelopes that arrive go through
/// `GossipEngine.receive`, which dedups, stores, shows and forwards them).
public struct SyncCoordinator {
    /// Where this node's envelopes live (read only here).
    public let store: any MessageStore
    /// This node's identity: a peer's frontier entry for it tells us our own last seq.
    public let ownKey: SigningPublicKey
    /// The limits in force.
    public let configuration: SyncConfiguration

    /// The highest seq of our own that any peer has told us it holds (0 before any did).
    public private(set) var ownSeqFloor: UInt64 = 0
    /// Whether a complete frontier has arrived from at least one peer since this coordinator was
    /// made, so `ownSeqFloor` reflects what the mesh knows. A node whose store may have been lost
    /// waits for this before posting, so it never reuses a seq.
    public private(set) var ownSeqKnown = false

    /// Per linked peer; only linked peers are tracked, so this is bounded by the number of links.
    private var peers: [PeerID: PeerSync] = [:]
    /// Per author, the ranges currently asked of some peer, so no other peer is asked for them.
    private var inFlight: [SigningPublicKey: [InFlightRange]] = [:]

    /// A coordinator for the node `ownKey` over `store`, with no links.
    public init(store: any MessageStore, ownKey: SigningPublicKey, configuration: SyncConfiguration = .init()) {
        self.store = store
        self.ownKey = ownKey
        self.configuration = configuration
    }

    /// The peers with a link up, as far as sync knows.
    public var linkedPeers: Set<PeerID> { Set(peers.keys) }

    /// How many requests to `peer` are outstanding (sent, DONE not received).
    public func outstandingRequestCount(to peer: PeerID) -> Int {
        peers[peer]?.outstanding.count ?? 0
    }

    // MARK: Links

    /// A link to `peer` is up: returns our frontier as SYNC_FRONTIER frames for it. A link that
    /// was already up is treated as gone and back (its requests are released first).
    public mutating func linkUp(_ peer: PeerID) throws -> [SyncAction] {
        var actions: [SyncAction] = []
        if peers[peer] != nil { actions += try linkDown(peer) }
        let frontier = try store.frontier()
        peers[peer] = PeerSync()
        let entries = frontier.map { FrontierEntry(author: $0.key, contiguous: $0.value.contiguous, highest: $0.value.highest) }
        actions += SyncMessage.frontierFrames(entries).map { .send($0, to: peer) }
        return actions
    }

    /// The link to `peer` is gone: what it was answering for us is asked of other peers that
    /// advertised it, and what we were answering for it is dropped.
    public mutating func linkDown(_ peer: PeerID) throws -> [SyncAction] {
        guard let state = peers.removeValue(forKey: peer) else { return [] }
        var authors: Set<SigningPublicKey> = []
        for ranges in state.outstanding.values {
            for range in ranges {
                authors.insert(range.author)
                release(range, from: peer)
            }
        }
        return try wake(authors, except: peer)
    }

    // MARK: Receiving

    /// Handles one sync message from `peer`. Throws `SyncError` for a protocol error (BYE 2) and
    /// whatever the store throws. A message from a peer whose link is not up (a frame racing its
    /// link's close) is ignored.
    public mutating func receive(_ message: SyncMessage, from peer: PeerID) throws -> [SyncAction] {
        guard peers[peer] != nil else { return [] }
        switch message {
        case .frontier(let last, let entries):
            return try receiveFrontier(last: last, entries: entries, from: peer)
        case .request(let id, let ranges):
            return try receiveRequest(id: id, ranges: ranges, from: peer)
        case .done(let id):
            return try receiveDone(id: id, from: peer)
        }
    }

    private mutating func receiveFrontier(last: Bool, entries: [FrontierEntry], from peer: PeerID) throws -> [SyncAction] {
        guard var state = peers[peer] else { return [] }
        // Strictly ascending authors over every frame of one frontier: a repeated author would
        // otherwise be ambiguous, and the check costs one comparison per entry.
        for entry in entries {
            if let previous = state.inboxLastAuthor, !(previous < entry.author) { throw SyncError.frontierOutOfOrder }
            state.inboxLastAuthor = entry.author
        }
        guard state.inbox.count + entries.count <= configuration.maxFrontierAuthors else {
            throw SyncError.tooManyFrontierAuthors
        }
        for entry in entries {
            state.inbox[entry.author] = SeqFrontier(contiguous: entry.contiguous, highest: entry.highest)
        }
        guard last else {
            peers[peer] = state
            return []
        }

        let advertised = state.inbox
        state.inbox = [:]
        state.inboxLastAuthor = nil
        let ours = try store.frontier()
        // Only authors of whom the peer holds something beyond our contiguous point can give us
        // anything; the rest is forgotten now, which keeps the work list small.
        let candidates = advertised.filter { $0.value.highest > (ours[$0.key]?.contiguous ?? 0) }
        state.advertised = candidates
        state.todo = WorkList(candidates.keys.sorted())
        state.waiting = []
        peers[peer] = state

        var actions: [SyncAction] = []
        if let own = advertised[ownKey]?.highest {
            let known = max(ownSeqFloor, try store.highestSeq(author: ownKey))
            if own > known { actions.append(.learnedOwnSeq(own)) }
            ownSeqFloor = max(ownSeqFloor, own)
        }
        ownSeqKnown = true
        actions += try fill(peer)
        return actions
    }

    private mutating func receiveRequest(id: UInt32, ranges: [SyncRange], from peer: PeerID) throws -> [SyncAction] {
        guard var state = peers[peer] else { return [] }
        guard !state.serving.contains(where: { $0.id == id }) else { throw SyncError.duplicateRequest(id) }
        guard state.serving.count < SyncBounds.maxOutstandingRequests else { throw SyncError.tooManyRequests }
        state.serving.append(ServedRequest(id: id, ranges: ranges))
        peers[peer] = state
        return [.stream(requestID: id, to: peer)]
    }

    private mutating func receiveDone(id: UInt32, from peer: PeerID) throws -> [SyncAction] {
        guard var state = peers[peer] else { return [] }
        guard let ranges = state.outstanding.removeValue(forKey: id) else { throw SyncError.unknownRequest(id) }
        peers[peer] = state
        var authors: Set<SigningPublicKey> = []
        for range in ranges {
            authors.insert(range.author)
            release(range, from: peer)
        }
        // What this peer sent is stored by now (its MESSAGE frames came before the DONE on the
        // same ordered link), so whatever is still missing of these ranges it did not have. Other
        // peers that were held back from these ranges may now be asked.
        var actions = try fill(peer)
        actions += try wake(authors, except: peer)
        return actions
    }

    // MARK: Answering

    /// The next step of answering `peer`'s oldest unanswered request: up to `limit` envelopes
    /// (hops raised by one, capped at `WireBounds.maxHopLimit`), or `.finished` once that request
    /// is complete; nil when nothing is asked of us. Reads the store `limit` envelopes at a time,
    /// so memory is bounded whatever the request spans; every envelope of a reused seq is
    /// returned, none twice.
    public mutating func nextBatch(for peer: PeerID, limit: Int) throws -> SyncBatch? {
        precondition(limit >= 1, "a batch holds at least one envelope")
        guard var state = peers[peer], var request = state.serving.first else { return nil }
        var batch: [Envelope] = []
        while batch.count < limit, request.rangeIndex < request.ranges.count {
            let range = request.ranges[request.rangeIndex]
            let room = limit - batch.count
            // Ask for enough to skip what was already sent at the boundary seq and still fill the room.
            let fetchLimit = room + request.sentAtNext.count
            let fetched = try store.envelopes(author: range.author, after: request.after, through: range.through,
                                              limit: fetchLimit)
            let fresh = fetched.filter { !request.sentAtNext.contains($0.id) }
            let taken = fresh.prefix(room)
            batch += taken
            if fetched.count < fetchLimit && taken.count == fresh.count {
                request.advanceRange()
            } else if let lastSeq = taken.last?.seq {
                // Every seq below lastSeq is complete (the store answers in seq order); lastSeq
                // may have more envelopes (a reused seq), so remember which of them went out.
                let atLast = taken.lazy.filter { $0.seq == lastSeq }.map(\.id)
                if lastSeq == request.after + 1 {
                    request.sentAtNext.formUnion(atLast)
                } else {
                    request.after = lastSeq - 1
                    request.sentAtNext = Set(atLast)
                }
            } else {
                // Only possible if the store broke its contract; moving on guarantees progress.
                request.advanceRange()
            }
        }
        if batch.isEmpty {
            state.serving.removeFirst()
            peers[peer] = state
            return .finished(requestID: request.id)
        }
        state.serving[0] = request
        peers[peer] = state
        return .envelopes(batch.map { $0.withHops(UInt8(min(Int($0.hops) + 1, Int(WireBounds.maxHopLimit)))) })
    }

    // MARK: Requesting

    /// Sends `peer` as many requests as its outstanding bound allows for what it advertised and
    /// we still lack; reports it caught up once nothing is outstanding or left to ask.
    private mutating func fill(_ peer: PeerID) throws -> [SyncAction] {
        guard var state = peers[peer], let advertised = state.advertised else { return [] }
        var actions: [SyncAction] = []
        var ours: [SigningPublicKey: SeqFrontier]?
        while state.outstanding.count < configuration.maxOutstandingRequestsPerPeer, !state.todo.isEmpty {
            let frontier = try ours ?? store.frontier()
            ours = frontier
            var ranges: [SyncRange] = []
            while ranges.count < configuration.rangesPerRequest, let author = state.todo.first {
                let (wanted, heldBack) = try missing(
                    author: author, advertised: advertised[author], ours: frontier[author], from: peer, state: state)
                let room = configuration.rangesPerRequest - ranges.count
                for interval in wanted.intervals.prefix(room) {
                    ranges.append(SyncRange(author: author, after: interval.after, through: interval.through))
                    state.requested[author, default: SeqIntervals()].insert(after: interval.after, through: interval.through)
                }
                // An author with more gaps than the request has room for stays first in line;
                // its remaining gaps are worked out again for the next request.
                if wanted.intervals.count > room { break }
                state.todo.removeFirst()
                if heldBack { state.waiting.insert(author) }
            }
            guard !ranges.isEmpty else { break }
            ranges.sort { $0.author == $1.author ? $0.after < $1.after : $0.author < $1.author }
            let id = state.nextRequestID
            state.nextRequestID &+= 1
            state.outstanding[id] = ranges
            state.reportedCaughtUp = false
            for range in ranges {
                inFlight[range.author, default: []].append(
                    InFlightRange(peer: peer, interval: .init(after: range.after, through: range.through)))
            }
            actions.append(.send(.request(id: id, ranges: ranges), to: peer))
        }
        if state.outstanding.isEmpty, state.todo.isEmpty, !state.reportedCaughtUp {
            state.reportedCaughtUp = true
            actions.append(.caughtUp(peer))
        }
        peers[peer] = state
        return actions
    }

    /// What of `author` to ask `peer` for now: the seqs above our contiguous point up to the
    /// peer's highest, less what we hold, what we already asked this peer for on this link, and
    /// what another peer is fetching for us. `heldBack` says whether that last part removed
    /// anything (so the author is looked at again when that fetch ends).
    private func missing(
        author: SigningPublicKey, advertised: SeqFrontier?, ours: SeqFrontier?, from peer: PeerID, state: PeerSync
    ) throws -> (wanted: SeqIntervals, heldBack: Bool) {
        guard let advertised else { return (SeqIntervals(), false) }
        let ours = ours ?? SeqFrontier(contiguous: 0, highest: 0)
        var wanted = SeqIntervals(after: ours.contiguous, through: advertised.highest)
        if ours.highest > ours.contiguous {
            wanted = wanted.subtracting(try held(author: author, after: ours.contiguous,
                                                 through: min(ours.highest, advertised.highest)))
        }
        if let asked = state.requested[author] { wanted = wanted.subtracting(asked) }
        var elsewhere = SeqIntervals()
        for fetch in inFlight[author] ?? [] where fetch.peer != peer {
            elsewhere.insert(after: fetch.interval.after, through: fetch.interval.through)
        }
        let remaining = wanted.subtracting(elsewhere)
        return (remaining, remaining != wanted)
    }

    /// The seqs of `author` in `(after, through]` that the store holds, reading at most
    /// `gapScanLimit` envelopes; seqs beyond what was read count as not held.
    private func held(author: SigningPublicKey, after: UInt64, through: UInt64) throws -> SeqIntervals {
        var seqs: [UInt64] = []
        var cursor = after
        let page = 256
        while seqs.count < configuration.gapScanLimit, cursor < through {
            let want = min(page, configuration.gapScanLimit - seqs.count)
            let envelopes = try store.envelopes(author: author, after: cursor, through: through, limit: want)
            seqs += envelopes.map(\.seq)
            guard envelopes.count == want, let last = envelopes.last else { break }
            // Continuing after the last seq read may skip other envelopes of that seq (a reused
            // seq); only which seqs are held matters here.
            cursor = last.seq
        }
        return SeqIntervals.of(ascending: seqs)
    }

    /// Forgets that `range` is being fetched from `peer`.
    private mutating func release(_ range: SyncRange, from peer: PeerID) {
        inFlight[range.author]?.removeAll { $0.peer == peer && $0.interval.after == range.after && $0.interval.through == range.through }
        if inFlight[range.author]?.isEmpty == true { inFlight[range.author] = nil }
    }

    /// Puts `authors` back in line at every other peer that was held back from them, and sends
    /// those peers what they can now be asked for, in peer order for determinism.
    private mutating func wake(_ authors: Set<SigningPublicKey>, except done: PeerID) throws -> [SyncAction] {
        guard !authors.isEmpty else { return [] }
        var actions: [SyncAction] = []
        for peer in peers.keys.sorted() where peer != done {
            guard var state = peers[peer] else { continue }
            let woken = state.waiting.intersection(authors)
            guard !woken.isEmpty else { continue }
            state.waiting.subtract(woken)
            for author in woken.sorted() { state.todo.append(author) }
            peers[peer] = state
            actions += try fill(peer)
        }
        return actions
    }
}

extension SyncCoordinator: CustomStringConvertible {
    /// A summary for logs: counts only.
    public var description: String {
        "SyncCoordinator(key: \(ownKey.base64), links: \(peers.count), ownSeqFloor: \(ownSeqFloor), ownSeqKnown: \(ownSeqKnown))"
    }
}

/// A range being fetched from one peer.
private struct InFlightRange: Sendable {
    var peer: PeerID
    var interval: SeqIntervals.Interval
}

/// The authors still to look at for one peer, in order, without repeats.
private struct WorkList: Sendable {
    private var items: [SigningPublicKey]
    private var head = 0
    private var members: Set<SigningPublicKey>

    init(_ items: [SigningPublicKey] = []) {
        self.items = items
        members = Set(items)
    }

    var isEmpty: Bool { head == items.count }
    var first: SigningPublicKey? { isEmpty ? nil : items[head] }

    mutating func removeFirst() {
        members.remove(items[head])
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    mutating func append(_ author: SigningPublicKey) {
        if members.insert(author).inserted { items.append(author) }
    }
}

/// A request from a peer that we are answering, with its cursor.
private struct ServedRequest: Sendable {
    let id: UInt32
    let ranges: [SyncRange]
    /// The range being read.
    var rangeIndex = 0
    /// Every envelope with seq <= after in the current range has been returned.
    var after: UInt64
    /// Ids already returned at seq `after + 1` (more than one only for a reused seq).
    var sentAtNext: Set<MessageID> = []

    init(id: UInt32, ranges: [SyncRange]) {
        self.id = id
        self.ranges = ranges
        after = ranges.first?.after ?? 0
    }

    mutating func advanceRange() {
        rangeIndex += 1
        after = rangeIndex < ranges.count ? ranges[rangeIndex].after : 0
        sentAtNext = []
    }
}

/// Everything sync tracks about one linked peer.
private struct PeerSync: Sendable {
    /// The frontier being received, until its last frame.
    var inbox: [SigningPublicKey: SeqFrontier] = [:]
    var inboxLastAuthor: SigningPublicKey?
    /// The peer's last complete frontier, only authors that can give us something; nil before one.
    var advertised: [SigningPublicKey: SeqFrontier]?
    /// Authors still to ask this peer about.
    var todo = WorkList()
    /// Authors partly held back because another peer was fetching them.
    var waiting: Set<SigningPublicKey> = []
    /// Per author, every seq asked of this peer on this link: never asked twice.
    var requested: [SigningPublicKey: SeqIntervals] = [:]
    /// Our requests awaiting DONE, by id.
    var outstanding: [UInt32: [SyncRange]] = [:]
    var nextRequestID: UInt32 = 1
    var reportedCaughtUp = false
    /// The peer's requests we are answering, oldest first.
    var serving: [ServedRequest] = []
}
