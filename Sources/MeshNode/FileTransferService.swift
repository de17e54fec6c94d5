import Foundation
import MeshCrypto
import MeshWire
import NIOCore

/// Carries out what `FileTransfers` decides: reads files being sent in chunks while the link has
/// room, writes received chunks to `downloads/.partial/`, checks the hash and moves the file into
/// `downloads/`, and reports events. Hashing runs off the loop (the sender's before the offer, the
/// receiver's on `PartialFileHasher`'s thread while chunks arrive) so links stay lively.
///
/// Runs on the node's loop, owned by `NodeCore` (which serialises every call).
final class FileTransferService {
    /// The most chunks sent for one peer in one loop tick (about 4 MiB), so a big file never
    /// starves chat, sync or other peers.
    static let chunksPerTick = 64
    /// At most one `file-progress` per transfer in this interval (the last byte is always reported).
    static let progressInterval: TimeAmount = .milliseconds(250)

    private unowned let core: NodeCore
    private var machine: FileTransfers
    /// Open files: sources being sent, partial files being received.
    private var descriptors: [FileTransferID: Int32] = [:]
    /// Where each received file landed, between storing it and reporting it.
    private var storedPaths: [FileTransferID: String] = [:]
    /// The last `file-progress` of each transfer: when, how far, and whether bytes had moved since
    /// the transfer (re)started. The first report of movement is never held back, so a person (or
    /// a test) sees at once that a transfer is under way and from where.
    private var lastProgress: [FileTransferID: (at: NIODeadline, bytes: UInt64, moving: Bool)] = [:]
    /// The hash of each file being received, kept up with the written bytes on its own thread, so
    /// the check at the end costs no second pass over the file and no time on the loop.
    private var incomingHashes: [FileTransferID: PartialFileHasher] = [:]
    /// Who waits for an outgoing transfer's end (`meshchat send-file`).
    private var waiters: [FileTransferID: [(Result<FileEvent, HomeError>) -> Void]] = [:]

    init(core: NodeCore) {
        self.core = core
        machine = FileTransfers(maxFileSize: core.configuration.maxFileSize,
                                acceptAutomatically: core.configuration.acceptFiles)
    }

    /// `downloads/` in the home: where received files land.
    var downloadsDirectory: String {
        let home = core.configuration.home.directory
        // Events report absolute paths, whatever --home was given as.
        return (home.hasPrefix("/") ? home : FileManager.default.currentDirectoryPath + "/" + home) + "/downloads"
    }
    /// `downloads/.partial/`: files still arriving, named by transfer id, with their offer beside them.
    var partialDirectory: String { downloadsDirectory + "/.partial" }

    private func partialPath(_ id: FileTransferID) -> String { partialDirectory + "/\(id.hex).part" }
    private func offerPath(_ id: FileTransferID) -> String { partialDirectory + "/\(id.hex).offer" }

    // MARK: Sending

    /// Starts sending the file at `path` to the pinned peer `name`: checks the peer and the file,
    /// hashes it off the loop, then offers it. `started` gets the id or a sentence for a person.
    func send(toName name: String, path: String, started: @escaping (Result<FileTransferID, HomeError>) -> Void) {
        guard let peer = core.trusted.peer(named: name) else {
            return started(.failure(HomeError("No peer named \(name) is pinned; `meshchat peer list` shows the names.")))
        }
        guard core.links[peer.key] != nil else {
            return started(.failure(HomeError("\(name) is not linked to this node; files go over a direct link only, so start \(name)'s node or pin its address here and wait for the link (`meshchat status` shows the links).")))
        }
        let offeredName = (path as NSString).lastPathComponent
        guard FileBounds.nameBytes.contains(offeredName.utf8.count) else {
            return started(.failure(HomeError("The file name \(offeredName) is longer than \(FileBounds.nameBytes.upperBound) bytes; rename the file first.")))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        var info = stat()
        guard fd >= 0, fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            let why = fd < 0 ? String(cString: strerror(errno)).lowercased() : "not a regular file"
            if fd >= 0 { close(fd) }
            return started(.failure(HomeError("Cannot send \(path): \(why).")))
        }
        let size = UInt64(info.st_size)
        let loop = core.eventLoop
        let service = NIOLoopBound(self, eventLoop: loop)
        let started = NIOLoopBound(started, eventLoop: loop)
        DispatchQueue.global(qos: .utility).async {
            let hash = FileHash.of(fd: fd, size: size)
            loop.execute {
                let service = service.value, started = started.value
                guard let hash else {
                    close(fd)
                    return started(.failure(HomeError("Cannot read \(path) to hash it.")))
                }
                let id = FileTransferID(SecureRandom.bytes(count: FileBounds.transferIDByteCount))
                service.descriptors[id] = fd
                let actions = service.machine.send(FileOffer(id: id, name: offeredName, size: size, hash: hash), to: peer.key)
                // The transfer exists before anyone is told its id, so they can follow it at once.
                started(.success(id))
                service.perform(actions)
            }
        }
    }

