import Foundation
import Logging
import MeshCrypto
import MeshGossip
import MeshNoise
import MeshStore
import MeshWire
import NIOCore
import NIOPosix

/// The node's shared state: trusted peers, links, dialers and the gossip engine.
///
/// Every method runs on `eventLoop`, the node's single loop; the class is handed to other
/// threads only inside `NIOLoopBound`, which checks that. One loop keeps the decisions
/// (which link wins, what gossip forwards) free of locks and ordering races.
final class NodeCore {
    let configuration: NodeConfiguration
    let eventLoop: EventLoop
    let logger: Logger
    let identity: SigningPrivateKey
    private(set) var nickname: String
    private(set) var room: String
    let emit: @Sendable (NodeEvent) -> Void
    /// Called with every room message shown at this node, its own posts included (the netcat bridge forwards them).
    var onRoomMessage: ((ShownMessage) -> Void)?
    private let clock: @Sendable () -> UInt64

    private(set) var trusted: TrustedPeers
    private var trustedText: String
    /// Established links, one per peer (PROTOCOL.md 4's duplicate rule decides which).
    private(set) var links: [SigningPublicKey: LinkHandler] = [:]
    /// Connections not yet links, so they can be closed when their peer is unpinned or the node stops.
    private var pending: [ObjectIdentifier: LinkHandler] = [:]
    private var dialers: [SigningPublicKey: Dialer] = [:]
    private var lastAccepted: [SigningPublicKey: UInt64] = [:]
    /// When each peer's last link closed, for `/peers` and `status` ("last seen").
    private var lastSeen: [SigningPublicKey: UInt64] = [:]
    /// Envelopes received in this loop tick, screened together by `drainInbox`.
    private var inbox: [(bytes: [UInt8], arrival: Arrival)] = []
    /// Signature checks and handshake steps, run beside the loop.
    private(set) lazy var offLoop = OffLoopWork(eventLoop: eventLoop, threads: configuration.workThreads)
    /// Checks signatures of screened envelopes beside the loop and hands them back in order to be stored.
    private lazy var verifier = SignatureVerifier<Arrival>(work: offLoop) { [unowned self] items, verdicts in
        storeVerified(items, verdicts)
    }
    /// Peers whose link the other side just closed as a duplicate: the surviving connection is
    /// usually a moment away, so link-down waits `duplicateGrace` and a quick relink is silent.
    private var relinking: Set<SigningPublicKey> = []
    /// How long a link closed as a duplicate may take to be replaced before people are told it is down.
    static let duplicateGrace: TimeAmount = .seconds(2)
    private var handshakeClock: HandshakeClock
    private(set) var gossip: GossipEngine
    /// Catch-up sync with every linked peer (docs/sync-protocol.md).
    private var sync: SyncCoordinator
    /// Set when this node's identity outlived its store: it must learn its last seq from a peer before posting.
    private var mustLearnOwnSeq: Bool
    let store: MessageStore
    private(set) var listenAddress: HostPort
    /// What this node says of itself in every handshake, its Noise static key derived once.
    private(set) var linkIdentity: LinkIdentity
    private var stopping = false
    /// Whether a task to send the gossip engine's due forwards is queued on the loop.
    private var forwardsScheduled = false
    /// File transfers over direct links (docs/file-transfer.md).
    private(set) lazy var files = FileTransferService(core: self)
    /// The limits under attack (NodeLimits) and what they counted.
    var guards: NodeGuards

    /// What the core knows of a pinned peer it dials.
    private struct Dialer {
        var peer: PinnedPeer
        var failures = 0
        var retry: Scheduled<Void>?
        var connecting: LinkHandler?
    }

    init(configuration: NodeConfiguration, identity: SigningPrivateKey, trusted: TrustedPeers, trustedText: String,
         store: MessageStore, storeWasLost: Bool, eventLoop: EventLoop, logger: Logger,
         clock: @escaping @Sendable () -> UInt64, emit: @escaping @Sendable (NodeEvent) -> Void) {
        self.configuration = configuration
        self.identity = identity
        self.nickname = configuration.nickname
        self.room = configuration.room
        self.trusted = trusted
        self.trustedText = trustedText
        self.store = store
        self.eventLoop = eventLoop
        self.logger = logger
        self.clock = clock
        self.emit = emit
        self.listenAddress = configuration.listen
        self.linkIdentity = LinkIdentity(signingKey: identity, nickname: configuration.nickname,
                                         listenPort: UInt16(configuration.listen.port), preSharedKey: configuration.preSharedKey)
        self.handshakeClock = HandshakeClock(store: store as? SQLiteMessageStore)
        var gossipConfiguration = GossipConfiguration()
        gossipConfiguration.hopLimit = configuration.hopLimit
        gossipConfiguration.maxHeldEnvelopes = configuration.limits.maxHeldEnvelopes
        self.guards = NodeGuards(limits: configuration.limits)
        self.gossip = GossipEngine(identity: identity, store: store, configuration: gossipConfiguration)
        self.sync = SyncCoordinator(store: store, ownKey: identity.publicKey)
        self.mustLearnOwnSeq = storeWasLost
    }


