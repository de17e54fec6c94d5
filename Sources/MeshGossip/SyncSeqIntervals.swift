/// A set of one author's sequence numbers as sorted, disjoint, non-adjacent intervals, each
/// written as SYNC_REQUEST writes a range: `(after, through]`, the seqs `after + 1 ... through`.
///
/// The coordinator does its bookkeeping (what we lack, what is being fetched, what was already
/// asked of a peer) as interval arithmetic, so its memory grows with the number of gaps, not with
/// the number of messages.
struct SeqIntervals: Equatable, Sendable {
    /// One interval `(after, through]`, with `after < through`.
    struct Interval: Equatable, Sendable {
        var after: UInt64
        var through: UInt64
    }

    /// The intervals, ascending; no two overlap or touch.
    private(set) var intervals: [Interval] = []

    /// The empty set.
    init() {}

    /// The seqs `after + 1 ... through` (empty if `after >= through`).
    init(after: UInt64, through: UInt64) {
        if after < through { intervals = [Interval(after: after, through: through)] }
    }

    /// Whether the set holds no seq.
    var isEmpty: Bool { intervals.isEmpty }

    /// Adds `(after, through]`, merging it with every interval it overlaps or touches.
    mutating func insert(after: UInt64, through: UInt64) {
        guard after < through else { return }
        var merged = Interval(after: after, through: through)
        var result: [Interval] = []
        result.reserveCapacity(intervals.count + 1)
        var placed = false
        for interval in intervals {
            if interval.through < merged.after {
                result.append(interval)
            } else if interval.after > merged.through {
                if !placed { result.append(merged); placed = true }
                result.append(interval)
            } else {
                merged = Interval(after: min(merged.after, interval.after), through: max(merged.through, interval.through))
            }
        }
        if !placed { result.append(merged) }
        intervals = result
    }

    /// Adds every interval of `other`.
    mutating func formUnion(_ other: SeqIntervals) {
        for interval in other.intervals { insert(after: interval.after, through: interval.through) }
    }

    /// The seqs of this set that are not in `other`.
    func subtracting(_ other: SeqIntervals) -> SeqIntervals {
        guard !other.isEmpty else { return self }
        var result = SeqIntervals()
        for interval in intervals {
            var start = interval.after
            for cut in other.intervals where cut.through > start && cut.after < interval.through {
                if cut.after > start { result.intervals.append(Interval(after: start, through: cut.after)) }
                start = max(start, cut.through)
                if start >= interval.through { break }
            }
            if start < interval.through { result.intervals.append(Interval(after: start, through: interval.through)) }
        }
        return result
    }

    /// The set of the given seqs, which must be ascending (repeats allowed, as a reused seq gives).
    static func of(ascending seqs: some Sequence<UInt64>) -> SeqIntervals {
        var result = SeqIntervals()
        for seq in seqs where seq > 0 {
            if let last = result.intervals.last, seq <= last.through + 1 {
                result.intervals[result.intervals.count - 1].through = max(last.through, seq)
            } else {
                result.intervals.append(Interval(after: seq - 1, through: seq))
            }
        }
        return result
    }
}