    /// Calls `body` once when outgoing transfer `id` ends: its `file-sent` event, or why it failed.
    func whenFinished(_ id: FileTransferID, _ body: @escaping (Result<FileEvent, HomeError>) -> Void) {
        guard machine[id] != nil else { return body(.failure(HomeError("The transfer ended before it could be followed."))) }
        waiters[id, default: []].append(body)
    }

    /// Sends chunks to `peer` while its link has room, a bounded number per tick.
    func resume(to peer: SigningPublicKey) {
        var budget = Self.chunksPerTick
        while budget > 0, let link = core.links[peer], link.isWritable {
            guard let id = machine.transfers.first(where: { $0.value.peer == peer && machine.nextChunk($0.key) != nil })?.key,
                  let (offset, maxLength) = machine.nextChunk(id), let fd = descriptors[id] else { return }
            let header = FileMessage.chunkHeader(id: id, offset: offset)
            var count = 0
            // The file bytes are read straight in after the header: one buffer per chunk, no copy.
            let plaintext = [UInt8](unsafeUninitializedCapacity: header.count + maxLength) { buffer, initialized in
                _ = UnsafeMutableBufferPointer(rebasing: buffer[0..<header.count]).initialize(from: header)
                count = max(0, pread(fd, buffer.baseAddress! + header.count, maxLength, off_t(offset)))
                initialized = header.count + count
            }
            guard count > 0 else {
                // The file shrank or went away since it was offered.
                perform(machine.ioFailed(id, .cannotRead))
                continue
            }
            link.send(encoded: plaintext)
            perform(machine.chunkSent(id, count: count))
            budget -= 1
        }
        // Out of budget but still writable: go on next tick. Not writable: channelWritabilityChanged resumes.
        if budget <= 0, core.links[peer]?.isWritable == true {
            core.eventLoop.assumeIsolated().execute { [weak self] in self?.resume(to: peer) }
        }
    }

    // MARK: Events in

    /// A link to `peer` is up: unfinished transfers to it are offered again.
    func linkUp(_ peer: SigningPublicKey) {
        perform(machine.linkUp(peer))
    }

    /// A file message arrived from `peer`.
    func receive(_ message: FileMessage, from peer: SigningPublicKey) {
        perform(machine.receive(message, from: peer, heldOnDisk: { [self] offer in held(offer, from: peer) }))
    }

    /// `/accept`, `/refuse` or `/cancel` with an id prefix, or none when only one transfer fits.
    func command(_ command: FileCommand, idPrefix: String?) throws(HomeError) -> String {
        let fits = machine.transfers.values.filter { transfer in
            let waiting = transfer.state == .awaitingPerson
            let kind = command == .cancel || waiting
            return kind && (idPrefix.map { transfer.offer.id.hex.hasPrefix($0.lowercased()) } ?? true)
        }
        let verb = command.rawValue
        guard let transfer = fits.first else {
            throw HomeError(idPrefix.map { "No file transfer to \(verb) has an id starting with \($0)." } ?? "There is no file transfer to \(verb).")
        }
        guard fits.count == 1 else {
            throw HomeError("Several file transfers fit; type /\(verb) ID with more of the id (\(fits.map { String($0.offer.id.hex.prefix(8)) }.sorted().joined(separator: ", "))).")
        }
        let id = transfer.offer.id
        let what = "\(transfer.offer.name) (\(transfer.direction == .incoming ? "from" : "to") \(name(transfer.peer)))"
        switch command {
        case .accept:
            perform(machine.accept(id))
            return "Accepted \(what); it lands in \(downloadsDirectory)."
        case .refuse:
            perform(machine.refuse(id))
            return "Refused \(what)."
        case .cancel:
            perform(machine.cancel(id))
            return "Cancelled \(what)."
        }
    }

