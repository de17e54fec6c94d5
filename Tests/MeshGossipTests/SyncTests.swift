import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// A room envelope by `author` at `seq`.
private func room(_ author: SigningPrivateKey, seq: UInt64, _ text: String = "m", hops: UInt8 = 0) throws -> Envelope {
    try Envelope.signed(kind: .room, by: author, seq: seq, timestamp: t0, nickname: "n", room: "general",
                        recipient: nil, body: Array(text.utf8)).withHops(hops)
}

private func range(_ author: SigningPrivateKey, _ after: UInt64, _ through: UInt64) -> SyncRange {
    SyncRange(author: author.publicKey, after: after, through: through)
}

private func entry(_ author: SigningPrivateKey, _ contiguous: UInt64, _ highest: UInt64) -> FrontierEntry {
    FrontierEntry(author: author.publicKey, contiguous: contiguous, highest: highest)
}

extension Array where Element == SyncAction {
    /// The requests sent, in order.
    fileprivate var requests: [(id: UInt32, ranges: [SyncRange], to: PeerID)] {
        compactMap { if case .send(.request(let id, let ranges), let peer) = $0 { (id, ranges, peer) } else { nil } }
    }

    /// The peers reported caught up, in order.
    fileprivate var caughtUp: [PeerID] {
        compactMap { if case .caughtUp(let peer) = $0 { peer } else { nil } }
    }
}

/// A store that reports seqs up to `prunedThrough` as held (the frontier counts pruned seqs)
/// but no longer returns their envelopes, as a store past its retention window does.
private final class PrunedStore: MessageStore {
    let base = InMemoryMessageStore()
    var prunedThrough: UInt64 = 0

    func contains(_ id: MessageID) throws -> Bool { base.contains(id) }
    func insert(_ envelope: Envelope) throws -> InsertOutcome { base.insert(envelope) }
    func highestSeq(author: SigningPublicKey) throws -> UInt64 { base.highestSeq(author: author) }
    func recent(room: String?, limit: Int) throws -> [Envelope] { base.recent(room: room, limit: limit) }
    func transaction<T>(_ body: () throws -> T) throws -> T { try body() }
    func frontier() throws -> [SigningPublicKey: SeqFrontier] { base.frontier() }
    func envelopes(author: SigningPublicKey, after: UInt64, through: UInt64, limit: Int) throws -> [Envelope] {
        base.envelopes(author: author, after: max(after, prunedThrough), through: through, limit: limit)
    }
}

/// `SyncCoordinator` on its own: frontiers in, requests and batches out.
@Suite struct SyncTests {
    let me = SigningPrivateKey()
    let x = SigningPrivateKey()
    let y = SigningPrivateKey()
    let p1 = SigningPrivateKey().publicKey
    let p2 = SigningPrivateKey().publicKey
    let p3 = SigningPrivateKey().publicKey

    func coordinator(_ store: any MessageStore, _ configuration: SyncConfiguration = .init()) -> SyncCoordinator {
        SyncCoordinator(store: store, ownKey: me.publicKey, configuration: configuration)
    }

    // MARK: Frontiers

    @Test func linkUpSendsOurFrontierSorted() throws {
        let store = InMemoryMessageStore()
        for seq: UInt64 in [1, 2, 4] { _ = store.insert(try room(x, seq: seq)) }
        _ = store.insert(try room(y, seq: 1))
        var sync = coordinator(store)
        let actions = try sync.linkUp(p1)
        let expected = SyncMessage.frontierFrames([entry(x, 2, 4), entry(y, 1, 1)])
        #expect(actions == expected.map { .send($0, to: p1) })
        #expect(expected.count == 1)

        var empty = coordinator(InMemoryMessageStore())
        #expect(try empty.linkUp(p1) == [.send(.frontier(last: true, entries: []), to: p1)])
    }

    @Test func gapsAreAskedForAndHeldSeqsAreNot() throws {
        let store = InMemoryMessageStore()
        for seq: UInt64 in [1, 2, 5, 8] { _ = store.insert(try room(x, seq: seq)) }
        var sync = coordinator(store)
        _ = try sync.linkUp(p1)
        let actions = try sync.receive(.frontier(last: true, entries: [entry(x, 10, 12)]), from: p1)
        #expect(actions.requests.count == 1)
        #expect(actions.requests.first?.ranges == [range(x, 2, 4), range(x, 5, 7), range(x, 8, 12)])
        #expect(actions.requests.first?.to == p1)
    }

