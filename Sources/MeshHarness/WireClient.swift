import Foundation
import MeshCrypto
import MeshNode
import MeshNoise
import MeshWire

/// A blocking client that speaks PROTOCOL.md by hand on a `LoopbackSocket`, or breaks it on purpose:
/// the tests' hostile peer and the bench's initiator.
///
/// One caller owns one client, so nothing here is shared between threads.
public final class WireClient {
    /// The default hang guard, in seconds.
    public static let defaultTimeout = 5.0

    private let socket: LoopbackSocket
    private var decoder = FrameDecoder()
    private var sawEndOfStream = false
    /// The transport keys once `handshake` completed (initiator orientation).
    private var transport: TransportState?
    /// The exact bytes `handshake` sent: the preamble and the framed message 1.
    public private(set) var opening: [UInt8] = []
    /// Set by `startHandshake` until `finishHandshake` reads message 2.
    private var awaitingMessage2: InitiatorHandshake?

    /// Connects to 127.0.0.1:`port`; the parameters are `LoopbackSocket.connect`'s.
    public init(port: Int, from source: String? = nil, timeout: Double = WireClient.defaultTimeout,
                receiveBuffer: Int32? = nil, noDelay: Bool = false) throws {
        socket = try LoopbackSocket.connect(port: port, from: source, timeout: timeout, receiveBuffer: receiveBuffer, noDelay: noDelay)
    }

    /// Closes the socket now (the node sees end of stream).
    public func disconnect() { socket.close() }

    // MARK: Raw bytes

    /// Writes all of `bytes`.
    public func send(_ bytes: [UInt8]) throws { try socket.send(bytes) }

    /// The next bytes from the socket, or nil at end of stream.
    private func receiveChunk() throws -> [UInt8]? {
        if sawEndOfStream { return nil }
        let chunk = try socket.receive()
        if chunk.isEmpty { sawEndOfStream = true }
        return chunk.isEmpty ? nil : chunk
    }

    /// Everything the node sends from now until it closes the connection (not yet decoded bytes included).
    public func readUntilClosed() throws -> [UInt8] {
        var received = decoder.nextUnframed(count: decoder.bufferedByteCount) ?? []
        while let chunk = try receiveChunk() { received += chunk }
        return received
    }

    /// The next frame's payload, or nil if the node closed first.
    public func nextFrame() throws -> [UInt8]? {
        while true {
            if let frame = try decoder.next() { return frame }
            guard let chunk = try receiveChunk() else {
                guard decoder.bufferedByteCount == 0 else { throw HarnessFailure("the node closed in the middle of a frame") }
                return nil
            }
            decoder.append(chunk)
        }
    }

    // MARK: Protocol

    /// Runs PROTOCOL.md 4 as the initiator `identity` dialing the node `nodeKey` (whose X25519 form
    /// `nodeStaticKey` a caller dialing often derives once); throws if message 2 does not come or
    /// does not complete the handshake.
    public func handshake(as identity: LinkIdentity, to nodeKey: SigningPublicKey, nodeStaticKey: KeyAgreementPublicKey? = nil,
                          timestamp: UInt64 = HandshakeTimestamps.next()) throws {
        try startHandshake(as: identity, to: nodeKey, nodeStaticKey: nodeStaticKey, timestamp: timestamp)
        try finishHandshake()
    }

    /// `handshake` as the key `identity` with the display name `nickname`.
    public func handshake(as identity: SigningPrivateKey, nickname: String = "tester", to nodeKey: SigningPublicKey,
                          timestamp: UInt64 = HandshakeTimestamps.next()) throws {
        try handshake(as: Self.identity(identity, nickname: nickname), to: nodeKey, timestamp: timestamp)
    }

    /// The first half of `handshake`: sends the preamble and message 1 and returns without waiting
    /// for message 2, which `finishHandshake` reads.
    public func startHandshake(as identity: LinkIdentity, to nodeKey: SigningPublicKey, nodeStaticKey: KeyAgreementPublicKey? = nil,
                               timestamp: UInt64 = HandshakeTimestamps.next()) throws {
        var initiator = try InitiatorHandshake(identity: identity, pinnedPeer: nodeKey, pinnedStaticKey: nodeStaticKey,
                                               cipher: .chaChaPoly, timestamp: timestamp)
        opening = try initiator.start()
        try send(opening)
        awaitingMessage2 = initiator
    }

