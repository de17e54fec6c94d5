import NIOCore

/// How long a node waits before dialing a peer again: exponential backoff with jitter, capped
/// ("reconnect with exponential backoff and jitter (capped near 30 s)").
///
/// Jitter spreads the redials of many nodes that lost a peer at the same moment, so they do not
/// all come back at once.
struct RedialBackoff {
    /// The delay after the first failure.
    let initial: TimeAmount
    /// The largest delay before jitter.
    let maximum: TimeAmount

    /// Jitter is drawn from 0..<jitterSteps and maps linearly onto -25%...+25%.
    static let jitterSteps: UInt32 = 1001

    /// The delay after `failures` failed attempts in a row (1 or more), for a jitter draw in 0..<jitterSteps.
    func delay(afterFailures failures: Int, jitter: UInt32) -> TimeAmount {
        let doublings = min(max(0, failures - 1), 32)
        let exponential = min(maximum.nanoseconds, initial.nanoseconds << Int64(doublings))
        let half = Int64(Self.jitterSteps / 2)
        let spread = exponential / 4 * (Int64(jitter) - half) / half
        return .nanoseconds(exponential + spread)
    }
}