    @Test func unknownAuthorsAreAskedForFromTheStart() throws {
        var sync = coordinator(InMemoryMessageStore())
        _ = try sync.linkUp(p1)
        let ordered = [x, y].sorted { $0.publicKey < $1.publicKey }
        let actions = try sync.receive(.frontier(last: true, entries: [entry(ordered[0], 3, 3), entry(ordered[1], 1, 9)]), from: p1)
        #expect(actions.requests.map(\.ranges) == [[range(ordered[0], 0, 3), range(ordered[1], 0, 9)]])
    }

    @Test func nothingIsAskedWhenWeHoldEverything() throws {
        let store = InMemoryMessageStore()
        for seq: UInt64 in 1...3 { _ = store.insert(try room(x, seq: seq)) }
        var sync = coordinator(store)
        _ = try sync.linkUp(p1)
        let actions = try sync.receive(.frontier(last: true, entries: [entry(x, 2, 3)]), from: p1)
        #expect(actions == [.caughtUp(p1)])
    }

    @Test func frontierFramesAccumulateUntilLast() throws {
        var sync = coordinator(InMemoryMessageStore())
        _ = try sync.linkUp(p1)
        let ordered = [x, y].sorted { $0.publicKey < $1.publicKey }
        #expect(try sync.receive(.frontier(last: false, entries: [entry(ordered[0], 1, 1)]), from: p1) == [])
        let actions = try sync.receive(.frontier(last: true, entries: [entry(ordered[1], 2, 2)]), from: p1)
        #expect(actions.requests.map(\.ranges) == [[range(ordered[0], 0, 1), range(ordered[1], 0, 2)]])
    }

    // MARK: Many links

    @Test func aRangeIsAskedOfOnlyOneOfThreePeersThatComeUpTogether() throws {
        var sync = coordinator(InMemoryMessageStore())
        for peer in [p1, p2, p3] { _ = try sync.linkUp(peer) }
        var requests: [(id: UInt32, ranges: [SyncRange], to: PeerID)] = []
        for peer in [p1, p2, p3] {
            requests += try sync.receive(.frontier(last: true, entries: [entry(x, 10, 10)]), from: peer).requests
        }
        #expect(requests.count == 1)
        #expect(requests.first?.to == p1)
        #expect(requests.first?.ranges == [range(x, 0, 10)])
    }

    @Test func aRangeGoesToAnotherPeerWhenItsLinkGoesDown() throws {
        let store = InMemoryMessageStore()
        var sync = coordinator(store)
        for peer in [p1, p2, p3] { _ = try sync.linkUp(peer) }
        for peer in [p1, p2, p3] { _ = try sync.receive(.frontier(last: true, entries: [entry(x, 10, 10)]), from: peer) }
        // p1 delivered 1...4 before going away; only the rest is asked again, of one peer.
        for seq: UInt64 in 1...4 { _ = store.insert(try room(x, seq: seq)) }
        let actions = try sync.linkDown(p1)
        let expectedPeer = [p2, p3].min()!
        #expect(actions.requests.count == 1)
        #expect(actions.requests.first?.to == expectedPeer)
        #expect(actions.requests.first?.ranges == [range(x, 4, 10)])
        #expect(try sync.linkDown(p1) == [])
    }

    @Test func aPeerThatOnlySentPartOfARangeIsNotAskedTwiceButOthersAre() throws {
        // p1 advertised 1...10 but held only 1...6 (pruned or lost): after its DONE, p2 is asked
        // for the rest, and p1 never again on this link.
        let store = InMemoryMessageStore()
        var sync = coordinator(store)
        for peer in [p1, p2] { _ = try sync.linkUp(peer) }
        let first = try sync.receive(.frontier(last: true, entries: [entry(x, 10, 10)]), from: p1).requests
        #expect(try sync.receive(.frontier(last: true, entries: [entry(x, 10, 10)]), from: p2).requests.isEmpty)
        for seq: UInt64 in 1...6 { _ = store.insert(try room(x, seq: seq)) }
        let afterDone = try sync.receive(.done(id: first[0].id), from: p1)
        #expect(afterDone.caughtUp == [p1])
        #expect(afterDone.requests.map(\.to) == [p2])
        #expect(afterDone.requests.first?.ranges == [range(x, 6, 10)])
        // p2 did not have them either: nothing more is asked of anyone.
        let end = try sync.receive(.done(id: afterDone.requests[0].id), from: p2)
        #expect(end == [.caughtUp(p2)])
        // A fresh frontier from p1 on the same link does not start a loop.
        #expect(try sync.receive(.frontier(last: true, entries: [entry(x, 10, 10)]), from: p1).requests.isEmpty)
    }

