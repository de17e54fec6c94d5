import MeshCrypto
import MeshWire

/// N gossip engines wired by an undirected graph, exchanging envelope bytes through one FIFO queue
/// instead of sockets: the in-memory twin of the network (STYLE.md 10), for tests and benchmarks.
///
/// Every node has its own `InMemoryMessageStore`. Nothing runs by itself: the caller posts, then
/// calls `runUntilQuiet(now:)`, which delivers queued packets in the order they were sent.
public final class InMemoryMesh {
    /// An undirected link between two nodes, by index.
    public struct Link: Hashable, Sendable {
        /// The lower index.
        public let a: Int
        /// The higher index.
        public let b: Int

        /// A link between two distinct nodes; the order of the indices does not matter.
        public init(_ x: Int, _ y: Int) {
            precondition(x != y, "a node is not linked to itself")
            (a, b) = (min(x, y), max(x, y))
        }
    }

    /// Envelope bytes on their way from one node to another.
    public struct Packet: Sendable {
        /// The sending node's index.
        public let from: Int
        /// The receiving node's index.
        public let to: Int
        /// The encoded envelope.
        public let bytes: [UInt8]
    }

    /// One node of the mesh and what happened to it.
    public struct Node {
        /// The node's engine.
        public var engine: GossipEngine
        /// The node's store (also reachable as `engine.store`).
        public let store: InMemoryMessageStore
        /// How the node's engine hands bytes to its neighbours.
        public let transport: Transport
        /// What was delivered (shown) at this node, in order.
        public var deliveries: [Delivery] = []
        /// How many packets this node received from each neighbour.
        public var packetsReceived: [PeerID: Int] = [:]
        /// Every action other than send and deliver (drops, warnings, disconnects), in order.
        public var otherActions: [GossipAction] = []

        /// The node's identity.
        public var key: PeerID { engine.publicKey }
        /// How many packets this node received in all.
        public var totalPacketsReceived: Int { packetsReceived.values.reduce(0, +) }
    }

    /// The `PeerTransport` of one node: sends go into the mesh's queue, closes cut the link.
    public final class Transport: PeerTransport {
        private let owner: Int
        private unowned let mesh: InMemoryMesh

        init(owner: Int, mesh: InMemoryMesh) {
            self.owner = owner
            self.mesh = mesh
        }

        /// Queues the bytes for `peer`, which must be a linked neighbour.
        public func send(_ envelopeBytes: [UInt8], to peer: PeerID) {
            guard let to = mesh.index(of: peer), mesh.links.contains(Link(owner, to)) else {
                preconditionFailure("an engine sent to a node it is not linked to")
            }
            mesh.enqueue(Packet(from: owner, to: to, bytes: envelopeBytes))
        }

        /// Cuts the link to `peer` on both sides; packets already queued on it are lost.
        public func close(_ peer: PeerID, reason: ByeReason) {
            guard let other = mesh.index(of: peer) else { return }
            mesh.cut(Link(owner, other), reason: reason, by: owner)
        }
    }

    /// The nodes, by index.
    public private(set) var nodes: [Node] = []
    /// The links currently up.
    public private(set) var links: Set<Link>
    /// Links closed by a node, with the reason it gave, in order.
    public private(set) var closedLinks: [(link: Link, reason: ByeReason, by: Int)] = []
    /// Packets sent and not yet received, oldest first.
    public var queue: ArraySlice<Packet> { sent[head...] }
    /// Every packet sent; those before `head` have been taken off the queue. Kept whole
    /// until the queue empties, so taking the head is O(1).
    private var sent: [Packet] = []
    private var head = 0
    private var indexByKey: [PeerID: Int] = [:]

    /// `nodeCount` nodes with fresh identities and stores, linked by `links`.
    public init(nodeCount: Int, links: some Sequence<Link>, configuration: GossipConfiguration = .init()) {
        self.links = Set(links)
        precondition(self.links.allSatisfy { $0.b < nodeCount }, "a link names a node that does not exist")
        for index in 0..<nodeCount {
            let store = InMemoryMessageStore()
            let engine = GossipEngine(identity: SigningPrivateKey(), store: store, configuration: configuration)
            nodes.append(Node(engine: engine, store: store, transport: Transport(owner: index, mesh: self)))
            indexByKey[engine.publicKey] = index
        }
        for link in self.links {
            nodes[link.a].engine.linkUp(nodes[link.b].key)
            nodes[link.b].engine.linkUp(nodes[link.a].key)
        }
    }

    /// The index of the node with this identity.
    public func index(of key: PeerID) -> Int? { indexByKey[key] }

