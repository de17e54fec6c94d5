import MeshWire

/// Far-future envelopes kept aside (PROTOCOL.md 6 rule 2), bounded and deduplicated by id.
///
/// Kept sorted by (timestamp, id): the nearest are released first, and when the set is full the
/// farthest ahead is let go, since it would be the last to be shown anyway.
struct HeldEnvelopes: Sendable {
    /// One held envelope and the neighbour it came from.
    struct Entry: Sendable {
        let envelope: Envelope
        let from: PeerID
    }

    private(set) var entries: [Entry] = []
    private var ids: Set<MessageID> = []

    /// How many envelopes are held.
    var count: Int { entries.count }

    /// Whether an envelope with this id is held.
    func contains(_ id: MessageID) -> Bool { ids.contains(id) }

    /// Holds `entry` (whose id must not be held yet); if that makes more than `capacity`,
    /// lets go of the farthest ahead, which may be `entry` itself, and returns it.
    mutating func hold(_ entry: Entry, capacity: Int) -> Entry? {
        precondition(!ids.contains(entry.envelope.id), "an id is held at most once")
        let index = entries.partitioningIndex { Self.precedes(entry, $0) }
        entries.insert(entry, at: index)
        ids.insert(entry.envelope.id)
        guard entries.count > capacity else { return nil }
        let evicted = entries.removeLast()
        ids.remove(evicted.envelope.id)
        return evicted
    }

    /// Removes and returns, nearest first, every held envelope whose timestamp is at most `latest`.
    mutating func release(timestampsUpTo latest: UInt64) -> [Entry] {
        let end = entries.partitioningIndex { $0.envelope.timestamp > latest }
        let released = Array(entries[..<end])
        entries.removeFirst(end)
        for entry in released { ids.remove(entry.envelope.id) }
        return released
    }

    /// Puts back entries `release` returned but that could not be processed.
    mutating func restore(_ released: some Collection<Entry>) {
        for entry in released where !ids.contains(entry.envelope.id) {
            let index = entries.partitioningIndex { Self.precedes(entry, $0) }
            entries.insert(entry, at: index)
            ids.insert(entry.envelope.id)
        }
    }

    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        (a.envelope.timestamp, a.envelope.id) < (b.envelope.timestamp, b.envelope.id)
    }
}

extension Array {
    /// The first index whose element satisfies `predicate`, for a predicate that is false for a
    /// prefix of the array and true for the rest (binary search).
    fileprivate func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = startIndex, high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if predicate(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