    // MARK: Life cycle

    /// Starts dialing and the periodic work; called once the listener is bound.
    func start(listeningOn address: HostPort) {
        eventLoop.assertInEventLoop()
        listenAddress = address
        linkIdentity.listenPort = UInt16(address.port)
        emit(.ready(key: identity.publicKey, nickname: nickname, listen: address.description))
        for peer in trusted.peers where peer.address != nil { startDialing(peer) }
        every(configuration.peersFilePollInterval) { $0.reloadPeersFileIfChanged() }
        every(.seconds(1)) { $0.tick() }
        prune()
        every(Self.pruneInterval) { $0.prune() }
    }

    /// How often the retention window is applied.
    static let pruneInterval: TimeAmount = .minutes(10)

    private func prune() {
        do { _ = try durableStore?.prune(now: Date()) } catch {
            emit(.error(message: "Could not prune old messages: \(error)."))
        }
    }

    /// Runs `body` every `interval` until the node stops.
    private func every(_ interval: TimeAmount, _ body: @escaping (NodeCore) -> Void) {
        eventLoop.assumeIsolated().scheduleTask(in: interval) { [weak self] in
            guard let self, !self.stopping else { return }
            body(self)
            self.every(interval, body)
        }
    }

    /// Closes every link with BYE 6 and stops dialing, verifying and handshaking: no envelope is
    /// stored after this. The future completes once no signature check or handshake step is out on
    /// the thread pool, so the loop can close after it.
    func stop() -> EventLoopFuture<Void> {
        eventLoop.assertInEventLoop()
        stopping = true
        for dialer in dialers.values { dialer.retry?.cancel() }
        dialers.removeAll()
        for link in links.values { link.close(saying: .shuttingDown, "shutting down") }
        for handler in pending.values { handler.close(saying: .shuttingDown) }
        files.stop()
        return verifier.stop()
    }

    // MARK: Trust


    /// The largest handshake timestamp accepted from `key`, remembered across restarts when the store can.
    func lastAcceptedTimestamp(from key: SigningPublicKey) -> UInt64? {
        if let known = lastAccepted[key] { return known }
        let stored = try? durableStore?.lastAcceptedTimestamp(from: key)
        return stored ?? nil
    }

    /// "it records the timestamp when it sends message 2" (PROTOCOL.md 4)
    func recordAcceptedTimestamp(_ timestamp: UInt64, from key: SigningPublicKey) {
        let largest = max(lastAcceptedTimestamp(from: key) ?? 0, timestamp)
        lastAccepted[key] = largest
        do { try durableStore?.setLastAcceptedTimestamp(largest, from: key) } catch {
            logger.error("cannot record a handshake timestamp", metadata: ["store.error": "\(error)"])
        }
    }

    /// "strictly increasing over every handshake message a node sends, restarts included"
    func nextHandshakeTimestamp() -> UInt64 {
        handshakeClock.next(nowNanoseconds: clock() &* 1_000_000, logger: logger)
    }

    private func reloadPeersFileIfChanged() {
        guard let text = try? configuration.home.peersText(), text != trustedText else { return }
        trustedText = text
        do {
            applyTrustedPeers(try TrustedPeers(parsing: text))
        } catch {
            // "A malformed line is reported with its line number; the node keeps its last good set of peers."
            emit(.error(message: "The trusted-peers file \(configuration.home.peersPath) has a mistake on \(error); keeping the previous peers."))
        }
    }

