import MeshCrypto
import MeshGossip
import MeshWire
import Testing

/// `PeerTransport.perform` carries out sends and disconnects and hands back the rest in order.
@Suite struct PeerTransportTests {
    final class Recorder: PeerTransport {
        var sent: [([UInt8], PeerID)] = []
        var closed: [(PeerID, ByeReason)] = []
        func send(_ envelopeBytes: [UInt8], to peer: PeerID) { sent.append((envelopeBytes, peer)) }
        func close(_ peer: PeerID, reason: ByeReason) { closed.append((peer, reason)) }
    }

    @Test func sendsGoOutAsWireBytesAndTheRestComeBack() throws {
        let bench = Bench()
        let envelope = try bench.room().withHops(2)
        let delivery = GossipAction.deliver(Delivery(envelope: envelope, text: "hello"))
        let warning = GossipAction.sequenceReused(author: bench.author.publicKey, seq: 1)
        let recorder = Recorder()
        let rest = recorder.perform([
            .send(envelope, to: bench.left), delivery, .disconnect(bench.right, .tooManyInvalidEnvelopes), warning,
        ])
        #expect(rest == [delivery, warning])
        #expect(recorder.sent.map(\.0) == [envelope.encoded()])
        #expect(recorder.sent.map(\.1) == [bench.left])
        #expect(try Envelope.parse(recorder.sent[0].0).hops == 2)
        #expect(recorder.closed.map(\.0) == [bench.right] && recorder.closed.map(\.1) == [.tooManyInvalidEnvelopes])
    }

    @Test func packetsQueuedOnACutLinkAreLost() throws {
        let mesh = InMemoryMesh(nodeCount: 2, links: [InMemoryMesh.Link(0, 1)])
        try mesh.postRoom(from: 0, text: "in flight", now: t0)
        #expect(mesh.queue.count == 1)
        mesh.nodes[1].transport.close(mesh.nodes[0].key, reason: .normal)
        #expect(try mesh.runUntilQuiet(now: t0) == 0)
        #expect(mesh.nodes[1].deliveries.isEmpty && mesh.queue.isEmpty)
        #expect(mesh.closedLinks.map(\.by) == [1])
    }
}