    @Test func eachRangeIsAskedAtMostOncePerLink() throws {
        var sync = coordinator(InMemoryMessageStore())
        _ = try sync.linkUp(p1)
        let request = try sync.receive(.frontier(last: true, entries: [entry(x, 5, 5)]), from: p1).requests
        #expect(request.count == 1)
        // DONE with nothing sent (the peer pruned them): no second request, the peer is caught up.
        #expect(try sync.receive(.done(id: request[0].id), from: p1) == [.caughtUp(p1)])
        for _ in 0..<3 {
            #expect(try sync.receive(.frontier(last: true, entries: [entry(x, 5, 5)]), from: p1).requests.isEmpty)
        }
        // The peer later holds more: only the new seqs are asked for.
        let more = try sync.receive(.frontier(last: true, entries: [entry(x, 8, 8)]), from: p1).requests
        #expect(more.map(\.ranges) == [[range(x, 5, 8)]])
        // A new link is a new chance.
        _ = try sync.linkDown(p1)
        _ = try sync.linkUp(p1)
        #expect(try sync.receive(.frontier(last: true, entries: [entry(x, 8, 8)]), from: p1).requests.map(\.ranges)
            == [[range(x, 0, 8)]])
    }

    @Test func outstandingRequestsAreBounded() throws {
        var sync = coordinator(InMemoryMessageStore(), .init(maxOutstandingRequestsPerPeer: 2, rangesPerRequest: 1))
        _ = try sync.linkUp(p1)
        let authors = (0..<5).map { _ in SigningPrivateKey() }.sorted { $0.publicKey < $1.publicKey }
        var pending = try sync.receive(.frontier(last: true, entries: authors.map { entry($0, 1, 1) }), from: p1).requests
        #expect(pending.count == 2)
        var all = pending
        while let next = pending.first {
            pending.removeFirst()
            #expect(sync.outstandingRequestCount(to: p1) <= 2)
            let actions = try sync.receive(.done(id: next.id), from: p1)
            pending += actions.requests
            all += actions.requests
            #expect(sync.outstandingRequestCount(to: p1) <= 2)
        }
        #expect(all.map(\.ranges) == authors.map { [range($0, 0, 1)] })
        #expect(Set(all.map(\.id)).count == 5)
    }

    @Test func anAuthorWithManyGapsIsSpreadOverRequests() throws {
        let store = InMemoryMessageStore()
        for seq in stride(from: UInt64(2), through: 20, by: 2) { _ = store.insert(try room(x, seq: seq)) }
        var sync = coordinator(store, .init(maxOutstandingRequestsPerPeer: 8, rangesPerRequest: 4))
        _ = try sync.linkUp(p1)
        let requests = try sync.receive(.frontier(last: true, entries: [entry(x, 20, 20)]), from: p1).requests
        // Missing 1, 3, 5, ..., 19: ten ranges, four per request.
        #expect(requests.map(\.ranges.count) == [4, 4, 2])
        #expect(requests.flatMap(\.ranges) == stride(from: UInt64(0), through: 18, by: 2).map { range(x, $0, $0 + 1) })
    }

    // MARK: Own seq

    @Test func ownSeqIsLearnedFromAPeer() throws {
        let store = PrunedStore()
        var sync = coordinator(store)
        #expect(!sync.ownSeqKnown)
        _ = try sync.linkUp(p1)
        _ = try sync.linkUp(p2)
        // An empty frontier still tells us the peer holds nothing of ours.
        #expect(try sync.receive(.frontier(last: true, entries: []), from: p2) == [.caughtUp(p2)])
        #expect(sync.ownSeqKnown && sync.ownSeqFloor == 0)
        let actions = try sync.receive(.frontier(last: true, entries: [entry(me, 40, 42)]), from: p1)
        #expect(actions.first == .learnedOwnSeq(42))
        #expect(sync.ownSeqFloor == 42)
        // Our own messages are asked back like any author's.
        #expect(actions.requests.map(\.ranges) == [[range(me, 0, 42)]])
        // A lower report does not lower the floor or repeat the action.
        _ = try sync.linkDown(p2)
        _ = try sync.linkUp(p2)
        let again = try sync.receive(.frontier(last: true, entries: [entry(me, 7, 7)]), from: p2)
        #expect(!again.contains(.learnedOwnSeq(7)))
        #expect(sync.ownSeqFloor == 42)
    }

    @Test func ownSeqIsNotReportedWhenTheStoreAlreadyKnowsIt() throws {
        let store = InMemoryMessageStore()
        for seq: UInt64 in 1...3 { _ = store.insert(try room(me, seq: seq)) }
        var sync = coordinator(store)
        _ = try sync.linkUp(p1)
        let actions = try sync.receive(.frontier(last: true, entries: [entry(me, 3, 3)]), from: p1)
        #expect(actions == [.caughtUp(p1)])
        #expect(sync.ownSeqKnown)
    }

    // MARK: Answering

    @Test func answersPageThroughTheStoreWithAnyLimit() throws {
        let store = InMemoryMessageStore()
        var sent: [Envelope] = []
        for seq: UInt64 in 1...300 {
            let envelope = try room(x, seq: seq, hops: UInt8(seq % 3))
            sent.append(envelope)
            _ = store.insert(envelope)
        }
        for seq: UInt64 in 1...10 { _ = store.insert(try room(y, seq: seq)) }
        for limit in [1, 7, 1000] {
            var sync = coordinator(store)
            _ = try sync.linkUp(p1)
            let ranges = [range(x, 0, 100), range(x, 150, 300)] + (x.publicKey < y.publicKey ? [range(y, 0, 3)] : [])
            let actions = try sync.receive(.request(id: 9, ranges: ranges), from: p1)
            #expect(actions == [.stream(requestID: 9, to: p1)])
            var got: [Envelope] = []
            var finished: [UInt32] = []
            while let batch = try sync.nextBatch(for: p1, limit: limit) {
                switch batch {
                case .envelopes(let envelopes):
                    #expect(envelopes.count <= limit && !envelopes.isEmpty)
                    got += envelopes
                case .finished(let id): finished.append(id)
                }
            }
            #expect(finished == [9])
            var expected = sent.filter { $0.seq <= 100 || $0.seq > 150 }.map { $0.withHops($0.hops + 1) }
            if x.publicKey < y.publicKey { expected += try (1...3).map { try room(y, seq: $0, hops: 1) } }
            #expect(got == expected)
        }
    }

    @Test func everyEnvelopeOfAReusedSeqIsSentOnce() throws {
        let store = InMemoryMessageStore()
        let variants = try [room(x, seq: 1), room(x, seq: 2, "a"), room(x, seq: 2, "b"), room(x, seq: 2, "c"),
                            room(x, seq: 3), room(x, seq: 3, "d")]
        for envelope in variants { _ = store.insert(envelope) }
        for limit in [1, 2, 3, 1000] {
            var sync = coordinator(store)
            _ = try sync.linkUp(p1)
            _ = try sync.receive(.request(id: 1, ranges: [range(x, 0, 3)]), from: p1)
            var got: [MessageID] = []
            while case .envelopes(let envelopes)? = try sync.nextBatch(for: p1, limit: limit) { got += envelopes.map(\.id) }
            #expect(got.count == variants.count)
            #expect(Set(got) == Set(variants.map(\.id)))
        }
    }

    @Test func requestsAreAnsweredInOrderAndHopsAreCapped() throws {
        let store = InMemoryMessageStore()
        _ = store.insert(try room(x, seq: 1, hops: 254))
        _ = store.insert(try room(x, seq: 2, hops: 255))
        var sync = coordinator(store)
        _ = try sync.linkUp(p1)
        _ = try sync.receive(.request(id: 5, ranges: [range(x, 1, 2)]), from: p1)
        _ = try sync.receive(.request(id: 6, ranges: [range(x, 0, 1)]), from: p1)
        #expect(try sync.nextBatch(for: p1, limit: 10) == .envelopes([room(x, seq: 2, hops: 254)]))
        #expect(try sync.nextBatch(for: p1, limit: 10) == .finished(requestID: 5))
        #expect(try sync.nextBatch(for: p1, limit: 10) == .envelopes([room(x, seq: 1, hops: 254)]))
        #expect(try sync.nextBatch(for: p1, limit: 10) == .finished(requestID: 6))
        #expect(try sync.nextBatch(for: p1, limit: 10) == nil)
        #expect(try sync.nextBatch(for: p2, limit: 10) == nil)
        // A range we hold nothing of is answered with DONE alone.
        _ = try sync.receive(.request(id: 7, ranges: [range(y, 0, 100)]), from: p1)
        #expect(try sync.nextBatch(for: p1, limit: 10) == .finished(requestID: 7))
    }

    @Test func aLinkGoingDownDropsItsAnswers() throws {
        let store = InMemoryMessageStore()
        _ = store.insert(try room(x, seq: 1))
        var sync = coordinator(store)
        _ = try sync.linkUp(p1)
        _ = try sync.receive(.request(id: 1, ranges: [range(x, 0, 1)]), from: p1)
        _ = try sync.linkDown(p1)
        #expect(try sync.nextBatch(for: p1, limit: 10) == nil)
    }

    // MARK: Protocol errors

    @Test func protocolErrors() throws {
        var sync = coordinator(InMemoryMessageStore(), .init(maxFrontierAuthors: 2))
        _ = try sync.linkUp(p1)
        let ordered = [x, y].sorted { $0.publicKey < $1.publicKey }
        _ = try sync.receive(.frontier(last: false, entries: [entry(ordered[1], 1, 1)]), from: p1)
        #expect(throws: SyncError.frontierOutOfOrder) {
            try sync.receive(.frontier(last: true, entries: [entry(ordered[0], 1, 1)]), from: p1)
        }
        _ = try sync.linkUp(p1)
        let three = (0..<3).map { _ in SigningPrivateKey() }.sorted { $0.publicKey < $1.publicKey }
        _ = try sync.receive(.frontier(last: false, entries: three.prefix(2).map { entry($0, 1, 1) }), from: p1)
        #expect(throws: SyncError.tooManyFrontierAuthors) {
            try sync.receive(.frontier(last: true, entries: [entry(three[2], 1, 1)]), from: p1)
        }
        _ = try sync.linkUp(p1)
        #expect(throws: SyncError.unknownRequest(3)) { try sync.receive(.done(id: 3), from: p1) }
        _ = try sync.receive(.request(id: 1, ranges: [range(x, 0, 1)]), from: p1)
        #expect(throws: SyncError.duplicateRequest(1)) { try sync.receive(.request(id: 1, ranges: [range(x, 0, 1)]), from: p1) }
        for id in 2...UInt32(SyncBounds.maxOutstandingRequests) {
            _ = try sync.receive(.request(id: id, ranges: [range(x, 0, 1)]), from: p1)
        }
        #expect(throws: SyncError.tooManyRequests) { try sync.receive(.request(id: 99, ranges: [range(x, 0, 1)]), from: p1) }
        #expect(SyncError.tooManyRequests.byeReason == .protocolError)
    }

    @Test func messagesFromUnlinkedPeersAreIgnored() throws {
        var sync = coordinator(InMemoryMessageStore())
        #expect(try sync.receive(.frontier(last: true, entries: [entry(x, 1, 1)]), from: p1) == [])
        #expect(try sync.receive(.done(id: 1), from: p1) == [])
        #expect(try sync.receive(.request(id: 1, ranges: [range(x, 0, 1)]), from: p1) == [])
    }
}