    /// Moves to a new set of trusted peers: cuts the removed, dials the added.
    func applyTrustedPeers(_ new: TrustedPeers) {
        let old = trusted
        trusted = new
        for peer in old.peers where new.peer(withKey: peer.key) == nil {
            dialers.removeValue(forKey: peer.key)?.retry?.cancel()
            // "a removed peer's link is closed at once (BYE 5)"
            links[peer.key]?.close(saying: .noLongerTrusted, "no longer trusted")
            for handler in pending.values where handler.remoteKey == peer.key { handler.close(saying: .noLongerTrusted) }
            emit(.notice("\(peer.name) is no longer trusted; its link is closed."))
        }
        for peer in new.peers {
            let before = old.peer(withKey: peer.key)
            if before == nil { emit(.notice("\(peer.name) is now trusted.")) }
            guard peer.address != nil else {
                dialers.removeValue(forKey: peer.key)?.retry?.cancel()
                continue
            }
            if before?.address != peer.address || dialers[peer.key] == nil {
                dialers[peer.key]?.retry?.cancel()
                dialers[peer.key] = nil
                startDialing(peer)
            } else {
                dialers[peer.key]?.peer = peer
            }
        }
    }

    /// This node's name for `key`, or nil if it is not pinned.
    func pinnedName(_ key: SigningPublicKey) -> String? { trusted.peer(withKey: key)?.name }

    // MARK: Dialing

    private func startDialing(_ peer: PinnedPeer) {
        dialers[peer.key] = Dialer(peer: peer)
        dial(peer.key)
    }