    /// `startHandshake` as the key `identity` with the display name `nickname`.
    public func startHandshake(as identity: SigningPrivateKey, nickname: String = "tester", to nodeKey: SigningPublicKey) throws {
        try startHandshake(as: Self.identity(identity, nickname: nickname), to: nodeKey)
    }

    /// The second half of `handshake`: reads message 2 and completes the handshake.
    public func finishHandshake() throws {
        guard let initiator = awaitingMessage2 else { throw HarnessFailure("no handshake started") }
        awaitingMessage2 = nil
        guard let message2 = try nextFrame() else { throw HarnessFailure("the node closed instead of sending message 2") }
        transport = try initiator.receive(message2: message2).transport
    }

    /// Whether the node sent anything (or closed) within `seconds`; nothing is read.
    public func hasInput(within seconds: Double) -> Bool {
        decoder.bufferedByteCount > 0 || sawEndOfStream || socket.hasInput(within: seconds)
    }

    private static func identity(_ key: SigningPrivateKey, nickname: String) -> LinkIdentity {
        LinkIdentity(signingKey: key, nickname: nickname, listenPort: 0, preSharedKey: nil)
    }

    /// Encrypts `plaintext` (any bytes, even ones no `Plaintext` encodes) and sends it as one frame.
    public func sendPlaintextBytes(_ plaintext: [UInt8]) throws {
        try send(Framing.frame(encrypt(plaintext)))
    }

    /// Encrypts `plaintext` with the transport keys.
    public func encrypt(_ plaintext: [UInt8]) throws -> [UInt8] {
        // In place: a copy of the transport would have to key a CipherState of its own for every frame.
        guard transport != nil else { throw HarnessFailure("no handshake yet") }
        return try transport!.encrypt(plaintext)
    }

    /// Sends one plaintext.
    public func send(_ plaintext: Plaintext) throws {
        try sendPlaintextBytes(plaintext.encoded())
    }

    /// The next plaintext from the node, or nil if it closed first.
    public func nextPlaintext() throws -> Plaintext? {
        guard let frame = try nextFrame() else { return nil }
        guard transport != nil else { throw HarnessFailure("a frame before the handshake completed") }
        return try Plaintext.parse(transport!.decrypt(frame))
    }

    /// Sends a PING and waits for the PONG with the same token, skipping anything else the node
    /// sends in between; throws if the node closes or says BYE instead.
    public func ping(token: UInt64 = SecureRandom.uint64()) throws {
        try send(.ping(token: token))
        while let plaintext = try nextPlaintext() {
            switch plaintext {
            case .pong(let echoed) where echoed == token:
                return
            case .bye(let reason, let text):
                throw HarnessFailure("BYE \(reason) (\(text)) instead of a PONG")
            case .ping, .pong, .message, .unknown:
                continue
            }
        }
        throw HarnessFailure("the node closed instead of answering the PING")
    }

    /// Reads plaintexts until a BYE, then expects the node to close; returns the BYE's reason.
    /// Throws if the node closes without a BYE or sends anything after it.
    public func expectByeThenClose() throws -> ByeReason {
        while let plaintext = try nextPlaintext() {
            guard case .bye(let reason, _) = plaintext else { continue }
            let after = try readUntilClosed()
            guard after.isEmpty else { throw HarnessFailure("\(after.count) bytes after the BYE") }
            return reason
        }
        throw HarnessFailure("the node closed without a BYE")
    }
}

/// Handshake timestamps (ns since the epoch) strictly increasing across every client of the
/// process, as PROTOCOL.md 4 asks of an initiator. `lock` serialises `last`.
public enum HandshakeTimestamps {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var last: UInt64 = 0

    /// The larger of now and the last one + 1.
    public static func next() -> UInt64 {
        lock.withLock {
            last = max(UInt64(Date().timeIntervalSince1970 * 1e9), last + 1)
            return last
        }
    }
}
