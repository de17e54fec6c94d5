import MeshGossip
import NIOCore

/// What a node counts of the limits it enforced, for tests and for telling an operator a node is under attack.
public struct LimitCounters: Sendable, Equatable {
    /// Accepted connections closed at once because `maxPendingInbound` (and the reserve) was full.
    public var refusedPending = 0
    /// Accepted connections closed at once because their source IP was over its handshake rate.
    public var refusedHandshakeRate = 0
    /// Envelopes from a linked peer dropped because it was over its envelope rate.
    public var envelopesDroppedOverRate = 0
    /// Links closed because the peer did not read: over `maxQueuedBytesPerLink` or unwritable too long.
    public var slowLinksClosed = 0
    /// Times a link stopped reading because `maxBytesAwaitingVerificationPerLink` of its envelopes awaited verification.
    public var linkReadsPaused = 0
}

/// The node's limiters (NodeLimits) and their counters, owned by `NodeCore` and used on its loop.
struct NodeGuards {
    let limits: NodeLimits
    var admission: InboundAdmission
    var envelopes: KeyedRateLimiter<PeerID>
    var counters = LimitCounters()

    init(limits: NodeLimits) {
        self.limits = limits
        admission = InboundAdmission(limits: limits)
        // One bucket per linked peer, and links are one per pinned peer; the capacity is only a backstop.
        envelopes = KeyedRateLimiter(burst: limits.envelopeBurstPerPeer, perSecond: limits.envelopesPerSecondPerPeer,
                                     capacity: 65536)
    }

    /// A monotonic time in nanoseconds for the limiters (never the wall clock, which may jump).
    static var now: UInt64 { NIODeadline.now().uptimeNanoseconds }
}

extension NodeCore {
    /// Admits a just-accepted connection or says why not (the caller closes it at once). A source
    /// IP that is a pinned peer's known address may use the reserve.
    func admitInbound(_ handler: LinkHandler, sourceIP: String) -> InboundAdmission.Refusal? {
        let pinned = trusted.peers.contains { $0.address?.host == sourceIP }
        switch guards.admission.admit(sourceIP: sourceIP, fromPinnedAddress: pinned, now: NodeGuards.now) {
        case .success(let ticket):
            handler.admissionTicket = ticket
            return nil
        case .failure(let refusal):
            switch refusal {
            case .tooManyPending: guards.counters.refusedPending += 1
            case .handshakeRate: guards.counters.refusedHandshakeRate += 1
            }
            return refusal
        }
    }

    /// Frees the pending slot of an accepted connection that ended or became a link.
    func releaseAdmission(_ handler: LinkHandler) {
        guard let ticket = handler.admissionTicket else { return }
        handler.admissionTicket = nil
        guards.admission.release(ticket)
    }

    /// Whether an envelope from linked `peer` is within its rate. Envelopes answering our own sync
    /// requests are always admitted: we asked for them, and their number is bounded by what we asked.
    func admitEnvelope(from peer: PeerID, answeringSync: Bool) -> Bool {
        if answeringSync || guards.envelopes.admit(peer, now: NodeGuards.now) { return true }
        guards.counters.envelopesDroppedOverRate += 1
        logger.debug("envelope over rate dropped", metadata: ["link.peer": "\(peer.base64)"])
        return false
    }

    /// A link stopped reading until its envelopes are verified.
    func linkReadingPaused() {
        guards.counters.linkReadsPaused += 1
    }

    /// A link closed because its peer stopped reading.
    func slowLinkClosed() {
        guards.counters.slowLinksClosed += 1
    }
}

extension Node {
    /// What the node's limits have counted so far (docs/limits.md).
    public func limitCounters() async throws -> LimitCounters {
        let core = self.core
        return try await core.eventLoop.submit { core.value.guards.counters }.get()
    }
}
