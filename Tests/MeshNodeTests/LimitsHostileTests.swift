import Foundation
import MeshCrypto
import MeshHarness
import MeshNode
import MeshWire
import Testing

// NodeLimits under attack, on a real node over loopback (docs/limits.md). Limits are shrunk
// through NodeConfiguration.limits; assertions are on the node's events and LimitCounters, never
// on how long something took. Strangers connect from 127.0.0.2 so that the pinned peer alice,
// whose known address is 127.0.0.1, is a different source.

private let strangerAddress = "127.0.0.2"

@Suite(.serialized)
struct LimitsHostileTests {
    @Test func beyondThePendingCapStrangersAreClosedWhileAPinnedPeerStillLinks() async throws {
        let target = try await TargetNode(aliceAddress: HostPort(host: "127.0.0.1", port: 1)) {
            $0.limits.maxPendingInbound = 2
            $0.limits.pinnedReserve = 1
        }
        let holding = try (0..<2).map { _ in try WireClient(port: target.port, from: strangerAddress) }
        let refused = try WireClient(port: target.port, from: strangerAddress)
        #expect(try refused.readUntilClosed() == [], "closed at once, without a byte")
        #expect(await target.rejection(InboundAdmission.Refusal.tooManyPending.rawValue) != nil)

        // The strangers still hold the cap, and the pinned peer links through the reserve.
        _ = try target.linkedClient()
        let linkUp = await target.events.first { if case .linkUp(peer: "alice", _, _, _, _) = $0 { true } else { false } }
        #expect(linkUp != nil)
        #expect(try await target.node.limitCounters().refusedPending == 1)
        withExtendedLifetime(holding) {}
        await target.stop()
    }

    @Test func aHandshakeFloodFromOneAddressIsRateLimited() async throws {
        let target = try await TargetNode {
            $0.limits.handshakeBurstPerSource = 3
            $0.limits.handshakesPerSecondPerSource = 0 // no refill: the outcome does not depend on timing
        }
        let flood = try (0..<5).map { _ in try WireClient(port: target.port, from: strangerAddress) }
        for client in flood.suffix(2) { #expect(try client.readUntilClosed() == []) }
        #expect(try await target.node.limitCounters().refusedHandshakeRate == 2)
        #expect(await target.rejection(InboundAdmission.Refusal.handshakeRate.rawValue) != nil)
        // Another address is not affected.
        _ = try target.linkedClient()
        await target.stop()
    }

    @Test func envelopesOverAPeersRateAreDroppedWithoutClosingTheLink() async throws {
        let target = try await TargetNode {
            $0.limits.envelopeBurstPerPeer = 3
            $0.limits.envelopesPerSecondPerPeer = 0
        }
        let client = try target.linkedClient()
        for seq in 1...5 { try client.send(.message(envelope: target.envelope(seq: UInt64(seq), text: "m\(seq)").encoded())) }
        // The PING is read after the five MESSAGEs, so its PONG means all five were judged.
        try client.ping()
        #expect(try await target.node.limitCounters().envelopesDroppedOverRate == 2)
        let third = await target.events.first { if case .message(let shown) = $0 { shown.seq == 3 } else { false } }
        #expect(third != nil)
        #expect(target.events.messages.map(\.seq).sorted() == [1, 2, 3])
        // Not invalid, so the link stays: it still answers.
        try client.ping()
        await target.stop()
    }

    @Test func aPeerThatNeverReadsIsCutAtTheQueueCap() async throws {
        let target = try await TargetNode {
            $0.limits.maxQueuedBytesPerLink = 256 * 1024
            $0.limits.maxUnwritableSeconds = 3600
        }
        let reason = try await floodANonReader(target)
        #expect(reason?.contains("too slow to read") == true, "\(reason ?? "no link-down")")
        #expect(try await target.node.limitCounters().slowLinksClosed == 1)
        await target.stop()
    }

    @Test func aPeerThatStaysUnwritableIsCutAfterTheNamedTime() async throws {
        let target = try await TargetNode {
            $0.limits.maxQueuedBytesPerLink = Int.max
            $0.limits.maxUnwritableSeconds = 0.2
        }
        let reason = try await floodANonReader(target)
        #expect(reason?.contains("did not read") == true, "\(reason ?? "no link-down")")
        #expect(try await target.node.limitCounters().slowLinksClosed == 1)
        await target.stop()
    }

    /// Links alice with a tiny receive buffer, never reads, and posts large messages (each forwarded
    /// to her) until her link goes down; returns the link-down reason.
    private func floodANonReader(_ target: TargetNode) async throws -> String? {
        let client = try WireClient(port: target.port, receiveBuffer: 4096)
        try client.handshake(as: target.alice, to: target.node.key)
        try client.ping()
        let text = String(repeating: "x", count: 16000)
        // 4000 posts of 16 kB is ~64 MB, far beyond any socket buffer: the link must be cut well before.
        for _ in 0..<4000 {
            _ = try await target.node.post(text)
            if target.events.all.contains(where: { if case .linkDown(peer: "alice", _) = $0 { true } else { false } }) { break }
        }
        let down = await target.events.first { if case .linkDown(peer: "alice", _) = $0 { true } else { false } }
        guard case .linkDown(_, let reason) = down else { return nil }
        withExtendedLifetime(client) {}
        return reason
    }
}