    private func dial(_ key: SigningPublicKey) {
        guard !stopping, var dialer = dialers[key], dialer.connecting == nil, links[key] == nil,
              let address = dialer.peer.address else { return }
        dialer.retry = nil
        let handshake: InitiatorHandshake
        do {
            handshake = try InitiatorHandshake(identity: linkIdentity, pinnedPeer: key, pinnedStaticKey: trusted.staticKey(of: key),
                                               cipher: configuration.cipher, timestamp: nextHandshakeTimestamp())
        } catch {
            emit(.error(message: "Cannot dial \(dialer.peer.name): its key cannot be used for a handshake."))
            return
        }
        let handler = LinkHandler(outboundTo: dialer.peer, handshake: handshake, core: self)
        dialer.connecting = handler
        dialers[key] = dialer
        pending[ObjectIdentifier(handler)] = handler
        let loopBoundHandler = NIOLoopBound(handler, eventLoop: eventLoop)
        // The host is resolved again at every dial, so a peer whose name moves is found again.
        ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.handshakeTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: LinkBuffers.writeWaterMark)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(loopBoundHandler.value)
                }
            }
            .connect(host: address.host, port: address.port)
            .assumeIsolated()
            .whenFailure { [weak self, name = dialer.peer.name] error in
                guard let self else { return }
                self.pending[ObjectIdentifier(loopBoundHandler.value)] = nil
                self.dialEnded(key, handler: loopBoundHandler.value,
                               why: "cannot reach \(name) at \(address) (\(Self.describe(error)))", event: false)
            }
    }

    /// A dialed connection ended without becoming a link.
    func dialFailed(_ handler: LinkHandler, reason: LinkHandler.DialFailure) {
        pending[ObjectIdentifier(handler)] = nil
        guard let peer = handler.dialedPeer else { return }
        let why: String
        switch reason {
        case .handshake, .connectionClosedDuringHandshake:
            // PROTOCOL.md 4: any failure to complete message 2 is said as one thing, never a weaker fallback.
            why = configuration.preSharedKey == nil
                ? "the node at \(peer.address?.description ?? handler.remoteAddress) does not hold \(peer.name)'s pinned key, does not trust us, or uses a different suite or pre-shared key"
                : "the node at \(peer.address?.description ?? handler.remoteAddress) does not hold \(peer.name)'s pinned key or does not trust us, or the pre-shared keys may differ"
        case .handshakeTimedOut:
            why = "the handshake with \(peer.name) did not complete within 10 seconds"
        }
        dialEnded(peer.key, handler: handler, why: why, event: true)
    }

    private func dialEnded(_ key: SigningPublicKey, handler: LinkHandler, why: String, event: Bool) {
        guard var dialer = dialers[key], dialer.connecting === handler else { return }
        dialer.connecting = nil
        if event, let address = dialer.peer.address {
            emit(.handshakeFailed(peer: dialer.peer.name, address: address.description, reason: why))
        }
        dialer.failures += 1
        let delay = redialDelay(afterFailures: dialer.failures)
        if !event { emit(.notice("\(why); retrying in \(Self.seconds(delay)).")) }
        dialer.retry = eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in self?.dial(key) }
        dialers[key] = dialer
    }

    func redialDelay(afterFailures failures: Int) -> TimeAmount {
        RedialBackoff(initial: configuration.initialRedialDelay, maximum: configuration.maximumRedialDelay)
            .delay(afterFailures: failures, jitter: SecureRandom.uniform(RedialBackoff.jitterSteps))
    }

    // MARK: Links

    /// A connection has become a link; applies the duplicate rule and tells gossip.
    func linkEstablished(_ handler: LinkHandler) {
        pending[ObjectIdentifier(handler)] = nil
        releaseAdmission(handler)
        guard let key = handler.remoteKey, let peer = trusted.peer(withKey: key), !stopping else {
            handler.close(saying: .noLongerTrusted, "not trusted")
            return
        }
        if let existing = links[key] {
            // PROTOCOL.md 4: "if each dialed the other, they keep the one whose initiator has the lower
            // Ed25519 public key; if one node dialed twice, they keep the newer."
            let keepNew: Bool
            if existing.direction == handler.direction {
                keepNew = true
            } else {
                let newInitiator = handler.direction == .outbound ? identity.publicKey : key
                let oldInitiator = existing.direction == .outbound ? identity.publicKey : key
                keepNew = newInitiator < oldInitiator
            }
            let loser = keepNew ? existing : handler
            if keepNew {
                links[key] = handler
                handler.peerName = peer.name
            }
            loser.close(saying: .duplicateConnection, "duplicate connection")
            // Chunks sent on the closed connection are lost: offer again on the surviving one.
            if keepNew { files.linkUp(key) }
            if var dialer = dialers[key], dialer.connecting === handler || dialer.connecting === existing {
                dialer.connecting = nil
                dialer.failures = 0
                dialers[key] = dialer
            }
            return
        }
        links[key] = handler
        handler.peerName = peer.name
        if var dialer = dialers[key] {
            dialer.retry?.cancel()
            dialer.retry = nil
            dialer.failures = 0
            if dialer.connecting === handler { dialer.connecting = nil }
            dialers[key] = dialer
        }
        gossip.linkUp(key)
        performSync { try $0.linkUp(key) }
        files.linkUp(key)
        // A cross-dial replaced by the other connection is one link to the person, not a leave and a join.
        if relinking.remove(key) != nil { return }
        emit(.linkUp(peer: peer.name, key: key, address: handler.remoteAddress, direction: handler.direction,
                     suite: handler.suite ?? .ikChaChaPolyBLAKE2b))
    }

    /// A link closed; redials if the peer is still pinned with an address.
    func linkClosed(_ handler: LinkHandler) {
        guard let key = handler.remoteKey, links[key] === handler else { return }
        links[key] = nil
        guards.envelopes.forget(key)
        lastSeen[key] = clock()
        gossip.linkDown(key)
        performSync { try $0.linkDown(key) }
        let reason = handler.localCloseReason.map { "closed by us: \($0)" } ?? handler.closeReason.map { "closed by us: \(Self.describe($0))" }
            ?? handler.byeReceived.map { "closed by peer: \(Self.describe($0))" } ?? "connection lost"
        let name = handler.peerName ?? key.base64
        if handler.byeReceived == .duplicateConnection && !stopping {
            relinking.insert(key)
            eventLoop.assumeIsolated().scheduleTask(in: Self.duplicateGrace) { [weak self] in
                guard let self, self.relinking.remove(key) != nil else { return }
                self.emit(.linkDown(peer: name, reason: reason))
            }
        } else {
            emit(.linkDown(peer: name, reason: reason))
        }
        if var dialer = dialers[key], !stopping {
            dialer.failures += 1
            dialer.retry?.cancel()
            dialer.retry = eventLoop.assumeIsolated().scheduleTask(in: redialDelay(afterFailures: dialer.failures)) { [weak self] in self?.dial(key) }
            dialers[key] = dialer
        }
    }

    /// An accepted connection ended before it became a link.
    func inboundEnded(_ handler: LinkHandler, refusal: LinkHandler.Refusal?) {
        pending[ObjectIdentifier(handler)] = nil
        releaseAdmission(handler)
        guard let refusal else { return }
        emit(.rejected(address: handler.remoteAddress, reason: refusal.reason, key: refusal.key))
        if refusal.reason == "key not pinned", let key = refusal.key {
            emit(.notice("Refused a node with key \(key.base64) from \(handler.remoteAddress). To trust it: meshchat peer add NAME \(key.base64)"))
        }
    }

    /// Tracks an accepted connection until it becomes a link.
    func accepted(_ handler: LinkHandler) {
        pending[ObjectIdentifier(handler)] = handler
    }

    // MARK: Gossip

    /// Where a received envelope came from, and how many bytes it holds against the link's
    /// `NodeLimits.maxBytesAwaitingVerificationPerLink` until it is stored.
    struct Arrival {
        let peer: SigningPublicKey
        let link: LinkHandler
        let byteCount: Int
    }

    /// Queues an envelope from a link. Everything queued in one loop tick is screened together
    /// (parsed, duplicates dropped) and its signatures checked off the loop; each batch is then
    /// stored in one transaction, in arrival order, and only once that commits is any of it shown
    /// or forwarded.
    func receiveEnvelope(_ bytes: [UInt8], from peer: SigningPublicKey, on link: LinkHandler) {
        guard admitEnvelope(from: peer, answeringSync: sync.outstandingRequestCount(to: peer) > 0) else { return }
        link.awaitVerification(of: bytes.count)
        inbox.append((bytes, Arrival(peer: peer, link: link, byteCount: bytes.count)))
        guard inbox.count == 1 else { return }
        eventLoop.assumeIsolated().execute { [weak self] in self?.drainInbox() }
    }

    /// Runs `step` once every envelope received before it has been stored and acted on (or dropped).
    func afterPendingEnvelopes(_ step: @escaping () -> Void) {
        drainInbox()
        verifier.afterPending(step)
    }

    /// Screens the queued envelopes (parsing and rule 3) and sends the new ones to have their
    /// signatures checked. Not in a transaction: the engine answers rule 3 for copies and in-order
    /// messages from memory, so most batches read nothing, and a transaction would be all the store work.
    private func drainInbox() {
        guard !inbox.isEmpty else { return }
        let batch = inbox
        inbox.removeAll(keepingCapacity: true)
        let now = clock()
        let screenings: [GossipEngine.Screening]
        do {
            screenings = try batch.map { try gossip.screen($0.bytes, from: $0.arrival.peer, now: now) }
        } catch {
            gossip.forgetUncommitted()
            return receivedNotStored(batch.map(\.arrival), error)
        }
        var unverified: [SignatureVerifier<Arrival>.Item] = []
        for ((_, arrival), screening) in zip(batch, screenings) {
            switch screening {
            case .judged(let actions):
                perform(actions)
                arrival.link.verificationEnded(for: arrival.byteCount)
            case .needsSignatureCheck(let envelope):
                unverified.append(.init(envelope: envelope, tag: arrival))
            }
        }
        verifier.submit(unverified)
    }

    /// Applies the verdicts of one verified batch and stores it in one transaction (one commit, one
    /// disk flush), then acts on it; its forwards go out after one more round of reads.
    private func storeVerified(_ items: [SignatureVerifier<Arrival>.Item], _ verdicts: [Bool]) {
        // Forwards still due were stored with an earlier batch; they go before this batch's
        // transaction, so that what is due after it is this batch's alone.
        sendDueForwards()
        let now = clock()
        let actions: [GossipAction]
        do {
            actions = try store.transaction {
                var actions: [GossipAction] = []
                for (item, valid) in zip(items, verdicts) {
                    actions += try gossip.admit(item.envelope, signatureIsValid: valid, from: item.tag.peer, now: now)
                }
                return actions
            }
        } catch {
            _ = gossip.takeForwards()  // this batch's, and nothing of it was stored
            gossip.forgetUncommitted()
            return receivedNotStored(items.map(\.tag), error)
        }
        for item in items { item.tag.link.verificationEnded(for: item.tag.byteCount) }
        perform(actions)
        scheduleDueForwards()
    }

    /// Sends the forwards of what was just stored once the loop has read what its sockets hold
    /// again: a neighbour whose copy of a message arrives meanwhile, having received it from
    /// elsewhere, is not sent the message back (docs/performance.md 14).
    private func scheduleDueForwards() {
        guard !forwardsScheduled else { return }
        forwardsScheduled = true
        eventLoop.assumeIsolated().execute { [weak self] in
            guard let self, !stopping else { return }
            forwardsScheduled = false
            drainInbox()
            sendDueForwards()
        }
    }

    private func sendDueForwards() {
        perform(gossip.takeForwards())
    }

    /// Nothing of a batch was kept; the senders' next sync offers it again.
    private func receivedNotStored(_ arrivals: [Arrival], _ error: any Error) {
        for arrival in arrivals { arrival.link.verificationEnded(for: arrival.byteCount) }
        emit(.error(message: "Could not store \(arrivals.count) received messages: \(error)."))
    }

    // MARK: Sync

    /// Answers budget per loop tick for one peer, so a long catch-up never starves live traffic.
    static let syncEnvelopesPerTick = 512
    /// Envelopes read from the store per batch.
    static let syncBatchSize = 128

    /// Handles a sync message from `link`, which waited behind the envelopes received before it
    /// (docs/sync-protocol.md 8); dropped if the link is no longer `peer`'s by then.
    func receiveSync(_ message: SyncMessage, from peer: SigningPublicKey, on link: LinkHandler) {
        guard links[peer] === link else { return }
        performSync(peer: peer) { try $0.receive(message, from: peer) }
    }

    /// Runs a coordinator step and carries out its actions; a sync protocol error closes the link.
    private func performSync(peer: SigningPublicKey? = nil, _ step: (inout SyncCoordinator) throws -> [SyncAction]) {
        let actions: [SyncAction]
        do {
            actions = try step(&sync)
        } catch let error as SyncError {
            if let peer { links[peer]?.close(saying: error.byeReason, "sync protocol error") }
            return
        } catch {
            emit(.error(message: "Sync could not read the store: \(error)."))
            return
        }
        if sync.ownSeqKnown { mustLearnOwnSeq = false }
        for action in actions {
            switch action {
            case let .send(message, to: peer):
                links[peer]?.send(encoded: message.encoded())
            case let .stream(_, to: peer):
                resumeSync(to: peer)
            case let .learnedOwnSeq(seq):
                mustLearnOwnSeq = false
                do { try durableStore?.raiseOwnSeqFloor(to: seq) } catch {
                    emit(.error(message: "Could not record this node's sequence number: \(error)."))
                }
            case .caughtUp:
                break
            }
        }
    }

    /// Sends what `peer` asked for, a bounded amount per tick and only while its socket has room.
    func resumeSync(to peer: SigningPublicKey) {
        var budget = Self.syncEnvelopesPerTick
        while budget > 0, let link = links[peer], link.isWritable {
            let batch: SyncBatch?
            do { batch = try sync.nextBatch(for: peer, limit: Self.syncBatchSize) } catch {
                emit(.error(message: "Sync could not read the store: \(error)."))
                return
            }
            switch batch {
            case nil:
                return
            case .envelopes(let envelopes)?:
                for envelope in envelopes { link.send(message: envelope) }
                budget -= envelopes.count
            case .finished(let id)?:
                link.send(encoded: SyncMessage.done(id: id).encoded())
            }
        }
        // Out of budget but still writable: continue next tick. Not writable: channelWritabilityChanged resumes.
        if budget <= 0, links[peer]?.isWritable == true {
            eventLoop.assumeIsolated().execute { [weak self] in self?.resumeSync(to: peer) }
        }
    }

    /// Posts a room message to `room` (default: the current room).
    func postRoom(_ text: String, room: String?) throws -> NodeEvent {
        let envelope = try postRoomEnvelope(text, room: room ?? self.room)
        onRoomMessage?(shown(envelope, text: text))
        return .sent(id: envelope.id, kind: .room, room: envelope.room, seq: envelope.seq)
    }

    /// Posts text that came in through the netcat bridge to the current room and shows it here;
    /// `onRoomMessage` is not told, so the bridge never sends it back out.
    func postBridged(_ text: String) throws {
        let envelope = try postRoomEnvelope(text, room: room)
        emit(.message(shown(envelope, text: text)))
    }

    private func postRoomEnvelope(_ text: String, room: String) throws -> Envelope {
        try checkOwnSeqKnown()
        let (envelope, actions) = try gossip.postRoom(text: text, room: room, nickname: nickname, now: clock())
        perform(actions)
        return envelope
    }

    /// Posts room texts to the current room, in order, stored in one transaction (one commit) and
    /// sent only once it commits; each text gets its own outcome. A text the engine refuses
    /// (too long) fails alone; a store failure fails them all, keeping none.
    func postRooms(_ texts: [String]) -> [Result<NodeEvent, any Error>] {
        var outcomes: [Result<NodeEvent, any Error>] = []
        var actions: [GossipAction] = []
        var posted: [(Envelope, String)] = []
        do {
            try store.transaction {
                for text in texts {
                    do {
                        try checkOwnSeqKnown()
                        let (envelope, sends) = try gossip.postRoom(text: text, room: room, nickname: nickname, now: clock())
                        actions += sends
                        posted.append((envelope, text))
                        outcomes.append(.success(.sent(id: envelope.id, kind: .room, room: room, seq: envelope.seq)))
                    } catch let refusal as GossipError {
                        outcomes.append(.failure(refusal)) // refused before anything was written
                    } catch let refusal as HomeError {
                        outcomes.append(.failure(refusal))
                    }
                }
            }
        } catch {
            gossip.forgetUncommitted()
            return texts.map { _ in .failure(error) }
        }
        perform(actions)
        for (envelope, text) in posted { onRoomMessage?(shown(envelope, text: text)) }
        return outcomes
    }

    /// Posts a direct message to the pinned peer `name`.
    func postDirect(_ text: String, toName name: String) throws(HomeError) -> NodeEvent {
        guard let peer = trusted.peer(named: name) else {
            throw HomeError("No peer named \(name) is pinned; `meshchat peer list` shows the names.")
        }
        try checkOwnSeqKnown()
        do {
            let (envelope, actions) = try gossip.postDirect(text: text, to: peer.key, nickname: nickname, now: clock())
            perform(actions)
            return .sent(id: envelope.id, kind: .direct, room: nil, seq: envelope.seq)
        } catch {
            throw HomeError("Cannot send to \(name): \(error).")
        }
    }

    func join(_ room: String) { self.room = room }

    /// "one whose store was lost learns its last sequence number from its peers before it posts again"
    private func checkOwnSeqKnown() throws(HomeError) {
        guard mustLearnOwnSeq else { return }
        throw HomeError("This node's message store is new but its identity is not: it must learn its last sequence number from a linked peer before it posts, so that it never reuses one; try again once a peer is linked.")
    }

    /// The SQLite store, when the node runs on one: it also keeps the own-seq floor and handshake timestamps.
    private var durableStore: SQLiteMessageStore? { store as? SQLiteMessageStore }

    /// The latest stored messages this node can show, oldest first.
    func history(room: String?, limit: Int) throws -> [ShownMessage] {
        try store.recent(room: room, limit: limit).compactMap { envelope in
            let text: String
            switch envelope.kind {
            case .room:
                text = String(decoding: envelope.body, as: UTF8.self)
            case .direct:
                guard envelope.recipient == identity.publicKey,
                      let opened = try? SealedBox.open(envelope.body, with: identity.keyAgreementKey()),
                      let decoded = String(validating: opened, as: UTF8.self) else { return nil }
                text = decoded
            }
            return shown(envelope, text: text)
        }
    }

    private func shown(_ envelope: Envelope, text: String) -> ShownMessage {
        ShownMessage(id: envelope.id, kind: envelope.kind, room: envelope.kind == .room ? envelope.room : nil,
                     from: envelope.nickname, author: envelope.author, peer: pinnedName(envelope.author),
                     seq: envelope.seq, timestamp: envelope.timestamp, hops: envelope.hops, text: text)
    }

    private func perform(_ actions: [GossipAction]) {
        for action in actions {
            switch action {
            case let .send(envelope, to: peer):
                links[peer]?.send(message: envelope)
            case let .deliver(delivery):
                let message = shown(delivery.envelope, text: delivery.text)
                emit(.message(message))
                if message.kind == .room { onRoomMessage?(message) }
            case let .disconnect(peer, reason):
                links[peer]?.close(saying: reason, "too many invalid envelopes")
            case let .sequenceReused(author, seq):
                logger.warning("author reused a sequence number", metadata: ["gossip.author": "\(author.base64)", "gossip.seq": "\(seq)"])
            case let .dropped(from, reason):
                logger.debug("envelope dropped", metadata: ["gossip.peer": "\(from.base64)", "gossip.reason": "\(reason)"])
            }
        }
    }

    // MARK: Periodic work

    private func tick() {
        do { perform(try gossip.tick(now: clock())) } catch { emit(.error(message: "Could not store a message: \(error).")) }
        let now = NIODeadline.now()
        for link in links.values {
            if now - link.lastReceived > configuration.idleTimeout {
                link.close(saying: .idle, "idle")
            } else if now - link.lastSent > configuration.keepaliveInterval {
                link.send(.ping(token: SecureRandom.uint64()))
            }
        }
    }

    // MARK: Status

    /// A snapshot for `meshchat status` and `/peers`.
    func status() -> NodeStatus {
        NodeStatus(key: identity.publicKey, nickname: nickname, listen: listenAddress.description, room: room,
                   peers: trusted.peers.map { peer in
                       let link = links[peer.key]
                       let state: String = link != nil ? "linked" : (dialers[peer.key]?.connecting != nil ? "connecting" : "offline")
                       return NodeStatus.Peer(name: peer.name, key: peer.key, address: peer.address?.description,
                                              state: state, direction: link?.direction, suite: link?.suite,
                                              linkAddress: link?.remoteAddress,
                                              lastSeen: link != nil ? clock() : lastSeen[peer.key])
                   }, counters: gossip.counters)
    }

    // MARK: Text

    static func describe(_ reason: ByeReason) -> String {
        switch reason {
        case .normal: "normal"
        case .duplicateConnection: "duplicate connection"
        case .protocolError: "protocol error"
        case .tooManyInvalidEnvelopes: "too many invalid envelopes"
        case .idle: "idle"
        case .noLongerTrusted: "no longer trusted"
        case .shuttingDown: "shutting down"
        }
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if error is ChannelError { return "connection failed" }
        return "\(error)"
    }

    static func seconds(_ amount: TimeAmount) -> String {
        String(format: "%.1f s", Double(amount.nanoseconds) / 1e9)
    }
}

