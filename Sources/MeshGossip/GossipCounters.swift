/// Running totals of the envelopes a gossip engine saw since it started, for `meshchat status`
/// and the benchmark (docs/benchmarks.md): how many copies the mesh's flooding makes per delivery.
///
/// Counts only; they grow by one per envelope, so 64 bits never wrap in practice.
public struct GossipCounters: Sendable, Equatable {
    /// Envelopes that arrived from a neighbour, duplicates and invalid ones included.
    public var received: UInt64 = 0
    /// Of those, envelopes dropped because their id was already stored or held (PROTOCOL.md 6 rule 3).
    public var duplicates: UInt64 = 0
    /// Of those, envelopes stored as new (PROTOCOL.md 6 rule 4), including held ones once released.
    public var accepted: UInt64 = 0
    /// Of those, envelopes dropped as malformed or badly signed (PROTOCOL.md 6 rule 1).
    public var invalid: UInt64 = 0

    /// All zero.
    public init() {}
}
