/// A token bucket: up to `capacity` tokens, refilled at `refillPerSecond`; each admitted event
/// takes one. Pure: the caller passes a monotonic time in nanoseconds, so tests replay exactly.
public struct TokenBucket: Sendable, Equatable {
    /// The most tokens the bucket holds: the burst.
    public let capacity: Double
    /// Tokens added per second.
    public let refillPerSecond: Double
    private(set) var tokens: Double
    private var updatedAt: UInt64

    /// A full bucket at time `now` (ns).
    public init(capacity: Int, refillPerSecond: Double, now: UInt64) {
        precondition(capacity >= 0 && refillPerSecond >= 0, "a bucket's limits are not negative")
        self.capacity = Double(capacity)
        self.refillPerSecond = refillPerSecond
        tokens = Double(capacity)
        updatedAt = now
    }

    /// Takes a token if there is one at `now`; false means the event is over the rate.
    public mutating func take(now: UInt64) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether the bucket would be full at `now`, so forgetting it changes nothing.
    public func isFull(now: UInt64) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= capacity
    }

    private mutating func refill(now: UInt64) {
        // A clock that went backwards adds nothing rather than trapping.
        let elapsed = now > updatedAt ? Double(now - updatedAt) / 1e9 : 0
        tokens = min(capacity, tokens + elapsed * refillPerSecond)
        updatedAt = max(updatedAt, now)
    }
}

/// Token buckets per key (a source IP, a peer) in a table of bounded size.
///
/// When the table is full, a new key first evicts keys whose buckets have refilled (forgetting a
/// full bucket changes no decision), and otherwise the least recently used key: an attacker with
/// more addresses than the table can at worst give some of them a fresh burst, never grow memory.
public struct KeyedRateLimiter<Key: Hashable & Sendable>: Sendable {
    /// The burst per key.
    public let burst: Int
    /// The steady rate per key.
    public let perSecond: Double
    /// The most keys remembered.
    public let capacity: Int
    private var buckets: [Key: (bucket: TokenBucket, lastUsed: UInt64)] = [:]

    /// An empty limiter.
    public init(burst: Int, perSecond: Double, capacity: Int) {
        precondition(capacity >= 1, "a rate limiter remembers at least one key")
        self.burst = burst
        self.perSecond = perSecond
        self.capacity = capacity
    }

    /// How many keys are remembered.
    public var count: Int { buckets.count }

    /// Whether `key` may have one more event at `now` (ns); takes its token if so.
    public mutating func admit(_ key: Key, now: UInt64) -> Bool {
        var entry = buckets[key] ?? (TokenBucket(capacity: burst, refillPerSecond: perSecond, now: now), now)
        if buckets[key] == nil, buckets.count >= capacity { evict(now: now) }
        let admitted = entry.bucket.take(now: now)
        entry.lastUsed = now
        buckets[key] = entry
        return admitted
    }

    /// Forgets `key` (a peer whose link is gone).
    public mutating func forget(_ key: Key) {
        buckets[key] = nil
    }

    private mutating func evict(now: UInt64) {
        let full = buckets.filter { $0.value.bucket.isFull(now: now) }.keys
        if !full.isEmpty {
            for key in full { buckets[key] = nil }
        } else if let oldest = buckets.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            buckets[oldest] = nil
        }
    }
}
