import MeshCrypto

/// For the authors seen lately, a seq no stored envelope of theirs is above.
///
/// A message id covers the author's seq, so an envelope whose seq is above its author's bound is not
/// stored yet: rule 3 is answered without a store lookup for the new messages a mesh brings, which
/// come mostly in order. A bound is read from the store the first time an author is asked about and
/// raised as the engine stores. One too high (an insert that was rolled back) only sends the question
/// on to the store; none is ever too low, since every insert goes through the engine.
struct StoredSeqBounds: Sendable {
    let capacity: Int
    private var bounds: [SigningPublicKey: UInt64] = [:]

    init(capacity: Int) {
        precondition(capacity > 0, "a positive capacity")
        self.capacity = capacity
    }

    /// The bound for `author`, asking `highestStored` (the store) if it is not known; all are
    /// forgotten when `capacity` authors are known, which bounds memory, not correctness.
    mutating func bound(for author: SigningPublicKey, highestStored: () throws -> UInt64) rethrows -> UInt64 {
        if let bound = bounds[author] { return bound }
        let bound = try highestStored()
        if bounds.count >= capacity { bounds.removeAll(keepingCapacity: true) }
        bounds[author] = bound
        return bound
    }

    /// `author`'s envelope with `seq` was stored.
    mutating func stored(author: SigningPublicKey, seq: UInt64) {
        if let bound = bounds[author], seq > bound { bounds[author] = seq }
    }
}
