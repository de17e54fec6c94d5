import MeshCrypto
import MeshWire

/// Which way a transfer goes, as `file-progress` names it.
public enum FileDirection: String, Sendable {
    /// This node receives.
    case incoming = "in"
    /// This node sends.
    case outgoing = "out"
}

/// What `FileTransfers` asks its owner to do; the owner carries it out (sockets, disk, events).
enum FileTransferAction: Equatable {
    /// Send a file message to a peer (dropped if the peer has no link now).
    case send(FileMessage, to: SigningPublicKey)
    /// A new offer arrived: tell the person or script (`file-offered`).
    case offered(FileTransferID)
    /// Make the partial file hold exactly the first `offset` bytes and start taking chunks.
    case beginReceiving(FileTransferID, offset: UInt64)
    /// Write chunk bytes at `offset` of the partial file.
    case write(FileTransferID, offset: UInt64, data: ArraySlice<UInt8>)
    /// Every byte is in: hash the partial file, and if it matches, move it into `downloads/`;
    /// report with `stored(_:failure:)`.
    case verifyAndStore(FileTransferID)
    /// Stream chunks of an outgoing transfer while the link has room (`nextChunk`, `chunkSent`).
    case startSending(FileTransferID)
    /// The transfer moved bytes: maybe report `file-progress`.
    case progress(FileTransferID)
    /// The receiver confirmed the whole file (`file-sent`). Ended transfers travel in the action:
    /// they are no longer in the table.
    case sent(FileTransfer)
    /// The file is stored in `downloads/` (`file-received`).
    case received(FileTransfer)
    /// The transfer ended without the file (`file-failed`); `discardPartial` for what was received.
    case failed(FileTransfer, FileFailure, discardPartial: Bool)
}

/// Why a transfer ended without the file, said from this node's side.
enum FileFailure: Equatable {
    /// The other side stopped it (FILE_REFUSE or FILE_CANCEL with its reason).
    case byPeer(FileStopReason, refused: Bool)
    /// This node stopped it, and told the other side why.
    case byUs(FileStopReason)

    /// The `reason` of `file-failed`.
    var text: String {
        switch self {
        case .byPeer(let reason, let refused): "\(refused ? "refused" : "cancelled") by the peer: \(reason.text)"
        case .byUs(.declined): "refused here"
        case .byUs(.tooLarge): "refused here: larger than --max-file-size"
        case .byUs(.busy): "refused here: too many transfers from this peer at once"
        case .byUs(let reason): "stopped here: \(reason.text)"
        }
    }
}

/// One transfer as this node tracks it.
struct FileTransfer: Equatable {
    /// Where a transfer is; each case carries only what is valid in it.
    enum State: Equatable {
        // Sending side.
        /// FILE_OFFER sent (again after every relink); waiting for FILE_ACCEPT or FILE_REFUSE.
        case offered
        /// Chunks go out from `next`.
        case sending(next: UInt64)
        /// Every chunk sent; waiting for FILE_RECEIVED.
        case awaitingReceipt
        // Receiving side.
        /// Waiting for the person to accept or refuse.
        case awaitingPerson
        /// Chunks are expected at `next`.
        case receiving(next: UInt64)
        /// Every byte is in; the hash is being checked.
        case verifying
    }

    let offer: FileOffer
    let peer: SigningPublicKey
    let direction: FileDirection
    var state: State

    /// How many bytes have moved (sent, or held by the receiver).
    var bytes: UInt64 {
        switch state {
        case .offered, .awaitingPerson: 0
        case .sending(let next), .receiving(let next): next
        case .awaitingReceipt, .verifying: offer.size
        }
    }
}

/// The file transfers of one node, sending and receiving, as a pure state machine: file
/// messages, link changes and people's decisions in; actions out. No sockets, disk or clock:
/// the owner (`FileTransferService`) reads and writes files and says what the disk holds.
///
/// The exchange (docs/file-transfer.md): the sender offers; the receiver refuses or accepts at the
/// offset it already holds; chunks follow in order; the receiver checks the hash and confirms. A
/// dropped link leaves both sides' state in place, and the sender offers again on the next link.
struct FileTransfers {
    /// The most transfers one peer may have open toward this node at once; more offers are refused
    /// as busy, so a peer cannot make this node remember without bound.
    static let maxIncomingPerPeer = 8

    /// The largest file this node accepts.
    let maxFileSize: UInt64
    /// Accept every offer without asking (`--accept-files`).
    let acceptAutomatically: Bool
    private(set) var transfers: [FileTransferID: FileTransfer] = [:]

    init(maxFileSize: UInt64, acceptAutomatically: Bool) {
        self.maxFileSize = maxFileSize
        self.acceptAutomatically = acceptAutomatically
    }

