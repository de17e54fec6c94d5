import NIOCore
import Testing
@testable import MeshNode

/// The redial schedule: doubling from the initial delay, capped, with at most ±25% jitter.
struct RedialBackoffTests {
    let backoff = RedialBackoff(initial: .milliseconds(500), maximum: .seconds(30))

    @Test func doublesThenCaps() {
        let middle = RedialBackoff.jitterSteps / 2
        let delays = (1...12).map { backoff.delay(afterFailures: $0, jitter: middle).nanoseconds / 1_000_000 }
        #expect(delays == [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000, 30000])
    }

    @Test func jitterStaysWithinAQuarter() {
        for failures in [1, 3, 7, 50, Int.max] {
            let low = backoff.delay(afterFailures: failures, jitter: 0).nanoseconds
            let high = backoff.delay(afterFailures: failures, jitter: RedialBackoff.jitterSteps - 1).nanoseconds
            let centre = backoff.delay(afterFailures: failures, jitter: RedialBackoff.jitterSteps / 2).nanoseconds
            #expect(low == centre - centre / 4)
            #expect(high == centre + centre / 4)
            #expect(high <= TimeAmount.milliseconds(37_500).nanoseconds)
        }
    }
}
