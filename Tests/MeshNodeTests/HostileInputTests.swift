import Foundation
import MeshCrypto
import MeshGossip
import MeshHarness
import MeshNode
import MeshNoise
import MeshWire
import Testing

// A real node on loopback, attacked byte by byte with `WireClient`: every "drops" and
// "closes" rule of PROTOCOL.md, each asserted by what goes over the socket and what the node
// tells its operator.

/// Collects a node's events and lets a test await one. `lock` serialises `events`, `waiters` and
/// `expired`: events are written on the node's loop and read by the test's task.
final class HostileEventRecorder: @unchecked Sendable {
    private typealias Waiter = (id: Int, predicate: @Sendable (NodeEvent) -> Bool, continuation: CheckedContinuation<NodeEvent?, Never>)
    private let lock = NSLock()
    private var events: [NodeEvent] = []
    private var waiters: [Waiter] = []
    private var expired: Set<Int> = []
    private var nextWaiterID = 0

    func record(_ event: NodeEvent) {
        let ready: [Waiter] = lock.withLock {
            events.append(event)
            let matching = waiters.filter { $0.predicate(event) }
            waiters.removeAll { $0.predicate(event) }
            return matching
        }
        for waiter in ready { waiter.continuation.resume(returning: event) }
    }

    /// Every event so far.
    var all: [NodeEvent] { lock.withLock { events } }

    /// Every message shown so far.
    var messages: [ShownMessage] {
        all.compactMap { if case .message(let shown) = $0 { shown } else { nil } }
    }

    /// The first event, seen or to come, that satisfies `predicate`; nil after `timeout` (a hang guard).
    func first(timeout: Duration = .seconds(10), where predicate: @escaping @Sendable (NodeEvent) -> Bool) async -> NodeEvent? {
        let id = lock.withLock {
            nextWaiterID += 1
            return nextWaiterID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let found: NodeEvent?? = lock.withLock {
                if let event = events.first(where: predicate) { return .some(event) }
                if expired.contains(id) { return .some(nil) }
                waiters.append((id, predicate, continuation))
                return nil
            }
            if let found { continuation.resume(returning: found) }
        }
    }

    private func expire(_ id: Int) {
        let waiter: Waiter? = lock.withLock {
            guard let index = waiters.firstIndex(where: { $0.id == id }) else {
                expired.insert(id)
                return nil
            }
            return waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: nil)
    }
}