    /// The transfer `id`, if it is open.
    subscript(id: FileTransferID) -> FileTransfer? { transfers[id] }

    // MARK: Sending

    /// Offers a file to a linked `peer`.
    mutating func send(_ offer: FileOffer, to peer: SigningPublicKey) -> [FileTransferAction] {
        precondition(transfers[offer.id] == nil, "a fresh transfer id")
        transfers[offer.id] = FileTransfer(offer: offer, peer: peer, direction: .outgoing, state: .offered)
        return [.send(.offer(offer), to: peer)]
    }

    /// A link to `peer` is up: every unfinished outgoing transfer to it is offered again, and the
    /// receiver answers with the offset it holds.
    mutating func linkUp(_ peer: SigningPublicKey) -> [FileTransferAction] {
        var actions: [FileTransferAction] = []
        for (id, transfer) in transfers.sorted(by: { $0.key.hex < $1.key.hex })
        where transfer.peer == peer && transfer.direction == .outgoing {
            transfers[id]?.state = .offered
            actions.append(.send(.offer(transfer.offer), to: peer))
        }
        return actions
    }

    /// The next chunk to send for `id`: its offset and most bytes; nil when there is none now.
    func nextChunk(_ id: FileTransferID) -> (offset: UInt64, maxLength: Int)? {
        guard let transfer = transfers[id], case .sending(let next) = transfer.state, next < transfer.offer.size else { return nil }
        return (next, Int(min(UInt64(FileBounds.maxChunkDataByteCount), transfer.offer.size - next)))
    }

    /// `count` bytes at the sending offset of `id` went out.
    mutating func chunkSent(_ id: FileTransferID, count: Int) -> [FileTransferAction] {
        guard let transfer = transfers[id], case .sending(let next) = transfer.state else { return [] }
        let moved = next + UInt64(count)
        precondition(moved <= transfer.offer.size, "never more than the offered size")
        transfers[id]?.state = moved == transfer.offer.size ? .awaitingReceipt : .sending(next: moved)
        return [.progress(id)]
    }

    // MARK: Receiving

    /// A file message from `peer`. `heldOnDisk` answers, for a new offer, how many bytes of that very
    /// transfer (same id, peer, size and hash) a partial file already holds, which is how a
    /// restarted receiver resumes. Throws nothing: every misbehaviour stops only that transfer.
    mutating func receive(_ message: FileMessage, from peer: SigningPublicKey,
                          heldOnDisk: (FileOffer) -> UInt64? = { _ in nil }) -> [FileTransferAction] {
        // A message about a transfer of another peer is treated as if the id were unknown.
        if let transfer = transfers[message.id], transfer.peer != peer {
            if case .offer(let offer) = message { return [.send(.refuse(id: offer.id, reason: .badExchange), to: peer)] }
            return []
        }
        switch message {
        case .offer(let offer):
            return receiveOffer(offer, from: peer, heldOnDisk: heldOnDisk)
        case .accept(let id, let offset):
            guard let transfer = transfers[id], transfer.direction == .outgoing else { return [] }
            // An ACCEPT answers the latest offer only; one left over from an earlier link is ignored.
            guard case .offered = transfer.state else { return [] }
            guard offset <= transfer.offer.size else { return stop(id, .badExchange) }
            transfers[id]?.state = offset == transfer.offer.size ? .awaitingReceipt : .sending(next: offset)
            return [.progress(id), .startSending(id)]
        case .chunk(let id, let offset, let data):
            // Chunks may still arrive for a transfer this node just cancelled: ignored.
            guard let transfer = transfers[id], transfer.direction == .incoming,
                  case .receiving(let next) = transfer.state else { return [] }
            guard offset == next else { return stop(id, .badExchange) }
            let end = offset + UInt64(data.count)
            // "checked against the offer and against what arrives": never more than was offered.
            guard end <= transfer.offer.size else { return stop(id, .tooLarge) }
            transfers[id]?.state = end == transfer.offer.size ? .verifying : .receiving(next: end)
            var actions: [FileTransferAction] = [.write(id, offset: offset, data: data), .progress(id)]
            if end == transfer.offer.size { actions.append(.verifyAndStore(id)) }
            return actions
        case .refuse(let id, let reason):
            guard let transfer = transfers[id], transfer.direction == .outgoing, transfer.state == .offered else { return [] }
            transfers[id] = nil
            return [.failed(transfer, .byPeer(reason, refused: true), discardPartial: false)]
        case .cancel(let id, let reason):
            guard let transfer = transfers[id] else { return [] }
            transfers[id] = nil
            return [.failed(transfer, .byPeer(reason, refused: false), discardPartial: transfer.direction == .incoming)]
        case .received(let id):
            guard let transfer = transfers[id], transfer.direction == .outgoing else { return [] }
            guard transfer.state == .awaitingReceipt else { return stop(id, .badExchange) }
            transfers[id] = nil
            return [.sent(transfer)]
        }
    }

