/// How many invalid envelopes one linked peer sent recently (PROTOCOL.md 6 rule 1: "a peer that
/// sends more than 100 such envelopes within a minute may be closed with BYE 3").
///
/// Memory per peer is bounded by `limit + 1` timestamps: once the limit is passed the record stops
/// counting, because the only thing left to say, "close it", has been said.
enum InvalidEnvelopeRecord: Sendable {
    /// Timestamps (ms) of invalid envelopes still inside the window, oldest first; never more than `limit`.
    case counting(recent: [UInt64])
    /// The peer passed the limit and `.disconnect` was emitted; it is not emitted again for this link.
    case overLimit

    /// A peer with a clean record.
    static let clean = InvalidEnvelopeRecord.counting(recent: [])

    /// Records one invalid envelope at `now`; returns true exactly once, when the count inside
    /// the window first goes above `limit`.
    mutating func recordInvalid(now: UInt64, limit: Int, windowMs: UInt64) -> Bool {
        switch self {
        case .overLimit:
            return false
        case .counting(var recent):
            recent = Self.inWindow(recent, now: now, windowMs: windowMs)
            recent.append(now)
            if recent.count > limit {
                self = .overLimit
                return true
            }
            self = .counting(recent: recent)
            return false
        }
    }

    /// Forgets invalid envelopes that have slid out of the window.
    mutating func prune(now: UInt64, windowMs: UInt64) {
        switch self {
        case .overLimit:
            break
        case .counting(let recent):
            self = .counting(recent: Self.inWindow(recent, now: now, windowMs: windowMs))
        }
    }

    /// The timestamps less than `windowMs` before `now`. A timestamp after `now` (a clock that went
    /// back) counts as inside, so stepping the clock back never forgives a peer.
    private static func inWindow(_ times: [UInt64], now: UInt64, windowMs: UInt64) -> [UInt64] {
        times.filter { $0 > now || now - $0 < windowMs }
    }
}