/// Keeps handshake timestamps strictly increasing across restarts without a disk write per handshake:
/// the store records a mark ahead of every timestamp sent, and a restarted node starts above it.
/// Without a durable store (in-process tests) the clock is monotonic for the process only.
struct HandshakeClock {
    private let store: SQLiteMessageStore?
    private var last: UInt64
    private var reservedUntil: UInt64
    /// How far ahead the recorded mark runs; a restart may jump the clock by at most this much.
    static let reservation: UInt64 = 10_000_000_000

    init(store: SQLiteMessageStore?) {
        self.store = store
        last = (try? store?.lastHandshakeTimestamp()) ?? 0
        reservedUntil = last
    }

    mutating func next(nowNanoseconds: UInt64, logger: Logger) -> UInt64 {
        let value = max(nowNanoseconds, last + 1)
        last = value
        if value > reservedUntil {
            reservedUntil = value + Self.reservation
            do { try store?.setLastHandshakeTimestamp(reservedUntil) } catch {
                logger.error("cannot record the handshake clock", metadata: ["store.error": "\(error)"])
            }
        }
        return value
    }
}

/// A node's state as `meshchat status` shows it.
public struct NodeStatus: Sendable {
    /// One pinned peer's state.
    public struct Peer: Sendable {
        public let name: String
        public let key: SigningPublicKey
        public let address: String?
        public let state: String
        public let direction: LinkDirection?
        public let suite: Suite?
        public let linkAddress: String?
        /// Milliseconds since the epoch when the peer was last linked: now while it is, nil if never.
        public let lastSeen: UInt64?
    }

    public let key: SigningPublicKey
    public let nickname: String
    public let listen: String
    public let room: String
    public let peers: [Peer]
    /// Envelopes received from neighbours since the node started (docs/benchmarks.md).
    public let counters: GossipCounters

    /// The JSON object `meshchat status --json` prints.
    public var jsonObject: [String: Any] {
        ["key": key.base64, "nickname": nickname, "listen": listen, "room": room,
         "counters": ["envelopes_received": counters.received, "envelopes_duplicate": counters.duplicates,
                      "envelopes_accepted": counters.accepted, "envelopes_invalid": counters.invalid],
         "peers": peers.map { peer -> [String: Any] in
             ["name": peer.name, "key": peer.key.base64, "address": peer.address.map { $0 as Any } ?? NSNull(),
              "state": peer.state, "direction": peer.direction?.rawValue as Any? ?? NSNull(),
              "suite": peer.suite?.noiseProtocolName as Any? ?? NSNull(),
              "link_address": peer.linkAddress.map { $0 as Any } ?? NSNull(),
              "last_seen": peer.lastSeen.map { $0 as Any } ?? NSNull()]
         }]
    }
}
