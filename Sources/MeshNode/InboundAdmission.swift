/// Decides, the moment a connection is accepted, whether it may start a handshake: the pending cap
/// with its reserve for pinned peers' addresses, and the per-source handshake rate (NodeLimits).
/// Pure: the node passes the source IP, its pinned addresses and a monotonic time in nanoseconds.
public struct InboundAdmission: Sendable {
    /// Why a connection was refused; the text goes into the `rejected` event.
    public enum Refusal: String, Error, Sendable, Equatable {
        case tooManyPending = "too many pending connections"
        case handshakeRate = "handshake rate exceeded"
    }

    private let limits: NodeLimits
    private var rate: KeyedRateLimiter<String>
    /// Admitted connections not yet ended or linked, and how many of them used the pinned reserve.
    private(set) var pending = 0
    private var pendingInReserve = 0

    /// An admission control with nothing pending.
    public init(limits: NodeLimits) {
        self.limits = limits
        rate = KeyedRateLimiter(burst: limits.handshakeBurstPerSource, perSecond: limits.handshakesPerSecondPerSource,
                                capacity: limits.maxTrackedSources)
    }

    /// A ticket for an admitted connection, handed back to `release` when it ends or becomes a link.
    public struct Ticket: Sendable, Equatable {
        let inReserve: Bool
    }

    /// Admits a connection from `sourceIP` (`fromPinnedAddress`: the IP is a pinned peer's known
    /// address) or says why not. The rate is checked first and every attempt within it takes a
    /// token even if the cap then refuses it, so retrying against a full node is rate-limited too.
    public mutating func admit(sourceIP: String, fromPinnedAddress: Bool, now: UInt64) -> Result<Ticket, Refusal> {
        guard rate.admit(sourceIP, now: now) else { return .failure(.handshakeRate) }
        if pending - pendingInReserve < limits.maxPendingInbound {
            pending += 1
            return .success(Ticket(inReserve: false))
        }
        if fromPinnedAddress, pendingInReserve < limits.pinnedReserve {
            pending += 1
            pendingInReserve += 1
            return .success(Ticket(inReserve: true))
        }
        return .failure(.tooManyPending)
    }

    /// The connection holding `ticket` ended or became a link; its slot is free again.
    public mutating func release(_ ticket: Ticket) {
        precondition(pending > 0, "a ticket is released once")
        pending -= 1
        if ticket.inReserve { pendingInReserve -= 1 }
    }
}
