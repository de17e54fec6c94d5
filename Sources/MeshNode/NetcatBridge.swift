import Logging
import MeshCrypto
import MeshWire
import NIOCore
import NIOPosix

/// The netcat bridge: a second listener where each connection carries one `openssl enc` message
/// from the tutorials' sender (`echo "$m" | openssl enc ... | nc -N HOST PORT`), which the node
/// posts into its current room; and, with a forward address, every room message shown here sent
/// on to the tutorials' receiver (docs/netcat-bridge.md).
///
/// Lives on the node's loop, like `NodeCore`; decryption runs on NIO's thread pool because
/// PBKDF2 takes milliseconds to seconds depending on the iteration count.
final class NetcatBridge {
    /// What bridged text starts with, so people at every node see it came from the netcat side:
    /// the node signs it, but the node cannot vouch for who typed it.
    static let marker = "[netcat] "
    /// The largest room text (PROTOCOL.md 6), less the marker: what one bridged message may say.
    static let maximumTextBytes = WireBounds.roomBodyBytes.upperBound - marker.utf8.count
    /// The most a connection may send: openssl's output for the largest text plus `echo`'s newline,
    /// with a carriage return allowed on every line. A connection sending more is cut.
    static let maximumConnectionBytes: Int = {
        let text = OpenSSLEnc.encodedByteCount(plaintextByteCount: maximumTextBytes + 1)
        return text + text / OpenSSLEnc.lineLength + 1
    }()
    /// A connection must deliver its message within this time; `nc -N` closes as soon as openssl is done.
    static let readTimeout: TimeAmount = .seconds(10)
    /// Connections read at once; more are closed on arrival, so strangers cannot pile up buffers.
    static let maximumOpenConnections = 16

    let configuration: NetcatBridgeConfiguration
    private let core: NodeCore
    private var listener: Channel?
    private var openConnections = 0
    private var forwarder: NetcatForwarder?

    private init(configuration: NetcatBridgeConfiguration, core: NodeCore) {
        self.configuration = configuration
        self.core = core
    }