    /// Closes every open file; partial files stay for a later resume.
    func stop() {
        for fd in descriptors.values { close(fd) }
        descriptors.removeAll()
    }

    // MARK: Carrying out actions

    private func perform(_ actions: [FileTransferAction]) {
        for action in actions {
            switch action {
            case let .send(message, to: peer):
                core.links[peer]?.send(encoded: message.encoded())
            case .offered(let id):
                guard let transfer = machine[id] else { continue }
                emit(.offered(id: id.hex, peer: name(transfer.peer), name: transfer.offer.name,
                              size: transfer.offer.size, hash: hex(transfer.offer.hash)))
            case let .beginReceiving(id, offset):
                if let failure = beginReceiving(id, offset: offset) { perform(machine.ioFailed(id, failure)) }
            case let .write(id, offset, data):
                if !write(id, offset: offset, data: data) { perform(machine.ioFailed(id, .cannotStore)) }
            case .verifyAndStore(let id):
                verifyAndStore(id)
            case .startSending(let id):
                if let peer = machine[id]?.peer { resume(to: peer) }
            case .progress(let id):
                reportProgress(id)
            case .sent(let transfer):
                let id = transfer.offer.id
                forget(id)
                let event = FileEvent.sent(id: id.hex, peer: name(transfer.peer), name: transfer.offer.name,
                                           bytes: transfer.offer.size, hash: hex(transfer.offer.hash))
                emit(event)
                for waiter in waiters.removeValue(forKey: id) ?? [] { waiter(.success(event)) }
            case .received(let transfer):
                let id = transfer.offer.id
                forget(id)
                emit(.received(id: id.hex, peer: name(transfer.peer), name: transfer.offer.name,
                               path: storedPaths.removeValue(forKey: id) ?? downloadsDirectory,
                               bytes: transfer.offer.size, hash: hex(transfer.offer.hash)))
            case let .failed(transfer, failure, discardPartial):
                let id = transfer.offer.id
                forget(id)
                if discardPartial {
                    unlink(partialPath(id))
                    unlink(offerPath(id))
                }
                let peerName = name(transfer.peer)
                emit(.failed(id: id.hex, peer: peerName, name: transfer.offer.name, reason: failure.text))
                for waiter in waiters.removeValue(forKey: id) ?? [] {
                    waiter(.failure(HomeError("Sending \(transfer.offer.name) to \(peerName) failed: \(failure.text).")))
                }
            }
        }
    }

    private func reportProgress(_ id: FileTransferID) {
        guard let transfer = machine[id] else { return }
        let now = NIODeadline.now()
        let last = transfer.bytes == transfer.offer.size
        var moving = false
        if let previous = lastProgress[id] {
            moving = transfer.bytes != previous.bytes || previous.moving
            if !last, previous.moving, now - previous.at < Self.progressInterval { return }
        }
        lastProgress[id] = (now, transfer.bytes, moving)
        emit(.progress(id: id.hex, peer: name(transfer.peer), name: transfer.offer.name, direction: transfer.direction,
                       bytes: transfer.bytes, size: transfer.offer.size))
    }

    // MARK: Disk

