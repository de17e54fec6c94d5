import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// Many engines wired through `InMemoryMesh`: reach, the hop limit, relaying direct messages,
/// and the exact number of copies gossip costs.
@Suite struct MeshTests {
    /// Hop counts from `origin` to every node (breadth-first search over the mesh's links).
    func distances(in mesh: InMemoryMesh, from origin: Int) -> [Int?] {
        var distance = [Int?](repeating: nil, count: mesh.nodes.count)
        distance[origin] = 0
        var frontier = [origin]
        while !frontier.isEmpty {
            var next: [Int] = []
            for node in frontier {
                for neighbour in mesh.neighbours(of: node) where distance[neighbour] == nil {
                    distance[neighbour] = distance[node]! + 1
                    next.append(neighbour)
                }
            }
            frontier = next
        }
        return distance
    }

    @Test func aLineWithHopLimit3ReachesExactlyFourLinks() throws {
        let mesh = InMemoryMesh(nodeCount: 10, links: InMemoryMesh.line(nodeCount: 10),
                                configuration: .init(hopLimit: 3))
        let envelope = try mesh.postRoom(from: 0, text: "hello", now: t0)
        try mesh.runUntilQuiet(now: t0)
        // "hops: links crossed before this one": node k receives it with hops k-1, and node 4,
        // receiving hops 3, would forward hops 4, which is above the limit.
        for (index, node) in mesh.nodes.enumerated() {
            let expected: [Envelope] = (1...4).contains(index) ? [envelope.withHops(UInt8(index - 1))] : []
            #expect(node.deliveries.map(\.envelope) == expected, "node \(index)")
            #expect(node.store.count == (index <= 4 ? 1 : 0), "node \(index)")
        }
        #expect(mesh.nodes[0].deliveries.isEmpty, "the author is not shown its own post")
    }

    @Test func aDirectMessageCrossesARelayWithoutBeingShownThere() throws {
        let mesh = InMemoryMesh(nodeCount: 3, links: InMemoryMesh.line(nodeCount: 3))
        let envelope = try mesh.postDirect(from: 0, to: 2, text: "for your eyes", now: t0)
        try mesh.runUntilQuiet(now: t0)
        let relay = mesh.nodes[1], recipient = mesh.nodes[2]
        #expect(relay.store.contains(envelope.id))
        #expect(relay.deliveries.isEmpty)
        #expect(relay.otherActions.isEmpty, "a direct message for someone else is not a drop")
        #expect(recipient.store.contains(envelope.id))
        #expect(recipient.deliveries.map(\.text) == ["for your eyes"])
        #expect(recipient.deliveries.map(\.envelope.hops) == [1])
    }

    @Test func fiftyNodesDeliverExactlyOnceAtTheCostOfTwoCopiesPerLinkMinusATree() throws {
        let nodeCount = 50
        let links = InMemoryMesh.randomConnected(nodeCount: nodeCount, extraLinkCount: 60, seed: 0x6D65_7368)
        #expect(links == InMemoryMesh.randomConnected(nodeCount: nodeCount, extraLinkCount: 60, seed: 0x6D65_7368))
        let mesh = InMemoryMesh(nodeCount: nodeCount, links: links, configuration: .init(hopLimit: WireBounds.maxHopLimit))
        let envelope = try mesh.postRoom(from: 7, text: "to everyone", now: t0)
        let received = try mesh.runUntilQuiet(now: t0)

        for (index, node) in mesh.nodes.enumerated() {
            #expect(node.deliveries.map(\.envelope.id) == (index == 7 ? [] : [envelope.id]), "node \(index)")
            #expect(node.store.count == 1)
            // Each neighbour sends a node the message at most once: when it first stores it.
            #expect(node.packetsReceived.values.allSatisfy { $0 == 1 }, "node \(index)")
            #expect(Set(node.packetsReceived.keys.compactMap(mesh.index(of:))).isSubset(of: mesh.neighbours(of: index)))
        }
        // The author sends to all its links; every other node forwards once, to all links but the
        // one it first heard it on. Every link carries the message both ways except the 49 links
        // a first copy crossed (a spanning tree): 2E - (N - 1) copies, N - 1 of them first copies.
        let expected = 2 * links.count - (nodeCount - 1)
        #expect(received == expected)
        #expect(mesh.nodes.map(\.totalPacketsReceived).reduce(0, +) == expected)
        let duplicates = mesh.nodes.flatMap(\.otherActions).filter {
            if case .dropped(_, .duplicate) = $0 { true } else { false }
        }
        #expect(duplicates.count == expected - (nodeCount - 1))
        #expect(mesh.nodes.flatMap(\.otherActions).count == duplicates.count, "nothing else was dropped")
    }