// MARK: - End to end

/// Gossip engines and sync coordinators wired by links, exchanging plaintext bytes through one
/// FIFO queue: the node's dispatch (MESSAGE to the engine, sync types to the coordinator) in miniature.
private final class SyncMesh {
    struct Node {
        let identity: SigningPrivateKey
        var store: InMemoryMessageStore
        var engine: GossipEngine
        var sync: SyncCoordinator
        /// MESSAGE frames received, per message id and sending neighbour.
        var copies: [MessageID: [Int: Int]] = [:]
        var learnedOwnSeqs: [UInt64] = []
        var caughtUp: Set<PeerID> = []
        var messageFrames = 0
    }

    var nodes: [Node] = []
    var links: Set<InMemoryMesh.Link> = []
    private var queue: [(from: Int, to: Int, bytes: [UInt8])] = []
    private var head = 0
    private var indexByKey: [PeerID: Int] = [:]
    let batchLimit: Int

    init(nodeCount: Int, batchLimit: Int = 64) {
        self.batchLimit = batchLimit
        for _ in 0..<nodeCount { add(identity: SigningPrivateKey()) }
    }

    private func add(identity: SigningPrivateKey) {
        let store = InMemoryMessageStore()
        nodes.append(Node(identity: identity, store: store, engine: GossipEngine(identity: identity, store: store),
                          sync: SyncCoordinator(store: store, ownKey: identity.publicKey)))
        indexByKey[identity.publicKey] = nodes.count - 1
    }