    /// How many bytes of this very offer a partial file holds: its offer file must match exactly.
    private func held(_ offer: FileOffer, from peer: SigningPublicKey) -> UInt64? {
        guard let saved = try? String(contentsOfFile: offerPath(offer.id), encoding: .utf8),
              saved == offerRecord(offer, from: peer) else { return nil }
        var info = stat()
        guard lstat(partialPath(offer.id), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return UInt64(info.st_size)
    }

    /// What the offer file beside a partial says: enough to tell that a re-offer is the same transfer.
    private func offerRecord(_ offer: FileOffer, from peer: SigningPublicKey) -> String {
        "\(peer.base64) \(offer.size) \(hex(offer.hash))\n"
    }

    /// Opens the partial file holding exactly `offset` bytes; nil, or why it cannot be stored.
    private func beginReceiving(_ id: FileTransferID, offset: UInt64) -> FileStopReason? {
        guard let transfer = machine[id] else { return nil }
        guard makePrivateDirectory(downloadsDirectory), makePrivateDirectory(partialDirectory) else { return .cannotStore }
        closeDescriptor(id)
        // O_NOFOLLOW: a symlink planted in .partial never redirects the write.
        let fd = open(partialPath(id), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .cannotStore }
        guard ftruncate(fd, off_t(offset)) == 0,
              (try? offerRecord(transfer.offer, from: transfer.peer).write(toFile: offerPath(id), atomically: true, encoding: .utf8)) != nil
        else {
            close(fd)
            return .cannotStore
        }
        // A resumed transfer's hash starts with the bytes already held.
        guard let hasher = PartialFileHasher.reading(partialPath(id)) else {
            close(fd)
            return .cannotStore
        }
        hasher.written(upTo: offset)
        descriptors[id] = fd
        incomingHashes[id] = hasher
        return nil
    }

    private func write(_ id: FileTransferID, offset: UInt64, data: ArraySlice<UInt8>) -> Bool {
        guard let fd = descriptors[id] else { return false }
        var written = 0
        while written < data.count {
            let count = data.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, data.count - written, off_t(offset) + off_t(written)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            written += count
        }
        incomingHashes[id]?.written(upTo: offset + UInt64(data.count))
        return true
    }

    /// Once the partial file's hash is complete (off the loop), if it matches, links the file into
    /// `downloads/` under a safe, unused name (link(2) never replaces a file or follows a symlink
    /// there), then reports.
    private func verifyAndStore(_ id: FileTransferID) {
        guard let transfer = machine[id] else { return }
        closeDescriptor(id)
        guard let hasher = incomingHashes.removeValue(forKey: id) else {
            return perform(machine.stored(id, failure: .cannotStore))
        }
        let partial = partialPath(id), offerFile = offerPath(id), downloads = downloadsDirectory
        let offer = transfer.offer
        let loop = core.eventLoop
        let service = NIOLoopBound(self, eventLoop: loop)
        hasher.finish(size: offer.size) { hash in
            let outcome = Self.verifyAndLink(partial: partial, offer: offer, hash: hash, into: downloads)
            if case .stored = outcome {
                unlink(partial)
                unlink(offerFile)
            }
            loop.execute {
                let service = service.value
                switch outcome {
                case .stored(let path):
                    service.storedPaths[id] = path
                    service.perform(service.machine.stored(id, failure: nil))
                case .failed(let reason):
                    service.perform(service.machine.stored(id, failure: reason))
                }
            }
        }
    }

    /// How checking and storing a received file ended.
    private enum StoreOutcome: Sendable {
        case stored(path: String)
        case failed(FileStopReason)
    }

    private static func verifyAndLink(partial: String, offer: FileOffer, hash: [UInt8]?, into downloads: String) -> StoreOutcome {
        guard let hash else { return .failed(.cannotStore) }
        guard hash == offer.hash else { return .failed(.hashMismatch) }
        let safe = SafeFileName.make(from: offer.name)
        var chosen: String?
        _ = SafeFileName.unique(safe) { candidate in
            let path = downloads + "/" + candidate
            if link(partial, path) == 0 {
                chosen = path
                return false
            }
            // Taken (a file, a directory or a symlink of that name): try the next suffix.
            return errno == EEXIST
        }
        return chosen.map { .stored(path: $0) } ?? .failed(.cannotStore)
    }

    /// Creates `path` (mode 0700) if missing; false if it cannot, or if it is not a real directory.
    private func makePrivateDirectory(_ path: String) -> Bool {
        if mkdir(path, 0o700) == 0 { return true }
        var info = stat()
        return errno == EEXIST && lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private func closeDescriptor(_ id: FileTransferID) {
        if let fd = descriptors.removeValue(forKey: id) { close(fd) }
    }

    /// Forgets what is kept per transfer once it ended.
    private func forget(_ id: FileTransferID) {
        closeDescriptor(id)
        lastProgress[id] = nil
        incomingHashes[id] = nil
    }

    // MARK: Text

    private func emit(_ event: FileEvent) { core.emit(.file(event)) }

    private func name(_ peer: SigningPublicKey) -> String { core.pinnedName(peer) ?? peer.base64 }

    private func hex(_ bytes: [UInt8]) -> String { Hex.lowercase(bytes) }
}