    @Test func onTheSameGraphAHopLimitOf2ReachesDistance3() throws {
        let nodeCount = 50, origin = 0
        let links = InMemoryMesh.randomConnected(nodeCount: nodeCount, extraLinkCount: 60, seed: 0x6D65_7368)
        let mesh = InMemoryMesh(nodeCount: nodeCount, links: links, configuration: .init(hopLimit: 2))
        let distance = distances(in: mesh, from: origin)
        let envelope = try mesh.postRoom(from: origin, text: "nearby", now: t0)
        let received = try mesh.runUntilQuiet(now: t0)

        for (index, node) in mesh.nodes.enumerated() {
            let reached = index != origin && distance[index]! <= 3
            #expect(node.deliveries.map(\.envelope.id) == (reached ? [envelope.id] : []), "node \(index)")
        }
        // The FIFO queue delivers in breadth-first order, so a node at distance d first hears the
        // message with hops d - 1 and forwards it (with hops d) only if d <= 2.
        let forwarders = (0..<nodeCount).filter { $0 != origin && distance[$0]! <= 2 }
        let expected = mesh.neighbours(of: origin).count + forwarders.map { mesh.neighbours(of: $0).count - 1 }.reduce(0, +)
        #expect(received == expected)
        #expect(distance.contains { $0! > 3 }, "the graph is wide enough for the limit to matter")
    }

    @Test func aFarFutureMessageWaitsAtEveryNeighbourThenSpreads() throws {
        let mesh = InMemoryMesh(nodeCount: 4, links: InMemoryMesh.line(nodeCount: 4))
        let later = t0 + 3_600_000
        let envelope = try mesh.postRoom(from: 0, text: "from the future", now: later)
        try mesh.runUntilQuiet(now: t0)
        #expect(mesh.nodes[1].engine.heldCount == 1)
        #expect(mesh.nodes.allSatisfy { $0.deliveries.isEmpty })
        try mesh.tick(now: later)
        try mesh.runUntilQuiet(now: later)
        #expect(mesh.nodes[1...].allSatisfy { $0.deliveries.map(\.envelope.id) == [envelope.id] })
    }

    @Test func aFloodOfGarbageClosesThatOneLink() throws {
        let mesh = InMemoryMesh(nodeCount: 3, links: InMemoryMesh.line(nodeCount: 3))
        for _ in 0...100 { mesh.inject([0xDE, 0xAD], from: 1, to: 0) }
        try mesh.runUntilQuiet(now: t0)
        #expect(mesh.closedLinks.map(\.link) == [InMemoryMesh.Link(0, 1)])
        #expect(mesh.closedLinks.map(\.reason) == [.tooManyInvalidEnvelopes])
        #expect(mesh.nodes[0].engine.linkedPeers.isEmpty && mesh.nodes[1].engine.linkedPeers == [mesh.nodes[2].key])

        try mesh.postRoom(from: 2, text: "still here", now: t0)
        try mesh.runUntilQuiet(now: t0)
        #expect(mesh.nodes[1].deliveries.count == 1)
        #expect(mesh.nodes[0].deliveries.isEmpty)
    }

    @Test func manyAuthorsAtOnceAllArriveEverywhere() throws {
        let links = InMemoryMesh.randomConnected(nodeCount: 20, extraLinkCount: 15, seed: 7)
        let mesh = InMemoryMesh(nodeCount: 20, links: links, configuration: .init(hopLimit: WireBounds.maxHopLimit))
        for author in 0..<20 { try mesh.postRoom(from: author, text: "from \(author)", now: t0) }
        try mesh.runUntilQuiet(now: t0)
        for (index, node) in mesh.nodes.enumerated() {
            #expect(node.deliveries.count == 19, "node \(index)")
            #expect(Set(node.deliveries.map(\.envelope.id)).count == 19)
            #expect(node.store.count == 20)
        }
    }
}
