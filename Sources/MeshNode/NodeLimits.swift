import MeshGossip

/// Every bound that keeps a node chatting while strangers throw bytes and connections at it, each
/// with the reason for its value (docs/limits.md). Injectable through `NodeConfiguration.limits`
/// so tests can shrink them; the defaults are for a node on the open internet.
public struct NodeLimits: Sendable {
    /// Accepted connections that are not links yet (each is a handshake in progress: in this
    /// design a pending handshake and a not-yet-linked inbound connection are the same thing).
    /// A handshake costs one DH-heavy step and at most ~10 s of a socket (the handshake timeout),
    /// so 256 caps a flood near 256 sockets and a few KiB each; beyond it a stranger is closed at once.
    public var maxPendingInbound = 256

    /// Extra pending slots only for connections from a pinned peer's known address (its IP in the
    /// trusted-peers file), so a flood of strangers that fills `maxPendingInbound` cannot keep a
    /// pinned peer out. Outbound dials are never counted against either.
    public var pinnedReserve = 32

    /// Handshake attempts (accepted connections) one source IP may start in a burst, WireGuard-like:
    /// a node reconnecting after a network change needs a few at once, an attacker needs thousands.
    public var handshakeBurstPerSource = 10

    /// The steady rate per source IP after the burst: 2 per second is far above the redial backoff
    /// of a real peer (doubling from 0.5 s) and far below what a DH-per-connection flood needs.
    public var handshakesPerSecondPerSource = 2.0

    /// Source IPs remembered by the handshake rate limiter. A full bucket is the same as no entry,
    /// so the table evicts refilled entries first, then the least recently used: 4096 entries of
    /// ~100 bytes bound it near 400 KiB whatever the number of sources.
    public var maxTrackedSources = 4096

    /// Envelopes a linked peer may send in a burst before live gossip from it is rate-limited.
    /// A relay forwards everything its side of the mesh says, and a script may pipe thousands of
    /// lines into `meshchat start` (the durability tests stream 5,000 through a relay; the bench
    /// 20,000 as fast as a link carries them): 100,000 lets such a burst through whole, and is
    /// about 1.6 GiB of the largest envelopes at most. Envelopes answering our own sync requests
    /// are never limited.
    public var envelopeBurstPerPeer = 100_000

    /// The steady envelope rate per linked peer after the burst: 10,000 per second is above what
    /// one core verifies here (about 15,000-20,000 Ed25519 checks a second), so a legitimate stream
    /// is not dropped, and still bounds the signature checks and store writes one peer can cause on
    /// a faster machine. Excess envelopes are dropped (not counted as invalid) and come back through
    /// sync at the next link with that peer.
    public var envelopesPerSecondPerPeer = 10_000.0

    /// Bytes a link may have queued in NIO (written, not yet taken by the socket) before it is closed:
    /// 4 MiB is ~250 of the largest envelopes, far beyond a healthy link's backlog, and times the
    /// number of links (one per pinned peer) bounds a sender's memory.
    public var maxQueuedBytesPerLink = 4 * 1024 * 1024

    /// Bytes of envelopes from one link that may wait for their signature check (received, not yet
    /// stored) before the link stops reading until half of them are done. The check runs beside the
    /// loop, which could otherwise read faster than it verifies; 1 MiB is thousands of chat-sized
    /// envelopes, enough to keep the verifier busy, and times one link per pinned peer it bounds
    /// what a flood can queue. Pausing drops nothing: the sender's socket simply fills.
    public var maxBytesAwaitingVerificationPerLink = 1024 * 1024

    /// How long a link may stay unwritable (the peer is not reading) before it is closed; it catches
    /// up through sync when it relinks. 30 s is half the idle timeout: a slow link that is still
    /// draining gets as long as a silent one is kept.
    public var maxUnwritableSeconds = 30.0

    /// Far-future envelopes held at once over all peers (passed to `GossipConfiguration`; see there).
    public var maxHeldEnvelopes = GossipConfiguration().maxHeldEnvelopes

    /// The defaults above.
    public init() {}
}