    /// The indices of a node's current neighbours.
    public func neighbours(of index: Int) -> [Int] {
        links.compactMap { $0.a == index ? $0.b : $0.b == index ? $0.a : nil }.sorted()
    }

    /// Posts a room message at node `index` and queues its sends.
    @discardableResult
    public func postRoom(from index: Int, text: String, room: String = "general", nickname: String = "node", now: UInt64) throws
        -> Envelope
    {
        let (envelope, actions) = try nodes[index].engine.postRoom(text: text, room: room, nickname: nickname, now: now)
        perform(actions, at: index)
        return envelope
    }

    /// Posts a direct message from node `index` to node `recipient` and queues its sends.
    @discardableResult
    public func postDirect(from index: Int, to recipient: Int, text: String, nickname: String = "node", now: UInt64) throws
        -> Envelope
    {
        let (envelope, actions) = try nodes[index].engine.postDirect(
            text: text, to: nodes[recipient].key, nickname: nickname, now: now)
        perform(actions, at: index)
        return envelope
    }

    /// Queues raw bytes as if node `from` had sent them to its neighbour `to` (for hostile input).
    public func inject(_ bytes: [UInt8], from: Int, to: Int) {
        enqueue(Packet(from: from, to: to, bytes: bytes))
    }

    /// Receives queued packets in FIFO order, queuing whatever they cause, until nothing is left or
    /// `packetLimit` packets were received. Returns how many were received. A packet whose link
    /// was cut while it was queued is lost, as on a closed connection.
    @discardableResult
    public func runUntilQuiet(now: UInt64, packetLimit: Int = 1_000_000) throws -> Int {
        var delivered = 0
        while head < sent.count, delivered < packetLimit {
            let packet = sent[head]
            head += 1
            if head == sent.count {
                sent.removeAll(keepingCapacity: true)
                head = 0
            }
            guard links.contains(Link(packet.from, packet.to)) else { continue }
            delivered += 1
            let sender = nodes[packet.from].key
            nodes[packet.to].packetsReceived[sender, default: 0] += 1
            let actions = try nodes[packet.to].engine.receive(packet.bytes, from: sender, now: now)
            perform(actions, at: packet.to)
        }
        return delivered
    }

    /// Ticks every node's engine at `now` and queues what that causes.
    public func tick(now: UInt64) throws {
        for index in nodes.indices {
            perform(try nodes[index].engine.tick(now: now), at: index)
        }
    }

    private func enqueue(_ packet: Packet) {
        sent.append(packet)
    }

    private func perform(_ actions: [GossipAction], at index: Int) {
        for action in nodes[index].transport.perform(actions) {
            switch action {
            case .deliver(let delivery): nodes[index].deliveries.append(delivery)
            case .send, .disconnect, .sequenceReused, .dropped: nodes[index].otherActions.append(action)
            }
        }
    }

    private func cut(_ link: Link, reason: ByeReason, by index: Int) {
        guard links.remove(link) != nil else { return }
        closedLinks.append((link, reason, index))
        nodes[link.a].engine.linkDown(nodes[link.b].key)
        nodes[link.b].engine.linkDown(nodes[link.a].key)
    }
}

extension InMemoryMesh {
    /// The links of a line: 0-1, 1-2, ..., (n-2)-(n-1).
    public static func line(nodeCount: Int) -> [Link] {
        (0..<max(nodeCount - 1, 0)).map { Link($0, $0 + 1) }
    }

    /// A random connected graph, the same for the same seed: a random spanning tree (each node
    /// joins a random earlier one) plus `extraLinkCount` distinct random links.
    public static func randomConnected(nodeCount: Int, extraLinkCount: Int, seed: UInt64) -> [Link] {
        let possible = nodeCount * (nodeCount - 1) / 2
        precondition(nodeCount >= 1 && nodeCount - 1 + extraLinkCount <= possible, "too many links for that many nodes")
        var generator = SplitMix64(seed: seed)
        var links: [Link] = []
        var seen: Set<Link> = []
        for node in 1..<max(nodeCount, 1) {
            let link = Link(node, Int.random(in: 0..<node, using: &generator))
            links.append(link)
            seen.insert(link)
        }
        while links.count < nodeCount - 1 + extraLinkCount {
            let x = Int.random(in: 0..<nodeCount, using: &generator)
            let y = Int.random(in: 0..<nodeCount, using: &generator)
            guard x != y, seen.insert(Link(x, y)).inserted else { continue }
            links.append(Link(x, y))
        }
        return links
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so a "random" graph is the
/// same on every run. Not for anything secret.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator that yields the same sequence for the same seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 pseudo-random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
