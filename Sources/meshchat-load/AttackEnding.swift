import MeshHarness

/// How an attacker's connection ended, from the attacker's point of view.
enum AttackEnding: Equatable {
    /// The node closed (end of stream or reset) without sending a byte.
    case closedSilently
    /// The node sent bytes: for an unknown identity this is a protocol failure on its part.
    case answered
    /// Still open when the wait ran out.
    case stillOpen
}

extension LoopbackSocket {
    /// Blocks until the node closes, sends something, or the timeout passes.
    func awaitEnding() -> AttackEnding {
        var byte: UInt8 = 0
        guard let count = try? withUnsafeMutableBytes(of: &byte, { try receive(into: $0) }) else { return .stillOpen }
        return count > 0 ? .answered : .closedSilently
    }
}
