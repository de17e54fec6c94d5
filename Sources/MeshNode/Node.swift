import Foundation
import Logging
import MeshCrypto
import MeshGossip
import MeshWire
import NIOCore
import NIOPosix

/// A mistake in how a node was started, said in one sentence (a port in use, a bad address).
public struct NodeStartError: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    public let description: String
}

/// A running MeshChat node: listener, dialers, links, gossip and the control socket.
///
/// All of its state lives on one event loop; these methods hop onto it.
public final class Node: Sendable {
    let core: NIOLoopBound<NodeCore>
    private let group: MultiThreadedEventLoopGroup
    private let listener: Channel
    private let control: Channel?
    private let netcat: NIOLoopBound<NetcatBridge>?
    private let home: NodeHome
    /// This node's peer key.
    public let key: SigningPublicKey
    /// The address the node listens on (with the real port when 0 was asked for).
    public let listenAddress: HostPort

    private init(core: NIOLoopBound<NodeCore>, group: MultiThreadedEventLoopGroup, listener: Channel, control: Channel?,
                 netcat: NIOLoopBound<NetcatBridge>?, key: SigningPublicKey, listenAddress: HostPort, home: NodeHome) {
        self.core = core
        self.netcat = netcat
        self.home = home
        self.group = group
        self.listener = listener
        self.control = control
        self.key = key
        self.listenAddress = listenAddress
    }