    /// Node `index` restarts with the same key and an empty store (its disk was lost).
    func loseStore(of index: Int) throws {
        for other in neighbours(of: index) { try disconnect(index, other) }
        let identity = nodes[index].identity
        let store = InMemoryMessageStore()
        nodes[index] = Node(identity: identity, store: store, engine: GossipEngine(identity: identity, store: store),
                            sync: SyncCoordinator(store: store, ownKey: identity.publicKey))
    }

    func neighbours(of index: Int) -> [Int] {
        links.compactMap { $0.a == index ? $0.b : $0.b == index ? $0.a : nil }.sorted()
    }

    func connect(_ a: Int, _ b: Int) throws {
        links.insert(InMemoryMesh.Link(a, b))
        for (me, other) in [(a, b), (b, a)] {
            nodes[me].engine.linkUp(nodes[other].identity.publicKey)
            perform(try nodes[me].sync.linkUp(nodes[other].identity.publicKey), at: me)
        }
    }

    func disconnect(_ a: Int, _ b: Int) throws {
        links.remove(InMemoryMesh.Link(a, b))
        for (me, other) in [(a, b), (b, a)] {
            nodes[me].engine.linkDown(nodes[other].identity.publicKey)
            perform(try nodes[me].sync.linkDown(nodes[other].identity.publicKey), at: me)
        }
    }

