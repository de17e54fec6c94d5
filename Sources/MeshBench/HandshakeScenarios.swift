import Foundation
import MeshCrypto
import MeshHarness
import MeshNode
import MeshWire

/// The bench as a Noise IK initiator (the node's own `InitiatorHandshake`), dialing a node that pinned it.
struct BenchInitiator {
    /// Made once, as a node makes its own: both derive the keys a handshake needs only once.
    let identity: LinkIdentity
    let nodeKey: SigningPublicKey
    let nodeStaticKey: KeyAgreementPublicKey
    let port: Int

    init(identity: SigningPrivateKey, nodeKey: SigningPublicKey, port: Int) throws {
        self.identity = LinkIdentity(signingKey: identity, nickname: "bench", listenPort: 0, preSharedKey: nil)
        self.nodeKey = nodeKey
        nodeStaticKey = try nodeKey.keyAgreementKey()
        self.port = port
    }

    /// How long the bench waits for message 2 before it calls the handshake failed.
    static let answerTimeoutSeconds = 10.0

    /// Connects and runs the handshake to a verified message 2, then sends the PING that makes the
    /// node count the link as established (PROTOCOL.md 4). Returns the open link.
    func connect(from source: String? = nil) throws -> WireClient {
        let client = try WireClient(port: port, from: source, timeout: Self.answerTimeoutSeconds, noDelay: true)
        try client.handshake(as: identity, to: nodeKey, nodeStaticKey: nodeStaticKey)
        // "Right after the handshake the initiator sends a PING."
        try client.send(.ping(token: 1))
        return client
    }
}

extension NodeScenarios {
    /// Concurrent handshakes in flight, each from its own identity so that the node's
    /// one-link-per-peer rule and replay check see an ordinary sequence of reconnects.
    static let handshakeClients = 16

    /// `handshakes_per_s`: IK handshakes completed (message 2 verified) per second against one node,
    /// the bench dialing from `handshakeClients` threads; each link is then closed with BYE 0.
    /// Each handshake comes from its own loopback address, as from many peers: the node admits only a
    /// few handshakes a second from one address (docs/limits.md), which is what it should do.
    func handshakes() throws -> [Metric] {
        let identities = (0..<Self.handshakeClients).map { _ in SigningPrivateKey() }
        let home = NodeHome(explicit: workspace.home("hs"))
        for (index, identity) in identities.enumerated() {
            try home.addPeer(PinnedPeer(name: "bench\(index)", key: identity.publicKey, address: nil))
        }
        let node = try BenchNode(binary: binary, name: "hs", home: home.directory)
        defer { node.stop() }
        let ready = try node.ready()
        let completed = Shared(0)
        let failure = Shared<String?>(nil)
        let duration = sizes.handshakeSeconds
        let start = Monotonic.now()
        let deadline = start + UInt64(duration * 1e9)
        let sources = Shared(0)
        onThreads(identities.count) { index in
            guard let initiator = try? BenchInitiator(identity: identities[index], nodeKey: ready.key, port: ready.port) else {
                failure.store("the node's key has no X25519 form")
                return
            }
            while Monotonic.now() < deadline {
                do {
                    let source = sources.update { number -> Int in number += 1; return number }
                    let client = try initiator.connect(from: Self.loopbackSource(source))
                    completed.update { $0 += 1 }
                    try? client.send(.bye(reason: .normal, text: ""))
                    client.disconnect()
                } catch {
                    failure.store("\(error)")
                    return
                }
            }
        }
        let elapsed = Monotonic.seconds(from: start, to: Monotonic.now())
        if let failure = failure.load() { throw BenchFailure("a handshake failed: \(failure)") }
        return [Metric("handshakes_per_s", Double(completed.load()) / elapsed, "1/s", goal: ">= 3000",
                       limit: "handshake_crypto_bound_per_s", ratioName: "handshakes_ratio_to_crypto_bound",
                       note: "\(Self.handshakeClients) in flight, both ends here")]
    }

    /// The `number`th distinct loopback address from 127.1.0.1 on (about 8 million of them).
    static func loopbackSource(_ number: Int) -> String {
        "127.\(1 + (number >> 16) % 254).\((number >> 8) & 0xFF).\(number & 0xFF)"
    }

    /// `rss_per_link_KiB`: one node's resident set with `rssLinks` links open (the bench's own
    /// in-process initiators), minus the same node's before them, per link.
    func rssPerLink() throws -> [Metric] {
        let identities = (0..<sizes.rssLinks).map { _ in SigningPrivateKey() }
        let home = NodeHome(explicit: workspace.home("rss"))
        for (index, identity) in identities.enumerated() {
            try home.addPeer(PinnedPeer(name: "link\(index)", key: identity.publicKey, address: nil))
        }
        let node = try BenchNode(binary: binary, name: "rss", home: home.directory)
        defer { node.stop() }
        let ready = try node.ready()
        Thread.sleep(forTimeInterval: Self.settleSeconds)
        guard let before = node.residentKiB else { throw BenchFailure("no VmRSS for the node") }
        var open: [WireClient] = []
        for (index, identity) in identities.enumerated() {
            let initiator = try BenchInitiator(identity: identity, nodeKey: ready.key, port: ready.port)
            open.append(try initiator.connect(from: Self.loopbackSource(index + 1)))
        }
        try node.waitFor(count: identities.count, of: "link-up")
        Thread.sleep(forTimeInterval: Self.settleSeconds)
        guard let after = node.residentKiB else { throw BenchFailure("no VmRSS for the node") }
        open.forEach { $0.disconnect() }
        return [Metric("rss_per_link_KiB", (after - before) / Double(identities.count), "KiB",
                       note: "\(identities.count) links, idle")]
    }

    /// How long a node is left alone before its memory is read, so start-up work has settled.
    static let settleSeconds = 1.0

    /// `startup_ms` (spawn to the `ready` event, median, on a home that already has its identity
    /// and store) and `idle_rss_MiB` (a started node with no peers, after settling).
    func startupAndIdle() throws -> [Metric] {
        let path = workspace.home("startup")
        let first = try BenchNode(binary: binary, name: "s", home: path)
        _ = try first.ready()
        first.stop()
        var samples: [Double] = []
        var idle: Double?, idlePrivate: Double?
        for sample in 0..<sizes.startupSamples {
            let node = try BenchNode(binary: binary, name: "s", home: path)
            defer { node.stop() }
            let ready = try node.ready()
            samples.append(Double(ready.at - node.spawnedAt) / 1e6)
            if sample == sizes.startupSamples - 1 {
                Thread.sleep(forTimeInterval: Self.settleSeconds)
                idle = node.residentKiB
                idlePrivate = NodeChild.memoryKiB("Private_Dirty", of: node.pid).map(Double.init)
            }
        }
        guard let idle, let idlePrivate else { throw BenchFailure("no VmRSS or Private_Dirty for the idle node") }
        return [
            Metric("startup_ms", samples.percentile(50)!, "ms", goal: "<= 150", note: "median of \(samples.count) starts"),
            Metric("idle_rss_MiB", idle / 1024, "MiB", goal: "<= 20", note: "no peers, after \(Int(Self.settleSeconds)) s"),
            Metric("idle_private_dirty_MiB", idlePrivate / 1024, "MiB",
                   note: "of it, what only this node holds; the rest is shared code"),
        ]
    }
}