    /// Starts a node: loads the identity and trusted peers, listens, then dials every pinned peer
    /// with an address. `events` is called on the node's loop, in order; `eventsFlushed`, if given,
    /// once after each loop tick's events, so an output can write them together.
    public static func start(configuration: NodeConfiguration, identity: SigningPrivateKey,
                             store: MessageStore = InMemoryMessageStore(), storeWasLost: Bool = false, logger: Logger = Logger(label: "meshchat"),
                             clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) },
                             eventsFlushed: (@Sendable () -> Void)? = nil,
                             events: @escaping @Sendable (NodeEvent) -> Void) async throws -> Node {
        let home = configuration.home
        let trustedText = try home.peersText()
        let trusted: TrustedPeers
        do { trusted = try TrustedPeers(parsing: trustedText) } catch {
            throw HomeError("The trusted-peers file \(home.peersPath) has a mistake on \(error).")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        // The store moves to the node's loop here and is used only there from then on.
        nonisolated(unsafe) let store = store
        do {
            let bursts = EventBursts(loop: loop, events: events, burstEnded: eventsFlushed)
            let core = try await loop.submit {
                NIOLoopBound(NodeCore(configuration: configuration, identity: identity, trusted: trusted, trustedText: trustedText,
                                      store: store, storeWasLost: storeWasLost, eventLoop: loop, logger: logger, clock: clock,
                                      emit: bursts.emit), eventLoop: loop)
            }.get()
            let listener: Channel
            do {
                listener = try await ServerBootstrap(group: group)
                    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(ChannelOptions.backlog, value: 256)
                    .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                    .childChannelOption(ChannelOptions.writeBufferWaterMark, value: LinkBuffers.writeWaterMark)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let handler = LinkHandler(inboundFor: core.value)
                            core.value.accepted(handler)
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                    }
                    .bind(host: configuration.listen.host, port: configuration.listen.port).get()
            } catch {
                throw NodeStartError(description: Self.explainBindFailure(error, address: configuration.listen))
            }
            let bound = HostPort(host: configuration.listen.host, port: listener.localAddress?.port ?? configuration.listen.port)
            var control: Channel?
            if configuration.controlSocket {
                do {
                    control = try await ControlServer.bind(home: home, group: group, core: core)
                } catch {
                    try? await listener.close()
                    throw error
                }
            }
            var netcat: NIOLoopBound<NetcatBridge>?
            if let bridge = configuration.netcatBridge {
                do {
                    netcat = try await NetcatBridge.start(configuration: bridge, core: core)
                } catch {
                    try? await listener.close()
                    if let control {
                        try? await control.close()
                        unlink(home.controlSocketPath)
                    }
                    throw error
                }
            }
            try await loop.submit { core.value.start(listeningOn: bound) }.get()
            return Node(core: core, group: group, listener: listener, control: control, netcat: netcat,
                        key: identity.publicKey, listenAddress: bound, home: home)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Closes every link with BYE 6, stops listening and releases the loop.
    public func stop() async {
        let core = self.core
        try? await core.eventLoop.flatSubmit { core.value.stop() }.get()
        if let netcat { try? await core.eventLoop.flatSubmit { netcat.value.stop() }.get() }
        // Give the BYE frames a moment to leave before the sockets close under them.
        try? await core.eventLoop.scheduleTask(in: .milliseconds(50)) {}.futureResult.get()
        try? await listener.close()
        if let control {
            try? await control.close()
            unlink(home.controlSocketPath)
        }
        try? await group.shutdownGracefully()
    }

    /// Posts room text to `room`, or to the current room.
    public func post(_ text: String, room: String? = nil) async throws -> NodeEvent {
        let core = self.core
        return try await core.eventLoop.submit { try core.value.postRoom(text, room: room) }.get()
    }

    /// Posts room texts to the current room in one trip to the loop and one store commit, and
    /// calls `done` there with one outcome per text, in order (what `post` would have returned or
    /// thrown). No task waits for it: a script's reader thread hands texts straight to the loop,
    /// one thread wake-up fewer per message. Runs posted this way are carried out in call order.
    ///
    /// `done` runs after the links' flush that posting scheduled: the frames are on their sockets
    /// before the outcomes are reported, so writing the `sent` lines is not on a message's way to
    /// its peers (docs/performance.md 18).
    public func post(_ texts: [String], done: @escaping @Sendable ([Result<NodeEvent, any Error>]) -> Void) {
        let core = self.core
        core.eventLoop.execute {
            let outcomes = core.value.postRooms(texts)
            core.eventLoop.assumeIsolated().execute { done(outcomes) }
        }
    }

    /// Posts a direct message to the pinned peer `name`.
    public func postDirect(_ text: String, to name: String) async throws -> NodeEvent {
        let core = self.core
        return try await core.eventLoop.submit { try core.value.postDirect(text, toName: name) }.get()
    }

    /// Changes the room typed text goes to.
    public func join(_ room: String) async {
        let core = self.core
        try? await core.eventLoop.submit { core.value.join(room) }.get()
    }

    /// The node's state.
    public func status() async throws -> NodeStatus {
        let core = self.core
        return try await core.eventLoop.submit { core.value.status() }.get()
    }

    /// The latest stored messages, oldest first, shown as this node would show them.
    public func history(room: String?, limit: Int) async throws -> [ShownMessage] {
        let core = self.core
        return try await core.eventLoop.submit { try core.value.history(room: room, limit: limit) }.get()
    }

    /// Offers the file at `path` to the linked pinned peer `name`; returns the transfer id (hex)
    /// once it is offered. The transfer goes on in the background and reports `file-*` events.
    public func sendFile(to name: String, path: String) async throws -> String {
        let core = self.core
        return try await withCheckedThrowingContinuation { continuation in
            core.eventLoop.execute {
                core.value.files.send(toName: name, path: path) { result in
                    continuation.resume(with: result.map(\.hex).mapError { $0 as Error })
                }
            }
        }
    }

    /// Accepts, refuses or cancels the one file transfer whose id starts with `idPrefix` (or the
    /// only one there is); returns a sentence saying what was done.
    public func fileCommand(_ command: FileCommand, idPrefix: String?) async throws -> String {
        let core = self.core
        return try await core.eventLoop.submit { try core.value.files.command(command, idPrefix: idPrefix) }.get()
    }

    private static func explainBindFailure(_ error: Error, address: HostPort) -> String {
        if let error = error as? IOError, error.errnoCode == EADDRINUSE {
            return "Port \(address.port) is already in use on \(address.host); choose another with --listen HOST:PORT."
        }
        if let error = error as? IOError, error.errnoCode == EACCES {
            return "Not allowed to listen on port \(address.port); choose a port above 1023 with --listen HOST:PORT."
        }
        return "Cannot listen on \(address): \(NodeCore.describe(error))."
    }
}
