import Foundation
import MeshHarness
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

/// Nanoseconds on the monotonic clock; every time in the load test is one of these.
func monotonicNanoseconds() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds
}

/// Sleeps until the monotonic clock reaches `deadline` (returns at once if it already has).
func sleep(untilNanoseconds deadline: UInt64) {
    while true {
        let now = monotonicNanoseconds()
        guard deadline > now else { return }
        usleep(useconds_t(min((deadline - now) / 1000, 500_000)))
    }
}