    /// Binds the bridge's listener on the node's loop, hooks room messages for forwarding, and
    /// says where it listens (the real port when 0 was asked for) in a `netcat-bridge` event.
    static func start(configuration: NetcatBridgeConfiguration, core: NIOLoopBound<NodeCore>) async throws -> NIOLoopBound<NetcatBridge> {
        let loop = core.eventLoop
        let bridge = try await loop.submit {
            NIOLoopBound(NetcatBridge(configuration: configuration, core: core.value), eventLoop: loop)
        }.get()
        let listener: Channel
        do {
            listener = try await ServerBootstrap(group: loop)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                // `nc -N` shuts down its sending side and waits: end of input is the end of the message.
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try bridge.value.accept(channel)
                    }
                }
                .bind(host: configuration.listen.host, port: configuration.listen.port).get()
        } catch {
            throw NodeStartError(description: "Cannot listen for netcat on \(configuration.listen): \(NodeCore.describe(error)); choose another --netcat-listen HOST:PORT.")
        }
        let bound = HostPort(host: configuration.listen.host, port: listener.localAddress?.port ?? configuration.listen.port)
        try await loop.submit { bridge.value.started(listener: listener, bound: bound) }.get()
        return bridge
    }

    private func started(listener: Channel, bound: HostPort) {
        self.listener = listener
        if let address = configuration.forward {
            let forwarder = NetcatForwarder(address: address, passphrase: configuration.passphrase, iterations: configuration.iterations,
                                            eventLoop: core.eventLoop, emit: { [weak core] in core?.emit($0) })
            self.forwarder = forwarder
            // Everything shown here in the current room goes out; what came in through this bridge does
            // not (NodeCore.postBridged skips the hook), so two bridged chats cannot echo forever.
            core.onRoomMessage = { [weak core, weak forwarder] message in
                guard let core, let forwarder, message.room == core.room else { return }
                forwarder.enqueue(Array("\(message.from): \(message.text)\n".utf8))
            }
        }
        core.emit(.netcatBridge(listen: bound.description, forward: configuration.forward?.description))
    }

    /// Stops listening and forwarding; connections being read are closed.
    func stop() -> EventLoopFuture<Void> {
        forwarder?.stop()
        core.onRoomMessage = nil
        return listener?.close() ?? core.eventLoop.makeSucceededVoidFuture()
    }

    // MARK: Inbound

    private func accept(_ channel: Channel) throws {
        let remote = channel.remoteAddress.map(Self.describe) ?? "an unknown address"
        guard openConnections < Self.maximumOpenConnections else {
            core.logger.debug("netcat connection refused: too many open", metadata: ["netcat.remote": "\(remote)"])
            channel.close(promise: nil)
            return
        }
        openConnections += 1
        channel.closeFuture.assumeIsolated().whenComplete { [weak self] _ in self?.openConnections -= 1 }
        let handler = NetcatMessageReader(maximumBytes: Self.maximumConnectionBytes, timeout: Self.readTimeout) { [weak self] outcome in
            self?.finished(outcome, from: remote)
        }
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    private func finished(_ outcome: NetcatMessageReader.Outcome, from remote: String) {
        switch outcome {
        case .message(let bytes):
            decrypt(bytes, from: remote)
        case .tooLong:
            core.emit(.error(message: "A netcat connection from \(remote) sent more than one message may be (\(Self.maximumConnectionBytes) bytes); cut and dropped."))
        case .timedOut:
            core.emit(.error(message: "A netcat connection from \(remote) did not finish its message within \(NodeCore.seconds(Self.readTimeout)); cut and dropped."))
        case .lost:
            core.logger.debug("netcat connection lost before end of input", metadata: ["netcat.remote": "\(remote)"])
        }
    }

    private func decrypt(_ bytes: [UInt8], from remote: String) {
        let passphrase = configuration.passphrase, iterations = configuration.iterations
        NIOThreadPool.singleton.runIfActive(eventLoop: core.eventLoop) { () -> Result<[UInt8], OpenSSLEncError> in
            Result { () throws(OpenSSLEncError) in try OpenSSLEnc.decrypt(bytes, passphrase: passphrase, iterations: iterations) }
        }.assumeIsolated().whenComplete { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(.success(let plaintext)):
                self.post(plaintext, from: remote)
            case .success(.failure(.malformed)):
                self.drop(from: remote, "is not `openssl enc -base64` output")
            case .success(.failure(.decryptionFailed)):
                self.drop(from: remote, Self.didNotDecrypt)
            case .failure:
                break // the thread pool is shutting down with the node
            }
        }
    }

    private func post(_ plaintext: [UInt8], from remote: String) {
        // `echo` ends the message with a newline; it is not part of what was said.
        var body = plaintext[...]
        if body.last == UInt8(ascii: "\n") { body = body.dropLast() }
        if body.last == UInt8(ascii: "\r") { body = body.dropLast() }
        // CBC has no MAC: about one wrong password in 256 gives valid padding and garbage. Garbage
        // is not UTF-8 (but for a vanishing chance), so it is reported as what it almost surely is.
        guard let text = String(validating: body, as: UTF8.self) else { return drop(from: remote, Self.didNotDecrypt) }
        guard !text.isEmpty else { return drop(from: remote, "is empty") }
        guard text.utf8.count <= Self.maximumTextBytes else { return drop(from: remote, "is longer than \(Self.maximumTextBytes) bytes") }
        do {
            try core.postBridged(Self.marker + text)
        } catch {
            core.emit(.error(message: "Could not post a netcat message from \(remote): \(error)"))
        }
    }

    private static let didNotDecrypt = "did not decrypt to text with the bridge's passphrase and iteration count"

    private func drop(from remote: String, _ why: String) {
        core.emit(.error(message: "A netcat message from \(remote) \(why); dropped."))
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return HostPort(host: ip, port: port).description
    }
}

/// Reads one netcat message: every byte until the sender ends its input, bounded in size and
/// in time. Reports once, then closes the connection.
final class NetcatMessageReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// How a connection ended.
    enum Outcome: Equatable {
        /// The sender ended its input; these are all the bytes it sent.
        case message([UInt8])
        /// More than the bound arrived; what was read is dropped.
        case tooLong
        /// The sender did not end its input in time.
        case timedOut
        /// The connection closed without an orderly end of input (a reset, or the node stopping).
        case lost
    }

    private let maximumBytes: Int
    private let timeout: TimeAmount
    private let finished: (Outcome) -> Void
    private var received = ByteBuffer()
    private var done = false
    private var deadline: Scheduled<Void>?

    init(maximumBytes: Int, timeout: TimeAmount, finished: @escaping (Outcome) -> Void) {
        self.maximumBytes = maximumBytes
        self.timeout = timeout
        self.finished = finished
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            self?.finish(.timedOut, context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var bytes = unwrapInboundIn(data)
        guard received.readableBytes + bytes.readableBytes <= maximumBytes else { return finish(.tooLong, context) }
        received.writeBuffer(&bytes)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            finish(.message(Array(received.readableBytesView)), context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.lost, context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(.lost, context)
    }

    private func finish(_ outcome: Outcome, _ context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        deadline?.cancel()
        received = ByteBuffer()
        finished(outcome)
        context.close(promise: nil)
    }
}
