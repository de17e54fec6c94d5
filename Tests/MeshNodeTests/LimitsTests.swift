import MeshNode
import Testing

// The pure limiters of NodeLimits (docs/limits.md), on an injected clock in nanoseconds.

private let second: UInt64 = 1_000_000_000

struct TokenBucketTests {
    @Test func aBurstThenTheRefillRate() {
        var bucket = TokenBucket(capacity: 3, refillPerSecond: 2, now: 0)
        #expect((0..<4).map { _ in bucket.take(now: 0) } == [true, true, true, false])
        // Half a second refills one token at 2 per second, and only one.
        let result1 = bucket.take(now: second / 2)
        #expect(result1)
        let result2 = bucket.take(now: second / 2)
        #expect(!result2)
    }

    @Test func refillStopsAtCapacity() {
        var bucket = TokenBucket(capacity: 2, refillPerSecond: 100, now: 0)
        let result3 = bucket.take(now: 0)
        #expect(result3)
        #expect(bucket.isFull(now: 3600 * second))
        #expect((0..<3).map { _ in bucket.take(now: 3600 * second) } == [true, true, false])
    }

    @Test func aClockThatGoesBackAddsNothing() {
        var bucket = TokenBucket(capacity: 1, refillPerSecond: 1, now: 10 * second)
        let result4 = bucket.take(now: 10 * second)
        #expect(result4)
        let result5 = bucket.take(now: 5 * second)
        #expect(!result5)
        let result6 = bucket.take(now: 10 * second)
        #expect(!result6)
        let result7 = bucket.take(now: 11 * second)
        #expect(result7)
    }
}

struct KeyedRateLimiterTests {
    @Test func eachKeyHasItsOwnBucket() {
        var limiter = KeyedRateLimiter<String>(burst: 1, perSecond: 1, capacity: 10)
        let result8 = limiter.admit("a", now: 0)
        #expect(result8)
        let result9 = limiter.admit("a", now: 0)
        #expect(!result9)
        let result10 = limiter.admit("b", now: 0)
        #expect(result10)
    }

    @Test func theTableNeverGrowsPastItsCapacity() {
        var limiter = KeyedRateLimiter<Int>(burst: 1, perSecond: 0, capacity: 8)
        for key in 0..<1000 { _ = limiter.admit(key, now: UInt64(key)) }
        #expect(limiter.count <= 8)
    }

    /// Full buckets go first (forgetting them changes no decision): a source still over its rate
    /// is remembered while refilled ones make room.
    @Test func refilledEntriesAreEvictedBeforeBusyOnes() {
        var limiter = KeyedRateLimiter<String>(burst: 1, perSecond: 1, capacity: 2)
        let result11 = limiter.admit("quiet", now: 0)
        #expect(result11)
        let result12 = limiter.admit("busy", now: 2 * second)
        #expect(result12)
        // At 2 s "quiet" has refilled and "busy" has not: a new key evicts "quiet".
        let result13 = limiter.admit("new", now: 2 * second)
        #expect(result13)
        let result14 = limiter.admit("busy", now: 2 * second)
        #expect(!result14)
    }

    /// With nothing refilled, the least recently used key is evicted.
    @Test func otherwiseTheLeastRecentlyUsedIsEvicted() {
        var limiter = KeyedRateLimiter<String>(burst: 1, perSecond: 0, capacity: 2)
        let result15 = limiter.admit("old", now: 0)
        #expect(result15)
        let result16 = limiter.admit("recent", now: 1)
        #expect(result16)
        let result17 = limiter.admit("new", now: 2)
        #expect(result17)
        let result18 = limiter.admit("recent", now: 3)
        #expect(!result18, "recent is remembered and still empty")
        let result19 = limiter.admit("old", now: 4)
        #expect(result19, "old was forgotten, so it starts with a fresh burst")
    }

    @Test func forgetDropsAKey() {
        var limiter = KeyedRateLimiter<String>(burst: 1, perSecond: 0, capacity: 4)
        let result20 = limiter.admit("peer", now: 0)
        #expect(result20)
        let result21 = limiter.admit("peer", now: 0)
        #expect(!result21)
        limiter.forget("peer")
        let result22 = limiter.admit("peer", now: 0)
        #expect(result22)
    }
}

struct InboundAdmissionTests {
    private func limits(pending: Int = 2, reserve: Int = 1, burst: Int = 100) -> NodeLimits {
        var limits = NodeLimits()
        limits.maxPendingInbound = pending
        limits.pinnedReserve = reserve
        limits.handshakeBurstPerSource = burst
        limits.handshakesPerSecondPerSource = 0
        return limits
    }

    @Test func strangersBeyondTheCapAreRefused() throws {
        var admission = InboundAdmission(limits: limits())
        let first = try admission.admit(sourceIP: "10.0.0.1", fromPinnedAddress: false, now: 0).get()
        _ = try admission.admit(sourceIP: "10.0.0.2", fromPinnedAddress: false, now: 0).get()
        #expect(admission.admit(sourceIP: "10.0.0.3", fromPinnedAddress: false, now: 0) == .failure(.tooManyPending))
        admission.release(first)
        #expect((try? admission.admit(sourceIP: "10.0.0.3", fromPinnedAddress: false, now: 0).get()) != nil)
    }

    @Test func aPinnedAddressUsesTheReserveWhenStrangersFillTheCap() throws {
        var admission = InboundAdmission(limits: limits())
        for n in 1...2 { _ = try admission.admit(sourceIP: "10.0.0.\(n)", fromPinnedAddress: false, now: 0).get() }
        let pinned = try admission.admit(sourceIP: "192.0.2.7", fromPinnedAddress: true, now: 0).get()
        #expect(admission.admit(sourceIP: "192.0.2.7", fromPinnedAddress: true, now: 0) == .failure(.tooManyPending),
                "the reserve is bounded too")
        admission.release(pinned)
        #expect((try? admission.admit(sourceIP: "192.0.2.7", fromPinnedAddress: true, now: 0).get()) != nil)
    }

    /// A freed reserve slot is not taken by strangers: they still see the cap as full.
    @Test func releasingAStrangerDoesNotLeakIntoTheReserve() throws {
        var admission = InboundAdmission(limits: limits(pending: 1, reserve: 1))
        let stranger = try admission.admit(sourceIP: "10.0.0.1", fromPinnedAddress: false, now: 0).get()
        let pinned = try admission.admit(sourceIP: "192.0.2.7", fromPinnedAddress: true, now: 0).get()
        admission.release(stranger)
        _ = try admission.admit(sourceIP: "10.0.0.2", fromPinnedAddress: false, now: 0).get()
        #expect(admission.admit(sourceIP: "10.0.0.3", fromPinnedAddress: false, now: 0) == .failure(.tooManyPending))
        admission.release(pinned)
    }

    @Test func oneSourceIsRateLimitedAndOthersAreNot() throws {
        var admission = InboundAdmission(limits: limits(pending: 100, burst: 3))
        let results = (0..<5).map { _ in admission.admit(sourceIP: "10.0.0.1", fromPinnedAddress: false, now: 0) }
        #expect(results.filter { (try? $0.get()) != nil }.count == 3)
        #expect(results.last == .failure(.handshakeRate))
        #expect((try? admission.admit(sourceIP: "10.0.0.2", fromPinnedAddress: false, now: 0).get()) != nil)
    }
}
