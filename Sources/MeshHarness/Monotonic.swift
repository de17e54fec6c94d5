import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bench's and the load test's clock: CLOCK_MONOTONIC in nanoseconds, never the wall clock, so a
/// clock step during a run cannot bend a latency.
public enum Monotonic {
    /// Nanoseconds since an arbitrary start.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Seconds between two readings.
    public static func seconds(from start: UInt64, to end: UInt64) -> Double { Double(end &- start) / 1e9 }

    /// Sleeps until the monotonic clock reaches `deadline` (returns at once if it has).
    public static func sleep(until deadline: UInt64) {
        let now = now()
        guard deadline > now else { return }
        let wait = deadline - now
        var request = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}
