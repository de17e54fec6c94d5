import MeshCrypto
import MeshWire

/// The tunable limits of a `SyncCoordinator`. Each bounds memory or traffic; docs/sync-protocol.md
/// says why each default is what it is.
public struct SyncConfiguration: Sendable {
    /// The most requests outstanding (sent, DONE not yet received) to one peer at once. More are
    /// issued as DONEs arrive, so nothing queues without bound. At most
    /// `SyncBounds.maxOutstandingRequests`, which a responder enforces.
    public var maxOutstandingRequestsPerPeer: Int
    /// The most ranges put in one SYNC_REQUEST. Small enough that a range being fetched from one
    /// peer is released quickly for others if that peer goes away; at most `SyncBounds.maxRequestRanges`.
    public var rangesPerRequest: Int
    /// The most authors one peer's frontier may list. A frontier is held in memory until its last
    /// frame, so a peer that lists more commits a protocol error rather than filling our memory.
    public var maxFrontierAuthors: Int
    /// The most stored envelopes read, per author, to find which seqs above our contiguous point
    /// we already hold (so they are not fetched again). Beyond it, the rest is fetched and the
    /// copies are dropped as duplicates: bounded work traded for a bounded number of duplicates.
    public var gapScanLimit: Int

    /// A configuration; values outside their bounds are our own mistake.
    public init(
        maxOutstandingRequestsPerPeer: Int = 4,
        rangesPerRequest: Int = 64,
        maxFrontierAuthors: Int = 65536,
        gapScanLimit: Int = 4096
    ) {
        precondition((1...SyncBounds.maxOutstandingRequests).contains(maxOutstandingRequestsPerPeer),
                     "1...SyncBounds.maxOutstandingRequests requests per peer")
        precondition((1...SyncBounds.maxRequestRanges).contains(rangesPerRequest), "1...SyncBounds.maxRequestRanges ranges")
        precondition(maxFrontierAuthors >= 1 && gapScanLimit >= 0, "sync limits must be positive")
        self.maxOutstandingRequestsPerPeer = maxOutstandingRequestsPerPeer
        self.rangesPerRequest = rangesPerRequest
        self.maxFrontierAuthors = maxFrontierAuthors
        self.gapScanLimit = gapScanLimit
    }
}

/// What the coordinator asks its owner to do, in order.
public enum SyncAction: Equatable, Sendable {
    /// Send this sync message to one linked peer (as a plaintext: `message.encoded()`).
    case send(SyncMessage, to: PeerID)
    /// The peer asked for envelopes: call `nextBatch(for:limit:)` for it until it returns nil,
    /// sending each batch's envelopes as MESSAGE frames and each finished request as SYNC_DONE.
    case stream(requestID: UInt32, to: PeerID)
    /// A peer holds our own messages up to this seq: never post with a seq at or below it.
    case learnedOwnSeq(UInt64)
    /// Every request sent to this peer is done and nothing more is wanted from it for now.
    case caughtUp(PeerID)
}

/// One step of answering a peer's SYNC_REQUEST (`SyncCoordinator.nextBatch`).
public enum SyncBatch: Equatable, Sendable {
    /// Envelopes to send as MESSAGE frames, in order, hops already raised by one.
    case envelopes([Envelope])
    /// Every envelope held for this request has been returned: send `SyncMessage.done(id:)`.
    case finished(requestID: UInt32)
}

/// A sync message that breaks the rules of docs/sync-protocol.md: a protocol error, BYE 2 and
/// close (as PROTOCOL.md 5 treats a PING that does not parse). Store failures are thrown as they are.
public enum SyncError: Error, Equatable, Sendable {
    /// Frontier entries not in strictly ascending author order across the frames of one frontier.
    case frontierOutOfOrder
    /// A frontier listing more authors than `SyncConfiguration.maxFrontierAuthors`.
    case tooManyFrontierAuthors
    /// A SYNC_DONE for a request id that is not outstanding on this link.
    case unknownRequest(UInt32)
    /// A SYNC_REQUEST reusing the id of a request still being answered.
    case duplicateRequest(UInt32)
    /// More than `SyncBounds.maxOutstandingRequests` requests unanswered on this link.
    case tooManyRequests
}

extension SyncError {
    /// The BYE reason a link closes with for this error.
    public var byeReason: ByeReason { .protocolError }
}
