import Foundation
import Testing

/// `meshchat status --json` reports the gossip engine's counters (docs/benchmarks.md), which the
/// benchmark reads to count envelope copies per delivery.
@Suite(.serialized, .enabled(if: MeshChatBinary.isAvailable, "build the meshchat executable first (scripts/test does)"))
struct CountersProcessTests {
    /// The `counters` object of `meshchat status --json` in `home`.
    private func counters(_ home: TestHome) throws -> [String: Int] {
        let status = try home.run(["status", "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let counters = try #require(object["counters"] as? [String: Any])
        return counters.compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    /// Three messages from alice shown at bob are three envelopes received and accepted there, and
    /// none at alice, whose own posts are not received.
    @Test func statusCountsTheEnvelopesANodeReceived() async throws {
        let pair = try await LinkedPair()
        #expect(try counters(pair.b) == ["envelopes_received": 0, "envelopes_accepted": 0,
                                         "envelopes_duplicate": 0, "envelopes_invalid": 0])
        for text in ["one", "two", "three"] { pair.nodeA.type(text) }
        try await pair.nodeB.waitForDistinctMessages(3)
        #expect(try counters(pair.b) == ["envelopes_received": 3, "envelopes_accepted": 3,
                                         "envelopes_duplicate": 0, "envelopes_invalid": 0])
        #expect(try counters(pair.a)["envelopes_received"] == 0)
    }
}