    private mutating func receiveOffer(_ offer: FileOffer, from peer: SigningPublicKey,
                                       heldOnDisk: (FileOffer) -> UInt64?) -> [FileTransferAction] {
        if let existing = transfers[offer.id] {
            guard existing.direction == .incoming, existing.offer == offer else {
                return [.send(.refuse(id: offer.id, reason: .badExchange), to: peer)]
            }
            switch existing.state {
            case .awaitingPerson, .verifying:
                return [] // still deciding, or checking: the answer follows
            case .receiving(let next):
                // The sender offers again after a dropped link: resume from what is held.
                return [.send(.accept(id: offer.id, offset: next), to: peer), .progress(offer.id)]
            case .offered, .sending, .awaitingReceipt:
                preconditionFailure("an incoming transfer is never in a sending state")
            }
        }
        guard offer.size <= maxFileSize else {
            let refused = FileTransfer(offer: offer, peer: peer, direction: .incoming, state: .awaitingPerson)
            return [.send(.refuse(id: offer.id, reason: .tooLarge), to: peer), .failed(refused, .byUs(.tooLarge), discardPartial: false)]
        }
        let open = transfers.values.filter { $0.peer == peer && $0.direction == .incoming }.count
        guard open < Self.maxIncomingPerPeer else {
            return [.send(.refuse(id: offer.id, reason: .busy), to: peer)]
        }
        transfers[offer.id] = FileTransfer(offer: offer, peer: peer, direction: .incoming, state: .awaitingPerson)
        // A partial file of this very transfer means it was accepted before (this node restarted).
        if let held = heldOnDisk(offer) {
            return begin(offer.id, at: min(held, offer.size))
        }
        if acceptAutomatically { return [.offered(offer.id)] + begin(offer.id, at: 0) }
        return [.offered(offer.id)]
    }

    // MARK: People

    /// The person accepts an offer.
    mutating func accept(_ id: FileTransferID) -> [FileTransferAction] {
        guard transfers[id]?.state == .awaitingPerson else { return [] }
        return begin(id, at: 0)
    }

    /// The person refuses an offer.
    mutating func refuse(_ id: FileTransferID) -> [FileTransferAction] {
        guard let transfer = transfers[id], transfer.state == .awaitingPerson else { return [] }
        transfers[id] = nil
        return [.send(.refuse(id: id, reason: .declined), to: transfer.peer), .failed(transfer, .byUs(.declined), discardPartial: false)]
    }

    /// The person cancels a transfer either way (or refuses one still waiting for them).
    mutating func cancel(_ id: FileTransferID) -> [FileTransferAction] {
        guard let transfer = transfers[id] else { return [] }
        if transfer.state == .awaitingPerson { return refuse(id) }
        return stop(id, .cancelled)
    }

    /// The owner's answer to `verifyAndStore`: nil when the file is in `downloads/`.
    mutating func stored(_ id: FileTransferID, failure: FileStopReason?) -> [FileTransferAction] {
        guard let transfer = transfers[id], transfer.state == .verifying else { return [] }
        if let failure { return stop(id, failure) }
        transfers[id] = nil
        return [.send(.received(id: id), to: transfer.peer), .received(transfer)]
    }

    /// The owner could not read or write the file: the transfer stops, and the peer is told why.
    mutating func ioFailed(_ id: FileTransferID, _ reason: FileStopReason) -> [FileTransferAction] {
        stop(id, reason)
    }

    // MARK: Helpers

    private mutating func begin(_ id: FileTransferID, at offset: UInt64) -> [FileTransferAction] {
        guard let transfer = transfers[id] else { return [] }
        let complete = offset == transfer.offer.size
        transfers[id]?.state = complete ? .verifying : .receiving(next: offset)
        var actions: [FileTransferAction] = [.beginReceiving(id, offset: offset), .send(.accept(id: id, offset: offset), to: transfer.peer), .progress(id)]
        if complete { actions.append(.verifyAndStore(id)) }
        return actions
    }

    /// Ends transfer `id` from this side, telling the peer with FILE_CANCEL.
    private mutating func stop(_ id: FileTransferID, _ reason: FileStopReason) -> [FileTransferAction] {
        guard let transfer = transfers.removeValue(forKey: id) else { return [] }
        return [.send(.cancel(id: id, reason: reason), to: transfer.peer),
                .failed(transfer, .byUs(reason), discardPartial: transfer.direction == .incoming)]
    }
}
