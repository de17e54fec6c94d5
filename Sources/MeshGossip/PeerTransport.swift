import MeshWire

/// How a node hands envelope bytes to a linked neighbour and closes a link. MeshNode implements it
/// over Noise sessions (a MESSAGE frame, a BYE); `InMemoryMesh` implements it with a queue, so
/// gossip can be tested across many nodes without sockets (STYLE.md 10).
public protocol PeerTransport: AnyObject {
    /// Sends one encoded envelope (PROTOCOL.md 6, hops included) to the linked neighbour `peer`.
    func send(_ envelopeBytes: [UInt8], to peer: PeerID)
    /// Closes the link to `peer`, telling it why (PROTOCOL.md 5, BYE).
    func close(_ peer: PeerID, reason: ByeReason)
}

extension PeerTransport {
    /// Carries out the network half of `actions` in order (`.send` as `encoded()` bytes,
    /// `.disconnect` as `close`) and returns the rest, in order, for the caller to show or log.
    @discardableResult
    public func perform(_ actions: [GossipAction]) -> [GossipAction] {
        var rest: [GossipAction] = []
        for action in actions {
            switch action {
            case .send(let envelope, let peer):
                send(envelope.encoded(), to: peer)
            case .disconnect(let peer, let reason):
                close(peer, reason: reason)
            case .deliver, .sequenceReused, .dropped:
                rest.append(action)
            }
        }
        return rest
    }
}
