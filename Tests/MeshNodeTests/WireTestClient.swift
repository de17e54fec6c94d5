import Foundation
import MeshCrypto
import MeshNode
import MeshNoise
import MeshWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking POSIX TCP client that speaks PROTOCOL.md by hand, or breaks it on purpose.
///
/// Every call blocks; `SO_RCVTIMEO` is a hang guard (a node that never answers fails the test
/// after `receiveTimeout` seconds instead of hanging it), not a measurement. One test owns one
/// client, so nothing here is shared between threads.
final class WireTestClient {
    /// Something the test did not expect: a timeout, a frame that does not decrypt, a socket error.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The hang guard, in seconds.
    static let receiveTimeout = 5

    private var fd: Int32
    private var decoder = FrameDecoder()
    private var sawEndOfStream = false
    /// The transport keys once `handshake` completed (initiator orientation).
    private(set) var transport: TransportState?
    /// The exact bytes `handshake` sent: the preamble and the framed message 1.
    private(set) var opening: [UInt8] = []

    /// Connects to 127.0.0.1:`port`, from the loopback address `source` if given (another source IP
    /// on the same machine, for per-address limits). `receiveBuffer` shrinks the socket's receive
    /// buffer, so a client that does not read stops the node's writes sooner.
    init(port: Int, from source: String? = nil, receiveBuffer: Int32? = nil) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: Self.receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let code = errno
                close(fd)
                fd = -1
                throw Failure(description: "bind to \(source): errno \(code)")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            fd = -1
            throw Failure(description: "connect to port \(port): errno \(code)")
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Closes the socket now (the node sees end of stream).
    func disconnect() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    // MARK: Raw bytes

    /// Writes all of `bytes`.
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let sent = bytes[offset...].withUnsafeBytes { posixSend(fd, $0.baseAddress, $0.count, flags) }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += sent
        }
    }

    /// The next bytes from the socket, or nil at end of stream (a reset counts as one: the node closed).
    private func receiveChunk() throws -> [UInt8]? {
        if sawEndOfStream { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return Array(buffer[0..<count]) }
            if count == 0 || errno == ECONNRESET {
                sawEndOfStream = true
                return nil
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw Failure(description: "nothing from the node within \(Self.receiveTimeout) s (the node neither answered nor closed)")
            }
            throw Failure(description: "recv: errno \(errno)")
        }
    }

    /// Everything the node sends from now until it closes the connection (not yet decoded bytes included).
    func readUntilClosed() throws -> [UInt8] {
        var received = decoder.nextUnframed(count: decoder.bufferedByteCount) ?? []
        while let chunk = try receiveChunk() { received += chunk }
        return received
    }

    /// The next frame's payload, or nil if the node closed first.
    func nextFrame() throws -> [UInt8]? {
        while true {
            if let frame = try decoder.next() { return frame }
            guard let chunk = try receiveChunk() else {
                guard decoder.bufferedByteCount == 0 else {
                    throw Failure(description: "the node closed in the middle of a frame")
                }
                return nil
            }
            decoder.append(chunk)
        }
    }

    // MARK: Protocol

    /// Runs PROTOCOL.md 4 as the initiator `identity` dialing the node `nodeKey`; throws if message 2
    /// does not come or does not complete the handshake.
    func handshake(as identity: SigningPrivateKey, nickname: String = "tester", to nodeKey: SigningPublicKey,
                   timestamp: UInt64 = HandshakeTimestamps.next()) throws {
        var initiator = try InitiatorHandshake(
            identity: LinkIdentity(signingKey: identity, nickname: nickname, listenPort: 0, preSharedKey: nil),
            pinnedPeer: nodeKey, cipher: .chaChaPoly, timestamp: timestamp)
        opening = try initiator.start()
        try send(opening)
        guard let message2 = try nextFrame() else {
            throw Failure(description: "the node closed instead of sending message 2")
        }
        transport = try initiator.receive(message2: message2).transport
    }

    /// Encrypts `plaintext` (any bytes, even ones no `Plaintext` encodes) and sends it as one frame.
    func sendPlaintextBytes(_ plaintext: [UInt8]) throws {
        try send(Framing.frame(encrypt(plaintext)))
    }

    /// Encrypts `plaintext` with the transport keys.
    func encrypt(_ plaintext: [UInt8]) throws -> [UInt8] {
        // In place: a copy of the transport would have to key a CipherState of its own for every frame.
        guard transport != nil else { throw Failure(description: "no handshake yet") }
        return try transport!.encrypt(plaintext)
    }

    /// Sends one plaintext.
    func send(_ plaintext: Plaintext) throws {
        try sendPlaintextBytes(plaintext.encoded())
    }

    /// The next plaintext from the node, or nil if it closed first.
    func nextPlaintext() throws -> Plaintext? {
        guard let frame = try nextFrame() else { return nil }
        guard transport != nil else { throw Failure(description: "a frame before the handshake completed") }
        return try Plaintext.parse(transport!.decrypt(frame))
    }

    /// Sends a PING and waits for the PONG with the same token, skipping anything else the node
    /// sends in between; throws if the node closes or says BYE instead.
    func ping(token: UInt64 = SecureRandom.uint64()) throws {
        try send(.ping(token: token))
        while let plaintext = try nextPlaintext() {
            switch plaintext {
            case .pong(let echoed) where echoed == token:
                return
            case .bye(let reason, let text):
                throw Failure(description: "BYE \(reason) (\(text)) instead of a PONG")
            case .ping, .pong, .message, .unknown:
                continue
            }
        }
        throw Failure(description: "the node closed instead of answering the PING")
    }

    /// Reads plaintexts until a BYE, then expects the node to close; returns the BYE's reason.
    /// Throws if the node closes without a BYE or sends anything after it.
    func expectByeThenClose() throws -> ByeReason {
        while let plaintext = try nextPlaintext() {
            guard case .bye(let reason, _) = plaintext else { continue }
            let after = try readUntilClosed()
            guard after.isEmpty else { throw Failure(description: "\(after.count) bytes after the BYE") }
            return reason
        }
        throw Failure(description: "the node closed without a BYE")
    }
}

/// `send(2)`, which the client's own `send` methods shadow inside the class.
private func posixSend(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    #if canImport(Glibc)
    Glibc.send(fd, bytes, count, flags)
    #else
    Darwin.send(fd, bytes, count, flags)
    #endif
}

/// Handshake timestamps (ns since the epoch) strictly increasing across every client of the test
/// process, as PROTOCOL.md 4 asks of an initiator. `lock` serialises `last`.
enum HandshakeTimestamps {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var last: UInt64 = 0

    /// The larger of now and the last one + 1.
    static func next() -> UInt64 {
        lock.withLock {
            last = max(UInt64(Date().timeIntervalSince1970 * 1e9), last + 1)
            return last
        }
    }
}
