import MeshWire

/// The ids of the last `capacity` envelopes stored, oldest forgotten first.
///
/// A mesh delivers each message over several links within moments (3.1 copies per delivery in the
/// bench's 30-node mesh); this answers rule 3 for those copies without a store lookup. An id it has
/// forgotten is still found in the store, so the capacity bounds only memory, not correctness.
struct RecentIDs: Sendable {
    let capacity: Int
    private var members: Set<MessageID> = []
    /// Insertion order as a ring: `ring[next]` is the oldest once the ring is full.
    private var ring: [MessageID] = []
    private var next = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a positive capacity")
        self.capacity = capacity
    }

    func contains(_ id: MessageID) -> Bool { members.contains(id) }

    /// Remembers `id`, forgetting the oldest if full.
    mutating func insert(_ id: MessageID) {
        guard members.insert(id).inserted else { return }
        if ring.count < capacity {
            ring.append(id)
        } else {
            members.remove(ring[next])
            ring[next] = id
            next = (next + 1) % capacity
        }
    }

    mutating func removeAll() {
        members.removeAll()
        ring.removeAll()
        next = 0
    }
}
