import Logging
import MeshCrypto
import MeshNoise
import MeshWire
import NIOCore

/// Carries one TCP connection through the preamble, the handshake and transport, doing what
/// the pure `InitiatorHandshake`/`ResponderHandshake` and `TransportState` decide, and handing
/// established-link events and plaintexts to the node core.
///
/// Runs on the node's single event loop, like the core it reports to; only the X25519 work of its
/// handshake steps runs on the core's worker threads (`besideLoop`).
final class LinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where the connection is in its life; each case holds only what is valid in it.
    private enum Phase {
        case awaitingPreamble(ResponderHandshake)
        case awaitingMessage1(ResponderHandshake)
        /// A handshake step (answering message 1, making message 1, reading message 2) is running
        /// on a worker thread; nothing more is read until it is back.
        case besideLoop
        case awaitingMessage2(InitiatorHandshake)
        /// Responder: message 2 sent; the link counts only once the first transport frame decrypts.
        case awaitingFirstTransport(EstablishedLink)
        case established(EstablishedLink)
        case closed
    }

    /// Who dialed.
    let direction: LinkDirection
    /// The remote address as text, for events.
    private(set) var remoteAddress = "?"
    /// The pinned peer this connection dialed (outbound only).
    let dialedPeer: PinnedPeer?
    /// The authenticated remote identity, once known.
    private(set) var remoteKey: SigningPublicKey?
    /// The remote handshake payload, once known.
    private(set) var remotePayload: HandshakePayload?
    /// This node's name for the peer when the link was established (kept for events after it is unpinned).
    var peerName: String?
    /// The suite in use, once known.
    private(set) var suite: Suite?

    private unowned let core: NodeCore
    private var phase: Phase
    private var context: ChannelHandlerContext?
    private var inbound = ByteBuffer()
    /// Frames queued in this loop tick, written to the socket as one buffer by the tick's flush.
    private var outbound: ByteBuffer?
    private var flushPending = false
    private var handshakeTimer: Scheduled<Void>?
    /// When this side last wrote or read a frame, for keepalive and idle (PROTOCOL.md 5).
    private(set) var lastSent = NIODeadline.now()
    private(set) var lastReceived = NIODeadline.now()

    /// A handler for a connection this node accepted.
    init(inboundFor core: NodeCore) {
        self.core = core
        direction = .inbound
        dialedPeer = nil
        phase = .awaitingPreamble(ResponderHandshake(identity: core.linkIdentity))
    }

    /// A handler for a connection this node dialed to `peer`.
    init(outboundTo peer: PinnedPeer, handshake: InitiatorHandshake, core: NodeCore) {
        self.core = core
        direction = .outbound
        dialedPeer = peer
        remoteKey = peer.key
        phase = .awaitingMessage2(handshake)
    }

    /// Whether the handshake has completed (the responder: and the first transport frame decrypted).
    var isEstablished: Bool {
        if case .established = phase { return true }
        return false
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let address = context.channel.remoteAddress { remoteAddress = Self.describe(address) }
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: core.configuration.handshakeTimeout) { [weak self] in
            self?.fail(.handshakeTimedOut)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        if let address = context.channel.remoteAddress { remoteAddress = Self.describe(address) }
        // NodeLimits: a stranger over the pending cap or its handshake rate is closed at once, before any crypto.
        if direction == .inbound, let refusal = core.admitInbound(self, sourceIP: context.channel.remoteAddress?.ipAddress ?? "?") {
            handshakeTimer?.cancel()
            return refuse(reason: refusal.rawValue, key: nil)
        }
        guard case .awaitingMessage2(let handshake) = phase else { return }
        besideLoop({ () throws(HandshakeFailure) in
            var started = handshake
            let opening = try started.start()
            return (started, opening)
        }, then: { $0.started($1.0, opening: $1.1) })
    }

    /// Runs one handshake step (its X25519 operations) on the node's worker threads and `then`
    /// carries on with its result back on the loop, unless the connection closed meanwhile. The
    /// connection reads nothing in between; `then` resumes reading. A failure of the step or of
    /// `then` ends the handshake (`handshakeFailed`).
    private func besideLoop<Success: Sendable>(_ step: @escaping @Sendable () throws(HandshakeFailure) -> Success,
                                               then: @escaping (LinkHandler, Success) throws(HandshakeFailure) -> Void) {
        phase = .besideLoop
        setAutoRead(false)
        core.offLoop.run({ Result(catching: step) }) { [weak self] result in
            guard let self, case .besideLoop = phase else { return }  // closed meanwhile
            phase = .closed
            do throws(HandshakeFailure) {
                try then(self, result.get())
            } catch {
                handshakeFailed(error)
            }
        }
    }

    /// A dial that failed is reported as such; an accepted connection is closed without a reply,
    /// the refusal saying why (PROTOCOL.md 4).
    private func handshakeFailed(_ failure: HandshakeFailure) {
        guard direction == .inbound else { return fail(.handshake(failure)) }
        switch failure {
        case .untrusted(let key):
            refuse(reason: "key not pinned", key: key)
        case .replayed:
            refuse(reason: "replayed handshake", key: nil)
        default:
            refuse(reason: "handshake failed", key: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        handshakeTimer?.cancel()
        unwritableTimer?.cancel()
        self.context = nil
        // The one place a connection's outcome is reported, so each is reported exactly once.
        if registered {
            core.linkClosed(self)
        } else if direction == .outbound {
            core.dialFailed(self, reason: dialFailure ?? .connectionClosedDuringHandshake)
        } else {
            core.inboundEnded(self, refusal: refusal)
        }
    }

    /// Whether the socket's send buffer has room; sync answers wait while it has not.
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableTimer?.cancel()
            unwritableTimer = nil
        } else if unwritableTimer == nil {
            // NodeLimits.maxUnwritableSeconds: a peer that stops reading for that long is cut; it catches up by sync.
            let limit = TimeAmount.nanoseconds(Int64(core.configuration.limits.maxUnwritableSeconds * 1e9))
            unwritableTimer = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [weak self] in
                self?.closeSlowReader("did not read for \(NodeCore.seconds(limit))")
            }
        }
        if context.channel.isWritable, registered, let key = remoteKey {
            core.resumeSync(to: key)
            core.files.resume(to: key)
        }
    }

    /// Set when this node closed the link for a reason no BYE can carry (a peer that stopped reading).
    private(set) var localCloseReason: String?
    /// The ticket of the pending slot this accepted connection holds (NodeLimits.maxPendingInbound).
    var admissionTicket: InboundAdmission.Ticket?
    private var unwritableTimer: Scheduled<Void>?

    /// Closes without a BYE (it would wait behind the bytes the peer is not reading).
    private func closeSlowReader(_ why: String) {
        guard localCloseReason == nil, let context else { return }
        localCloseReason = "too slow to read: \(why)"
        core.slowLinkClosed()
        core.logger.debug("slow reader closed", metadata: ["link.address": "\(remoteAddress)"])
        phase = .closed
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        core.logger.debug("link error", metadata: ["link.address": "\(remoteAddress)", "link.error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        inbound.writeBuffer(&bytes)
        lastReceived = .now()
        processInbound()
        if inbound.readableBytes == 0 { inbound.clear() } else { inbound.discardReadBytes() }
    }

    // MARK: Parsing

    private func processInbound() {
        while true {
            if case .awaitingPreamble(var handshake) = phase {
                guard let preamble = inbound.readBytes(length: Preamble.byteCount) else { return }
                do {
                    try handshake.receive(preamble: preamble)
                    suite = try? Preamble.parse(preamble).suite
                    phase = .awaitingMessage1(handshake)
                } catch {
                    // "closes the connection without a reply if the magic, version or reserved bytes are wrong
                    // or it does not accept the suite" (PROTOCOL.md 3)
                    return refuse(reason: "bad preamble", key: nil)
                }
                continue
            }
            // Frames already read wait here while reading is paused (`awaitVerification(of:)`), or
            // while a handshake step runs beside the loop: nothing may overtake it.
            if case .besideLoop = phase { return }
            guard !readingPaused, let length = inbound.getInteger(at: inbound.readerIndex, as: UInt16.self) else { return }
            // "A zero length is a protocol error and closes the connection." (PROTOCOL.md 2)
            guard length > 0 else { return protocolViolation("zero-length frame") }
            guard inbound.readableBytes >= Framing.lengthPrefixBytes + Int(length) else { return }
            inbound.moveReaderIndex(forwardBy: Framing.lengthPrefixBytes)
            if case .established = phase {
                receiveTransportFrame(length: Int(length))
            } else {
                handleFrame(inbound.readBytes(length: Int(length))!)
            }
            if case .closed = phase { return }
        }
    }

    private func handleFrame(_ frame: [UInt8]) {
        switch phase {
        case .awaitingPreamble, .closed:
            return
        case .awaitingMessage1(let handshake):
            let timestamp = core.nextHandshakeTimestamp()
            let trusted = core.trusted
            besideLoop({ () throws(HandshakeFailure) in
                try handshake.receive(message1: frame, timestamp: timestamp, pinnedStaticKey: trusted.staticKey(of:))
            }, then: { handler, answer throws(HandshakeFailure) in try handler.answered(answer) })
        case .besideLoop:
            return
        case .awaitingMessage2(let handshake):
            besideLoop({ () throws(HandshakeFailure) in try handshake.receive(message2: frame) }, then: { $0.completed($1) })
        case .awaitingFirstTransport(var link):
            phase = .closed
            guard let plaintext = try? link.transport.decrypt(frame) else {
                // "with psk2 a wrong pre-shared key shows only there" (PROTOCOL.md 4)
                return refuse(reason: "first transport frame did not decrypt", key: remoteKey)
            }
            phase = .established(link)
            handshakeTimer?.cancel()
            registered = true
            core.linkEstablished(self)
            if case .established = phase { handlePlaintext(plaintext) }
        case .established(var link):
            phase = .closed
            guard let plaintext = try? link.transport.decrypt(frame) else {
                // "A frame that fails to decrypt closes the connection." (PROTOCOL.md 5)
                core.logger.debug("frame did not decrypt", metadata: ["link.peer": "\(remoteKey?.base64 ?? "?")"])
                context?.close(promise: nil)
                return
            }
            phase = .established(link)
            handlePlaintext(plaintext)
        }
    }

    /// Initiator: message 1 was made beside the loop; it goes out.
    private func started(_ handshake: InitiatorHandshake, opening: [UInt8]) {
        phase = .awaitingMessage2(handshake)
        write(opening)
        resumeReading()
    }

    /// Initiator: message 2 was read beside the loop; the link is up.
    private func completed(_ link: EstablishedLink) {
        remotePayload = link.remote
        suite = link.suite
        phase = .established(link)
        handshakeTimer?.cancel()
        // "Right after the handshake the initiator sends a PING." (PROTOCOL.md 4)
        send(.ping(token: SecureRandom.uint64()))
        registered = true
        core.linkEstablished(self)
        resumeReading()
    }

    /// Responder: sends message 2 for an answered message 1 if the replay check passes and the
    /// peer is still pinned (the trusted-peers file may have changed while it was answered).
    private func answered(_ answer: AnsweredMessage1) throws(HandshakeFailure) {
        let identity = answer.remote.identity
        guard core.trusted.staticKey(of: identity) != nil else { throw .untrusted(identity) }
        let (message2, link) = try answer.unlessReplayed(lastAccepted: core.lastAcceptedTimestamp(from: identity))
        remoteKey = identity
        remotePayload = link.remote
        suite = link.suite
        core.recordAcceptedTimestamp(link.remote.timestamp, from: identity)
        phase = .awaitingFirstTransport(link)
        write(message2)
        resumeReading()
    }

    /// Decrypts the next `length` bytes of `inbound` (a transport frame) in place of copying them out first.
    private func receiveTransportFrame(length: Int) {
        guard case .established(var link) = phase else { return }
        phase = .closed
        let plaintext: [UInt8]? = inbound.readWithUnsafeReadableBytes { readable in
            let frame = UnsafeRawBufferPointer(rebasing: readable[..<length])
            let opened = try? [UInt8](unsafeUninitializedCapacity: max(length - AEADCipher.tagByteCount, 0)) { output, count in
                count = try link.transport.decrypt(frame, into: UnsafeMutableRawBufferPointer(output))
            }
            return (length, opened)
        }
        guard let plaintext else {
            // "A frame that fails to decrypt closes the connection." (PROTOCOL.md 5)
            core.logger.debug("frame did not decrypt", metadata: ["link.peer": "\(remoteKey?.base64 ?? "?")"])
            context?.close(promise: nil)
            return
        }
        phase = .established(link)
        handlePlaintext(plaintext)
    }

    private func handlePlaintext(_ bytes: consuming [UInt8]) {
        let frameBytes = bytes.count
        let plaintext: Plaintext
        do {
            // Its last use: a MESSAGE's envelope then keeps the decrypted array's storage.
            plaintext = try Plaintext.parse(consume bytes)
        } catch {
            // "An empty plaintext, or a PING, PONG or BYE whose body does not parse exactly, is a protocol error: BYE 2 and close."
            return protocolViolation("malformed plaintext")
        }
        switch plaintext {
        case .ping(let token):
            // Answered behind the envelopes before it, so a PONG says they were all judged.
            afterPendingEnvelopes(frameBytes: frameBytes) { $0.send(.pong(token: token)) }
        case .pong:
            break
        case .message(let envelope):
            guard let key = remoteKey else { return }
            core.receiveEnvelope(envelope, from: key, on: self)
        case .bye(let reason, _):
            core.logger.debug("peer said bye", metadata: ["link.reason": "\(reason)"])
            byeReceived = reason
            context?.close(promise: nil)
        case .unknown(let type, let body) where (SyncMessageType.frontier...SyncMessageType.done).contains(type):
            guard let key = remoteKey else { return }
            do {
                let message = try SyncMessage.parse(type: type, body: body)
                afterPendingEnvelopes(frameBytes: frameBytes) { $0.core.receiveSync(message, from: key, on: $0) }
            } catch {
                // docs/sync-protocol.md: a sync message that does not parse is a protocol error.
                protocolViolation("malformed sync message")
            }
        case .unknown(let type, let body) where FileMessageType.isKnown(type):
            guard let key = remoteKey else { return }
            do {
                core.files.receive(try FileMessage.parse(type: type, body: body), from: key)
            } catch {
                // docs/file-transfer.md: a file message that does not parse is a protocol error.
                protocolViolation("malformed file message")
            }
        case .unknown:
            // "A node ignores plaintext types it does not know." (PROTOCOL.md 5)
            break
        }
    }

    /// The reason the peer gave when it closed, if it did.
    private(set) var byeReceived: ByeReason?

    // MARK: Backpressure

    /// Bytes of envelopes from this link that are received but not yet verified and stored.
    private var bytesAwaitingVerification = 0
    private var readingPaused = false

    /// Counts an envelope's bytes as pending verification; over
    /// `NodeLimits.maxBytesAwaitingVerificationPerLink` the link stops reading (frames already read
    /// wait too) rather than dropping anything, until `verificationEnded(for:)` brings it down.
    func awaitVerification(of byteCount: Int) {
        bytesAwaitingVerification += byteCount
        guard !readingPaused, bytesAwaitingVerification > core.configuration.limits.maxBytesAwaitingVerificationPerLink,
              context != nil else { return }
        readingPaused = true
        core.linkReadingPaused()
        setAutoRead(false)
    }

    /// An envelope counted by `awaitVerification(of:)` was stored or dropped. Reading resumes once
    /// half the limit is free, so verification keeps running while the link refills.
    func verificationEnded(for byteCount: Int) {
        bytesAwaitingVerification -= byteCount
        guard readingPaused, bytesAwaitingVerification <= core.configuration.limits.maxBytesAwaitingVerificationPerLink / 2
        else { return }
        readingPaused = false
        // In a tick of its own: this runs inside the core's storing, which must not parse frames.
        context?.eventLoop.assumeIsolated().execute { [weak self] in self?.resumeReading() }
    }

    /// Runs `step` once every envelope received before it is stored or dropped (a PONG, a sync
    /// message: docs/sync-protocol.md 8). Meanwhile its frame counts against the pause limit, so a
    /// flood of such frames behind a batch being verified cannot queue without bound.
    private func afterPendingEnvelopes(frameBytes: Int, _ step: @escaping (LinkHandler) -> Void) {
        awaitVerification(of: frameBytes)
        core.afterPendingEnvelopes { [self] in
            verificationEnded(for: frameBytes)
            step(self)
        }
    }

    private func resumeReading() {
        guard !readingPaused, context != nil else { return }
        processInbound()
        if inbound.readableBytes == 0 { inbound.clear() } else { inbound.discardReadBytes() }
        if !readingPaused { setAutoRead(true) }
    }

    private func setAutoRead(_ on: Bool) {
        try? context?.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: on)
    }

    // MARK: Sending

    /// Encrypts and queues one plaintext; frames written in one event-loop tick share one flush.
    func send(_ plaintext: Plaintext) {
        send(encoded: plaintext.encoded())
    }

    /// Encrypts and queues one already encoded plaintext (type byte first).
    func send(encoded plaintext: [UInt8]) {
        seal(plaintextCount: plaintext.count) { output in plaintext.withUnsafeBytes { output.copyMemory(from: $0) } }
    }

    /// Sends `envelope` as a MESSAGE ("`u8 type` followed by its body", PROTOCOL.md 5), its bytes
    /// written straight into the outgoing buffer: a forward costs no arrays for its encoding.
    func send(message envelope: Envelope) {
        seal(plaintextCount: 1 + envelope.encodedByteCount) { output in
            output[0] = PlaintextType.message
            envelope.encode(into: UnsafeMutableRawBufferPointer(rebasing: output[1...]))
        }
    }

    /// Queues one plaintext of `plaintextCount` bytes, which `write` puts into this tick's outgoing
    /// buffer behind its length prefix; it is then sealed there, in place.
    private func seal(plaintextCount: Int, writing write: (UnsafeMutableRawBufferPointer) -> Void) {
        guard case .established(var link) = phase, let context else { return }
        phase = .closed
        let sealedCount = plaintextCount + AEADCipher.tagByteCount
        var buffer = outbound ?? context.channel.allocator.buffer(capacity: Self.outboundCapacity)
        outbound = nil
        let start = buffer.writerIndex
        do {
            guard WireBounds.frameLength.contains(sealedCount) else { throw NoiseError.messageTooLong }
            buffer.writeInteger(UInt16(sealedCount))
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: sealedCount) { output in
                write(UnsafeMutableRawBufferPointer(rebasing: output[..<plaintextCount]))
                return try link.transport.encrypt(UnsafeRawBufferPointer(rebasing: output[..<plaintextCount]), into: output)
            }
        } catch {
            buffer.moveWriterIndex(to: start)
            outbound = buffer
            context.close(promise: nil)
            return
        }
        phase = .established(link)
        queue(buffer)
    }

    /// The first size of a tick's outgoing buffer: room for a burst of chat-sized frames.
    static let outboundCapacity = 16 * 1024

    /// Says BYE with `reason` and closes once it is written.
    func close(saying reason: ByeReason, _ text: String = "") {
        guard let context else { return }
        if isEstablished {
            send(.bye(reason: reason, text: text))
            closeReason = reason
        }
        phase = .closed
        flushPending = false
        let last = outbound ?? context.channel.allocator.buffer(capacity: 0)
        outbound = nil
        context.writeAndFlush(wrapOutboundOut(last)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// The reason this node gave when it closed the link, if it did.
    private(set) var closeReason: ByeReason?

    /// Queues handshake bytes, already framed.
    private func write(_ bytes: [UInt8]) {
        guard let context else { return }
        var buffer = outbound ?? context.channel.allocator.buffer(capacity: bytes.count)
        outbound = nil
        buffer.writeBytes(bytes)
        queue(buffer)
    }

    /// Keeps `buffer` as the tick's outgoing bytes; the first frame of a tick schedules the one
    /// write and flush that carries them all.
    private func queue(_ buffer: ByteBuffer) {
        guard let context else { return }
        lastSent = .now()
        // NodeLimits.maxQueuedBytesPerLink: what the peer has not taken may not grow without bound.
        if !context.channel.isWritable,
           let queued = try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes),
           queued > core.configuration.limits.maxQueuedBytesPerLink {
            return closeSlowReader("\(queued) bytes queued")
        }
        if buffer.readableBytes >= Self.outboundWriteThreshold {
            // Handed to the channel now (flushed at the tick's end), so `isWritable` sees a big
            // burst, such as a sync answer, and backpressure still holds.
            context.write(wrapOutboundOut(buffer), promise: nil)
        } else {
            outbound = buffer
        }
        guard !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute { [weak self] in
            guard let self, self.flushPending, let context = self.context else { return }
            self.flushPending = false
            if let outbound = self.outbound {
                self.outbound = nil
                context.write(self.wrapOutboundOut(outbound), promise: nil)
            }
            context.flush()
        }
    }

    /// Queued bytes beyond which the buffer goes to the channel before the tick ends.
    static let outboundWriteThreshold = 64 * 1024

    // MARK: Failures

    /// Why an inbound connection was refused before it became a link.
    struct Refusal {
        let reason: String
        let key: SigningPublicKey?
    }

    /// Set once the core has counted this connection as a link.
    private var registered = false
    private var dialFailure: DialFailure?
    private var refusal: Refusal?

    /// Why a dialed connection produced no link.
    enum DialFailure: Error {
        case handshake(HandshakeFailure)
        case handshakeTimedOut
        case connectionClosedDuringHandshake
    }

    private func fail(_ failure: DialFailure) {
        dialFailure = failure
        if direction == .inbound, refusal == nil { refusal = Refusal(reason: "handshake timed out", key: remoteKey) }
        phase = .closed
        context?.close(promise: nil)
    }

    /// Closes an inbound connection without a reply, remembering why for the core.
    private func refuse(reason: String, key: SigningPublicKey?) {
        refusal = Refusal(reason: reason, key: key)
        phase = .closed
        context?.close(promise: nil)
    }

    private func protocolViolation(_ what: String) {
        core.logger.debug("protocol error", metadata: ["link.address": "\(remoteAddress)", "link.error": "\(what)"])
        if isEstablished {
            close(saying: .protocolError, what)
        } else {
            phase = .closed
            context?.close(promise: nil)
        }
    }

    private static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return HostPort(host: ip, port: port).description
    }
}