    @discardableResult
    func post(from index: Int, _ text: String) throws -> Envelope {
        let (envelope, actions) = try nodes[index].engine.postRoom(text: text, room: "general", nickname: "n", now: t0)
        perform(actions, at: index)
        return envelope
    }

    func run() throws {
        while head < queue.count {
            let (from, to, bytes) = queue[head]
            head += 1
            guard links.contains(InMemoryMesh.Link(from, to)) else { continue }
            let sender = nodes[from].identity.publicKey
            switch try Plaintext.parse(bytes) {
            case .message(let envelope):
                nodes[to].messageFrames += 1
                if let parsed = try? Envelope.parse(envelope) { nodes[to].copies[parsed.id, default: [:]][from, default: 0] += 1 }
                perform(try nodes[to].engine.receive(envelope, from: sender, now: t0), at: to)
            case .unknown(let type, let body) where SyncMessageType.isKnown(type):
                let message = try SyncMessage.parse(type: type, body: body)
                perform(try nodes[to].sync.receive(message, from: sender), at: to)
            case .ping, .pong, .bye, .unknown:
                break
            }
        }
        queue.removeAll()
        head = 0
    }

    private func send(_ bytes: [UInt8], from: Int, to peer: PeerID) {
        precondition(bytes.count <= WireBounds.maxPlaintextLength, "no frame over the limit")
        queue.append((from, indexByKey[peer]!, bytes))
    }

    private func perform(_ actions: [GossipAction], at index: Int) {
        for case .send(let envelope, let peer) in actions {
            send(Plaintext.message(envelope: envelope.encoded()).encoded(), from: index, to: peer)
        }
    }

    private func perform(_ actions: [SyncAction], at index: Int) {
        for action in actions {
            switch action {
            case .send(let message, let peer):
                send(message.encoded(), from: index, to: peer)
            case .stream(_, let peer):
                // Answers go out as the coordinator pages through the store, MESSAGEs before DONE.
                while let batch = try! nodes[index].sync.nextBatch(for: peer, limit: batchLimit) {
                    switch batch {
                    case .envelopes(let envelopes):
                        for envelope in envelopes {
                            send(Plaintext.message(envelope: envelope.encoded()).encoded(), from: index, to: peer)
                        }
                    case .finished(let id):
                        send(SyncMessage.done(id: id).encoded(), from: index, to: peer)
                    }
                }
            case .learnedOwnSeq(let seq):
                nodes[index].learnedOwnSeqs.append(seq)
            case .caughtUp(let peer):
                nodes[index].caughtUp.insert(peer)
            }
        }
    }
}

