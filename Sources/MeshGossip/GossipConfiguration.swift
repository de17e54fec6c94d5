import MeshWire

/// The tunable limits of a gossip engine. Defaults come from PROTOCOL.md section 6 unless noted.
public struct GossipConfiguration: Sendable {
    /// The largest `hops` a forwarded envelope may carry. Always at most `WireBounds.maxHopLimit`
    /// (PROTOCOL.md 6: "the node's maximum hop count (at most 254, default 8)"); larger values are clamped.
    public var hopLimit: UInt8 {
        get { clampedHopLimit }
        set { clampedHopLimit = min(newValue, WireBounds.maxHopLimit) }
    }

    /// How far ahead of our clock an envelope's timestamp may be before it is held back
    /// (PROTOCOL.md 6 rule 2: "more than 5 minutes ahead").
    public var farFutureToleranceMs: UInt64

    /// How many invalid envelopes a peer may send within `invalidEnvelopeWindowMs` before we ask
    /// to close its link (PROTOCOL.md 6 rule 1: "more than 100 such envelopes within a minute").
    public var invalidEnvelopeLimit: Int

    /// The sliding window over which invalid envelopes are counted (PROTOCOL.md 6 rule 1: "a minute").
    public var invalidEnvelopeWindowMs: UInt64

    /// The most far-future envelopes kept aside at once, over all peers. Defined by the project:
    /// 1024 envelopes of at most ~16 KiB each bounds the held set near 17 MiB.
    public var maxHeldEnvelopes: Int

    private var clampedHopLimit: UInt8

    /// A configuration; `hopLimit` is clamped to `WireBounds.maxHopLimit`.
    public init(
        hopLimit: UInt8 = WireBounds.defaultHopLimit,
        farFutureToleranceMs: UInt64 = 300_000,
        invalidEnvelopeLimit: Int = 100,
        invalidEnvelopeWindowMs: UInt64 = 60_000,
        maxHeldEnvelopes: Int = 1024
    ) {
        precondition(invalidEnvelopeLimit >= 0 && maxHeldEnvelopes >= 0, "gossip limits must not be negative")
        self.clampedHopLimit = min(hopLimit, WireBounds.maxHopLimit)
        self.farFutureToleranceMs = farFutureToleranceMs
        self.invalidEnvelopeLimit = invalidEnvelopeLimit
        self.invalidEnvelopeWindowMs = invalidEnvelopeWindowMs
        self.maxHeldEnvelopes = maxHeldEnvelopes
    }
}
