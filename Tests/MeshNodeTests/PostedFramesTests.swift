import Foundation
import MeshHarness
import MeshNode
import MeshWire
import Testing

/// A script's run of posts reports its outcomes only after its frames are on the links' sockets,
/// so writing the `sent` lines is not on a message's way to its peers (docs/performance.md 18).
@Suite struct PostedFramesTests {
    @Test func aPostedRunIsOnTheLinkBeforeItsOutcomesAreReported() async throws {
        let target = try await TargetNode()
        // Read only inside `done`, on the loop's thread, while this task waits for it.
        nonisolated(unsafe) let client = try target.linkedClient()

        // `done` runs on the node's loop and blocks it while it reads the link: the frame can only
        // be there if it was written before `done` was called, not in a flush after it.
        let texts: [String] = try await withCheckedThrowingContinuation { continuation in
            target.node.post(["first", "second"]) { outcomes in
                do {
                    var texts: [String] = []
                    while texts.count < outcomes.count {
                        guard let plaintext = try client.nextPlaintext() else { throw HarnessFailure("link closed") }
                        if case .message(let bytes) = plaintext {
                            texts.append(String(decoding: try Envelope.parse(bytes).body, as: UTF8.self))
                        }
                    }
                    continuation.resume(returning: texts)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        #expect(texts == ["first", "second"])
        await target.stop()
    }
}