@Suite struct SyncEndToEndTests {
    @Test func aNodeThatWasOfflineCatchesUpExactlyOnce() throws {
        // A–B–C line; C is away while A posts 500.
        let mesh = SyncMesh(nodeCount: 3)
        try mesh.connect(0, 1)
        try mesh.run()
        var posted: Set<MessageID> = []
        for index in 1...500 { posted.insert(try mesh.post(from: 0, "message \(index)").id) }
        try mesh.run()
        #expect(mesh.nodes[1].store.count == 500)
        #expect(mesh.nodes[2].store.count == 0)

        try mesh.connect(1, 2)
        try mesh.run()
        #expect(Set(mesh.nodes[2].store.all.map(\.id)) == posted)
        #expect(mesh.nodes[2].messageFrames == 500)
        #expect(mesh.nodes[2].copies.values.allSatisfy { $0 == [1: 1] })
        #expect(mesh.nodes[2].caughtUp.contains(mesh.nodes[1].identity.publicKey))
        // Nothing flowed back: B and A already had everything C has.
        #expect(mesh.nodes[1].store.count == 500 && mesh.nodes[0].store.count == 500)
    }

    @Test func aHealedPartitionEndsWithTheUnion() throws {
        // {0, 1} and {2, 3} post apart, then two links heal the partition at once.
        let mesh = SyncMesh(nodeCount: 4, batchLimit: 7)
        try mesh.connect(0, 1)
        try mesh.connect(2, 3)
        try mesh.run()
        var all: Set<MessageID> = []
        for index in 0..<4 {
            for n in 1...30 { all.insert(try mesh.post(from: index, "node \(index) message \(n)").id) }
        }
        try mesh.run()
        try mesh.connect(1, 2)
        try mesh.connect(3, 0)
        try mesh.run()
        for node in mesh.nodes {
            #expect(Set(node.store.all.map(\.id)) == all)
            #expect(node.store.count == all.count)
            // Dedup bounds copies: at most one per message per link.
            #expect(node.copies.values.allSatisfy { $0.values.allSatisfy { $0 == 1 } })
        }
    }

    @Test func manyLinksComingUpAtOnceDoNotMultiplyTransfers() throws {
        // A hub that was away rejoins five neighbours that all hold the same 200 messages.
        let mesh = SyncMesh(nodeCount: 6)
        for index in 1...4 { try mesh.connect(index, index + 1) }
        try mesh.run()
        for n in 1...200 { try mesh.post(from: 1, "m\(n)") }
        try mesh.run()
        for index in 1...5 { try mesh.connect(0, index) }
        try mesh.run()
        #expect(mesh.nodes[0].store.count == 200)
        // Each message reached the hub once by sync; gossip forwarding from the hub adds nothing back.
        #expect(mesh.nodes[0].messageFrames == 200)
    }

    @Test func aNodeThatLostItsStoreLearnsItsSeqBeforePosting() throws {
        let mesh = SyncMesh(nodeCount: 2)
        try mesh.connect(0, 1)
        for n in 1...3 { try mesh.post(from: 0, "before \(n)") }
        try mesh.run()
        #expect(mesh.nodes[1].store.count == 3)

        try mesh.loseStore(of: 0)
        #expect(!mesh.nodes[0].sync.ownSeqKnown)
        try mesh.connect(0, 1)
        try mesh.run()
        #expect(mesh.nodes[0].sync.ownSeqKnown)
        #expect(mesh.nodes[0].learnedOwnSeqs == [3])
        #expect(mesh.nodes[0].sync.ownSeqFloor == 3)
        // Its own messages came back, so the next post takes seq 4, not a reused 1.
        #expect(try mesh.nodes[0].store.highestSeq(author: mesh.nodes[0].identity.publicKey) == 3)
        let next = try mesh.post(from: 0, "after")
        #expect(next.seq == 4)
        try mesh.run()
        #expect(mesh.nodes[1].store.count == 4)
    }
}