/// The node's "now" in ms, set by the test. `lock` serialises `value`, read on the node's loop.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64

    init(_ start: UInt64) { value = start }

    var now: UInt64 {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

/// A node under attack: its home pins `alice` and `bob` (no addresses, so it dials nobody, unless
/// `aliceAddress` gives alice one).
struct TargetNode {
    let node: Node
    let events: HostileEventRecorder
    let clock: ManualClock
    let directory: String
    let alice = SigningPrivateKey()
    let bob = SigningPrivateKey()

    var port: Int { node.listenAddress.port }

    init(aliceAddress: HostPort? = nil, store: MessageStore = InMemoryMessageStore(),
         configure: (inout NodeConfiguration) -> Void = { _ in }) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        let home = NodeHome(explicit: directory)
        try home.addPeer(PinnedPeer(name: "alice", key: alice.publicKey, address: aliceAddress))
        try home.addPeer(PinnedPeer(name: "bob", key: bob.publicKey, address: nil))
        var configuration = NodeConfiguration(home: home, nickname: "target")
        configuration.controlSocket = false
        configuration.listen = HostPort(host: "127.0.0.1", port: 0)
        configure(&configuration)
        let events = HostileEventRecorder()
        let clock = ManualClock(UInt64(Date().timeIntervalSince1970 * 1000))
        self.events = events
        self.clock = clock
        node = try await Node.start(configuration: configuration, identity: SigningPrivateKey(), store: store,
                                    clock: { clock.now }, events: { events.record($0) })
    }

    /// A client that completed the handshake as `identity` (default alice) and had its first PING answered.
    func linkedClient(as identity: SigningPrivateKey? = nil) throws -> WireClient {
        let client = try WireClient(port: port)
        try client.handshake(as: identity ?? alice, to: node.key)
        try client.ping()
        return client
    }

    /// A client that has sent a valid preamble for suite 1 and nothing else.
    func clientAfterPreamble() throws -> WireClient {
        let client = try WireClient(port: port)
        try client.send(Preamble(suite: .ikChaChaPolyBLAKE2b).encoded())
        return client
    }

    /// Room text signed by `author` (default alice), stamped with the node's clock unless told otherwise.
    func envelope(by author: SigningPrivateKey? = nil, seq: UInt64 = 1, text: String = "hello", timestamp: UInt64? = nil) throws -> Envelope {
        try Envelope.signed(kind: .room, by: author ?? alice, seq: seq, timestamp: timestamp ?? clock.now,
                            nickname: "tester", room: "general", recipient: nil, body: Array(text.utf8))
    }

    /// The rejection the node reported with `reason`, awaited.
    func rejection(_ reason: String) async -> (address: String, key: SigningPublicKey?)? {
        let event = await events.first { if case .rejected(_, reason, _) = $0 { true } else { false } }
        guard case .rejected(let address, _, let key) = event else { return nil }
        return (address, key)
    }

    func stop() async {
        await node.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A preamble with each byte given.
private func preamble(magic: [UInt8] = Preamble.magic, version: UInt8 = 1, suite: UInt8 = 1, reserved: [UInt8] = [0, 0]) -> [UInt8] {
    magic + [version, suite] + reserved
}

/// `signed`'s bytes with every field kept but `kind` set to `kind`, signed again by `author`: a
/// correctly signed envelope of a reserved kind.
private func resigned(_ envelope: Envelope, kind: UInt8, by author: SigningPrivateKey) -> [UInt8] {
    var signedPart = envelope.signedBytes
    signedPart[1] = kind
    return signedPart + author.signature(for: signedPart) + [0]
}

@Suite(.serialized)
struct HostileInputTests {
    // MARK: Preamble (PROTOCOL.md 3): "closes the connection without a reply"

    /// Sends `bytes` as the preamble and expects the node to close without sending a byte.
    private func expectSilentCloseAfterPreamble(_ bytes: [UInt8]) async throws {
        let target = try await TargetNode()
        let client = try WireClient(port: target.port)
        try client.send(bytes)
        #expect(try client.readUntilClosed() == [])
        let rejection = await target.rejection("bad preamble")
        #expect(rejection != nil && rejection?.key == nil)
        // The refusal did not hurt the node.
        _ = try target.linkedClient()
        await target.stop()
    }

    @Test func wrongMagicIsClosedWithoutAByte() async throws {
        try await expectSilentCloseAfterPreamble(preamble(magic: Array("MESX".utf8)))
    }

    @Test(arguments: [UInt8(0), 2, 0xFF])
    func wrongVersionIsClosedWithoutAByte(version: UInt8) async throws {
        try await expectSilentCloseAfterPreamble(preamble(version: version))
    }

    @Test(arguments: [[UInt8(0), 1], [1, 0], [0xFF, 0xFF]])
    func nonZeroReservedIsClosedWithoutAByte(reserved: [UInt8]) async throws {
        try await expectSilentCloseAfterPreamble(preamble(reserved: reserved))
    }

    @Test(arguments: [UInt8(0), 5, 0xFF])
    func unknownSuiteIsClosedWithoutAByte(suite: UInt8) async throws {
        try await expectSilentCloseAfterPreamble(preamble(suite: suite))
    }

    @Test(arguments: [Suite.ikpsk2ChaChaPolyBLAKE2b, .ikpsk2AESGCMSHA256])
    func pskSuiteAtANodeWithoutPSKIsClosedWithoutAByte(suite: Suite) async throws {
        try await expectSilentCloseAfterPreamble(Preamble(suite: suite).encoded())
    }

    // MARK: Framing and handshake (PROTOCOL.md 2 and 4)

    @Test func zeroLengthFrameIsClosed() async throws {
        let target = try await TargetNode()
        let client = try target.clientAfterPreamble()
        try client.send([0, 0])
        #expect(try client.readUntilClosed() == [])
        await target.stop()
    }

    @Test func zeroLengthFrameAfterTheHandshakeIsByeTwo() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.send([0, 0])
        // "A zero length is a protocol error and closes the connection": on a link that is BYE 2, then close.
        #expect(try client.expectByeThenClose() == .protocolError)
        await target.stop()
    }

    @Test func garbageMessage1IsClosedWithoutReply() async throws {
        let target = try await TargetNode()
        // As long as a real message 1 from a pinned key: only its bytes are wrong.
        var real = try InitiatorHandshake(
            identity: LinkIdentity(signingKey: target.alice, nickname: "tester", listenPort: 0, preSharedKey: nil),
            pinnedPeer: target.node.key, cipher: .chaChaPoly, timestamp: HandshakeTimestamps.next())
        let length = try real.start().count - Preamble.byteCount - Framing.lengthPrefixBytes
        let client = try target.clientAfterPreamble()
        try client.send(Framing.frame(SecureRandom.bytes(count: length)))
        #expect(try client.readUntilClosed() == [])
        let rejection = await target.rejection("handshake failed")
        #expect(rejection != nil && rejection?.key == nil)
        await target.stop()
    }

    @Test func message1FromAnUnpinnedKeyIsClosedWithoutReplyAndReported() async throws {
        let target = try await TargetNode()
        let stranger = SigningPrivateKey()
        let client = try WireClient(port: target.port)
        #expect(throws: HarnessFailure.self) { try client.handshake(as: stranger, to: target.node.key) }
        #expect(try client.readUntilClosed() == [])
        let rejection = await target.rejection("key not pinned")
        #expect(rejection?.key == stranger.publicKey)
        #expect(rejection?.address.hasPrefix("127.0.0.1:") == true)
        await target.stop()
    }

    @Test func aKeyPinnedWhileTheNodeRunsIsAcceptedFromThen() async throws {
        let target = try await TargetNode()
        let carol = SigningPrivateKey()
        let refused = try WireClient(port: target.port)
        #expect(throws: HarnessFailure.self) { try refused.handshake(as: carol, to: target.node.key) }
        #expect(await target.rejection("key not pinned")?.key == carol.publicKey)

        // As `meshchat peer add` does: the line is appended to the file the node watches.
        try NodeHome(explicit: target.directory).addPeer(PinnedPeer(name: "carol", key: carol.publicKey, address: nil))
        #expect(await target.events.first { $0 == .notice("carol is now trusted.") } != nil)
        _ = try target.linkedClient(as: carol)
        await target.stop()
    }

    @Test func replayedMessage1IsClosedWithoutReply() async throws {
        let target = try await TargetNode()
        let first = try target.linkedClient()
        let replay = try WireClient(port: target.port)
        try replay.send(first.opening)
        #expect(try replay.readUntilClosed() == [])
        let rejection = await target.rejection("replayed handshake")
        #expect(rejection != nil)
        // The replay did not disturb the link it copied.
        try first.ping()
        await target.stop()
    }

    @Test func payloadIdentityThatIsNotTheStaticKeyIsClosedWithoutReply() async throws {
        let target = try await TargetNode()
        // Alice's static key, but a payload that names Bob (also pinned): rule 1 comes before trust.
        let suite = Suite.ikChaChaPolyBLAKE2b
        let prologue = Preamble(suite: suite).encoded()
        var handshake = HandshakeState(protocol: suite.noiseProtocol, role: .initiator, prologue: prologue,
                                       staticKey: target.alice.keyAgreementKey(),
                                       remoteStaticKey: try target.node.key.keyAgreementKey(), preSharedKey: nil)
        let payload = HandshakePayload(identity: target.bob.publicKey, timestamp: HandshakeTimestamps.next(),
                                       listenPort: 0, nickname: "bob").encoded()
        let client = try WireClient(port: target.port)
        try client.send(prologue + Framing.frame(handshake.writeMessage(payload: payload)))
        #expect(try client.readUntilClosed() == [])
        let rejection = await target.rejection("handshake failed")
        #expect(rejection != nil && rejection?.key == nil)
        #expect(!target.events.all.contains { if case .linkUp = $0 { true } else { false } })
        await target.stop()
    }

    // MARK: Transport (PROTOCOL.md 5)

    @Test func pingIsAnsweredWithAPongCarryingTheSameToken() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        let linkUp = await target.events.first { if case .linkUp = $0 { true } else { false } }
        guard case .linkUp(let peer, let key, _, let direction, let suite) = linkUp else {
            Issue.record("no link-up")
            return
        }
        #expect(peer == "alice" && key == target.alice.publicKey && direction == .inbound && suite == .ikChaChaPolyBLAKE2b)
        for token: UInt64 in [0, 1, 0xDEAD_BEEF_0BAD_F00D, .max] {
            try client.send(.ping(token: token))
            #expect(try client.nextPlaintext() == .pong(token: token))
        }
        await target.stop()
    }

    @Test func frameThatFailsToDecryptClosesTheConnection() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        var ciphertext = try client.encrypt(Plaintext.ping(token: 7).encoded())
        ciphertext[ciphertext.count / 2] ^= 0x01
        try client.send(Framing.frame(ciphertext))
        #expect(try client.readUntilClosed() == [])
        let down = await target.events.first { if case .linkDown("alice", _) = $0 { true } else { false } }
        #expect(down != nil)
        await target.stop()
    }

    @Test func emptyPlaintextIsByeTwo() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.sendPlaintextBytes([])
        #expect(try client.expectByeThenClose() == .protocolError)
        await target.stop()
    }

    @Test(arguments: [7, 9, 0])
    func pingWithAWrongBodyLengthIsByeTwo(bodyLength: Int) async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.sendPlaintextBytes([PlaintextType.ping] + [UInt8](repeating: 0xAB, count: bodyLength))
        #expect(try client.expectByeThenClose() == .protocolError)
        await target.stop()
    }

    @Test(arguments: [7, 9])
    func pongWithAWrongBodyLengthIsByeTwo(bodyLength: Int) async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.sendPlaintextBytes([PlaintextType.pong] + [UInt8](repeating: 0xAB, count: bodyLength))
        #expect(try client.expectByeThenClose() == .protocolError)
        await target.stop()
    }

    @Test(arguments: [
        [],                                    // no reason
        [0],                                   // no text length
        [0, 0],                                // half a text length
        [0, 0, 5, 0x61],                       // text shorter than its length
        [0, 0, 1, 0x61, 0x62],                 // a byte after the text
        [0, 0, 2, 0xC3, 0x28],                 // text that is not UTF-8
        [0, 0x01, 0x01] + [UInt8](repeating: 0x61, count: 257), // text over 256 bytes
    ] as [[UInt8]])
    func byeWhoseBodyDoesNotParseIsByeTwo(body: [UInt8]) async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.sendPlaintextBytes([PlaintextType.bye] + body)
        #expect(try client.expectByeThenClose() == .protocolError)
        await target.stop()
    }

    /// docs/sync-protocol.md: a sync message (0x11-0x13) that does not parse is a protocol error.
    @Test(arguments: [
        [0x11],                                // frontier without flags or count
        [0x11, 0x00, 0x00, 0x00],              // count 0 without the last flag
        [0x12, 0, 0, 0, 1, 0, 0],              // request with no ranges
        [0x13, 0, 0, 1],                       // done with half a request id
        [0x13, 0, 0, 0, 9],                    // done for a request never made
    ] as [[UInt8]])
    func malformedSyncMessageIsByeTwo(plaintext: [UInt8]) async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.sendPlaintextBytes(plaintext)
        #expect(try client.expectByeThenClose() == .protocolError)
        await target.stop()
    }

    // 0x20-0x25 are file messages now (docs/file-transfer.md); the rest of their range is still ignored.
    @Test(arguments: [UInt8(0x55), 0x14, 0x1F, 0x26, 0x2F, 0x30, 0x7E, 0x00, 0x80, 0xFF])
    func unknownPlaintextTypeIsIgnored(type: UInt8) async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.sendPlaintextBytes([type])
        try client.sendPlaintextBytes([type, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        try client.ping()
        #expect(!target.events.all.contains { if case .linkDown = $0 { true } else { false } })
        await target.stop()
    }

    // MARK: Timers (PROTOCOL.md 4 and 5), shortened so tests need not wait for the real ones

    /// "A handshake not complete within 10 seconds is abandoned by either side."
    @Test func stalledHandshakeIsAbandoned() async throws {
        let target = try await TargetNode { $0.handshakeTimeout = .milliseconds(200) }
        let client = try target.clientAfterPreamble()
        #expect(try client.readUntilClosed().isEmpty)
        let refused = await target.events.first { if case .rejected(_, "handshake timed out", _) = $0 { true } else { false } }
        #expect(refused != nil)
        await target.stop()
    }

    /// "sends a PING after 20 seconds without sending anything"
    @Test func silentLinkGetsAKeepalivePing() async throws {
        let target = try await TargetNode { $0.keepaliveInterval = .milliseconds(100) }
        let client = try target.linkedClient()
        var sawPing = false
        while !sawPing, let plaintext = try client.nextPlaintext() {
            if case .ping = plaintext { sawPing = true }
        }
        #expect(sawPing)
        await target.stop()
    }

    /// "may close a connection that has been silent for 60 seconds": BYE 4.
    @Test func silentPeerIsClosedAsIdle() async throws {
        let target = try await TargetNode { $0.idleTimeout = .milliseconds(300) }
        let client = try target.linkedClient()
        #expect(try client.expectByeThenClose() == .idle)
        await target.stop()
    }

    // MARK: Envelopes (PROTOCOL.md 6)

    /// Sends `envelope` as a MESSAGE, then checks the link is kept (the PING after it is answered,
    /// which the node sends only after it has acted on the envelope) and nothing was shown.
    private func expectDroppedKeepingTheLink(_ envelope: [UInt8]) async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        try client.send(.message(envelope: envelope))
        try client.ping()
        #expect(target.events.messages.isEmpty)
        // Still a working link: a valid envelope after it is shown.
        try client.send(.message(envelope: target.envelope(text: "after").encoded()))
        let shown = await target.events.first { if case .message = $0 { true } else { false } }
        guard case .message(let message) = shown else {
            Issue.record("the valid envelope after the dropped one was not shown")
            return await target.stop()
        }
        #expect(message.text == "after")
        #expect(target.events.messages.count == 1)
        await target.stop()
    }

    @Test(arguments: [
        [],
        [1, 2, 3],
        [0x01, 0x01] + [UInt8](repeating: 0, count: 40),
    ] as [[UInt8]])
    func malformedEnvelopeIsDroppedKeepingTheLink(bytes: [UInt8]) async throws {
        try await expectDroppedKeepingTheLink(bytes)
    }

    @Test func truncatedAndOverlongEnvelopesAreDroppedKeepingTheLink() async throws {
        let author = SigningPrivateKey()
        let valid = try Envelope.signed(kind: .room, by: author, seq: 1, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
                                        nickname: "x", room: "general", recipient: nil, body: Array("hi".utf8)).encoded()
        try await expectDroppedKeepingTheLink(Array(valid.dropLast()))
        try await expectDroppedKeepingTheLink(valid + [0])
    }

    @Test func envelopeWithABadSignatureIsDroppedKeepingTheLink() async throws {
        let author = SigningPrivateKey()
        var bytes = try Envelope.signed(kind: .room, by: author, seq: 1, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
                                        nickname: "x", room: "general", recipient: nil, body: Array("forged".utf8)).encoded()
        bytes[bytes.count - 10] ^= 0x01 // inside the signature
        try await expectDroppedKeepingTheLink(bytes)
    }

    @Test func envelopeSignedByAnotherKeyIsDroppedKeepingTheLink() async throws {
        let author = SigningPrivateKey(), impostor = SigningPrivateKey()
        let envelope = try Envelope.signed(kind: .room, by: author, seq: 1, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
                                           nickname: "x", room: "general", recipient: nil, body: Array("forged".utf8))
        try await expectDroppedKeepingTheLink(envelope.signedBytes + impostor.signature(for: envelope.signedBytes) + [0])
    }

    @Test(arguments: [UInt8(0), 3, 0xFF])
    func envelopeOfAReservedKindIsDroppedKeepingTheLink(kind: UInt8) async throws {
        let author = SigningPrivateKey()
        let envelope = try Envelope.signed(kind: .room, by: author, seq: 1, timestamp: UInt64(Date().timeIntervalSince1970 * 1000),
                                           nickname: "x", room: "general", recipient: nil, body: Array("reserved".utf8))
        try await expectDroppedKeepingTheLink(resigned(envelope, kind: kind, by: author))
    }

    @Test func moreThanAHundredInvalidEnvelopesInAMinuteIsByeThree() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        for index in 0..<100 { try client.send(.message(envelope: [UInt8(index)])) }
        // A hundred is the limit, not over it.
        try client.ping()
        try client.send(.message(envelope: [0xFF]))
        #expect(try client.expectByeThenClose() == .tooManyInvalidEnvelopes)
        #expect(target.events.messages.isEmpty)
        let down = await target.events.first { if case .linkDown("alice", _) = $0 { true } else { false } }
        #expect(down == .linkDown(peer: "alice", reason: "closed by us: too many invalid envelopes"))
        await target.stop()
    }

    @Test func validEnvelopeIsShownOnceAndItsRepeatIsDropped() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        let envelope = try target.envelope(text: "hello mesh")
        try client.send(.message(envelope: envelope.encoded()))
        let shown = await target.events.first { if case .message = $0 { true } else { false } }
        #expect(shown == .message(ShownMessage(
            id: envelope.id, kind: .room, room: "general", from: "tester", author: target.alice.publicKey, peer: "alice",
            seq: 1, timestamp: envelope.timestamp, hops: 0, text: "hello mesh")))
        try client.send(.message(envelope: envelope.encoded()))
        // The same id with another hop count is the same message too.
        try client.send(.message(envelope: envelope.withHops(3).encoded()))
        try client.ping()
        #expect(target.events.messages.count == 1)
        await target.stop()
    }

    @Test func envelopeTenMinutesAheadIsShownOnlyOnceTheClockPassesIt() async throws {
        let target = try await TargetNode()
        let client = try target.linkedClient()
        let start = target.clock.now
        let ahead = try target.envelope(text: "from the future", timestamp: start + 600_000)
        try client.send(.message(envelope: ahead.encoded()))
        try client.send(.message(envelope: ahead.encoded()))
        try client.ping()
        #expect(target.events.messages.isEmpty)
        // Held, not counted as invalid: a valid envelope on the same link is still shown.
        let now = try target.envelope(seq: 2, text: "present")
        try client.send(.message(envelope: now.encoded()))
        let present = await target.events.first { if case .message(let m) = $0 { m.text == "present" } else { false } }
        #expect(present != nil)

        // The node's clock reaches the envelope's timestamp; its once-a-second tick releases it.
        target.clock.now = start + 600_001
        let released = await target.events.first { if case .message(let m) = $0 { m.id == ahead.id } else { false } }
        #expect(released != nil)
        // Sent again now: already stored, not shown twice.
        try client.send(.message(envelope: ahead.encoded()))
        try client.ping()
        #expect(target.events.messages.filter { $0.id == ahead.id }.count == 1)
        #expect(target.events.messages.count == 2)
        await target.stop()
    }

    // MARK: Duplicate links (PROTOCOL.md 4)

    @Test func samePeerDialingTwiceKeepsTheNewerAndSaysByeOneOnTheOlder() async throws {
        let target = try await TargetNode()
        let older = try target.linkedClient()
        let newer = try target.linkedClient()
        #expect(try older.expectByeThenClose() == .duplicateConnection)
        try newer.ping()
        // The newer link is the one the node uses: a message over it is shown.
        try newer.send(.message(envelope: target.envelope(text: "over the newer link").encoded()))
        let shown = await target.events.first { if case .message = $0 { true } else { false } }
        #expect(shown != nil)
        let linkUps = target.events.all.filter { if case .linkUp = $0 { true } else { false } }
        #expect(linkUps.count == 1)
        await target.stop()
    }

    // MARK: Survival

    @Test func nodeSurvivesEveryAttackAndStillLinksAFreshClient() async throws {
        // Dozens of attacks from one address: the per-source handshake rate (LimitsHostileTests) is
        // raised here so that every attack reaches the parsers this test is about.
        let target = try await TargetNode { $0.limits.handshakeBurstPerSource = 10_000 }
        var silentCloses = 0
        func attack(_ bytes: [UInt8]) throws {
            let client = try WireClient(port: target.port)
            try client.send(bytes)
            if try client.readUntilClosed().isEmpty { silentCloses += 1 }
        }
        let good = Preamble(suite: .ikChaChaPolyBLAKE2b).encoded()
        try attack(preamble(magic: Array("HSEM".utf8)))
        try attack(preamble(version: 2))
        try attack(preamble(reserved: [0, 1]))
        for suite: UInt8 in [0, 3, 4, 5, 0xFF] { try attack(preamble(suite: suite)) }
        try attack(good + [0, 0])
        try attack(good + Framing.frame(SecureRandom.bytes(count: 150)))
        try attack(good + Framing.frame(SecureRandom.bytes(count: 1)))
        try attack(good + Framing.frame(SecureRandom.bytes(count: 65535)))
        #expect(silentCloses == 12)

        // A half-sent preamble and a half-sent frame, left dangling while the rest goes on.
        let dangling1 = try WireClient(port: target.port)
        try dangling1.send(Array(good.prefix(5)))
        let dangling2 = try WireClient(port: target.port)
        try dangling2.send(good + [0xFF, 0xFF, 1, 2, 3])

        let stranger = try WireClient(port: target.port)
        #expect(throws: HarnessFailure.self) { try stranger.handshake(as: SigningPrivateKey(), to: target.node.key) }

        let hostile = try target.linkedClient()
        let replay = try WireClient(port: target.port)
        try replay.send(hostile.opening)
        #expect(try replay.readUntilClosed() == [])
        try hostile.sendPlaintextBytes([0x55, 1, 2])
        for index in 0..<101 { try hostile.send(.message(envelope: [UInt8(index)])) }
        #expect(try hostile.expectByeThenClose() == .tooManyInvalidEnvelopes)
        let broken = try target.linkedClient()
        try broken.sendPlaintextBytes([])
        #expect(try broken.expectByeThenClose() == .protocolError)

        // Bob, pinned and polite, still links and is heard.
        let fresh = try target.linkedClient(as: target.bob)
        let envelope = try target.envelope(by: target.bob, text: "still here")
        try fresh.send(.message(envelope: envelope.encoded()))
        let shown = await target.events.first { if case .message(let m) = $0 { m.id == envelope.id } else { false } }
        guard case .message(let message) = shown else {
            Issue.record("the fresh client's message was not shown")
            return await target.stop()
        }
        #expect(message.text == "still here" && message.peer == "bob")
        #expect(target.events.messages.count == 1)
        let bobUp = await target.events.first { if case .linkUp("bob", _, _, _, _) = $0 { true } else { false } }
        #expect(bobUp != nil)
        dangling1.disconnect()
        dangling2.disconnect()
        await target.stop()
    }
}
