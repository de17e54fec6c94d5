import MeshCrypto
import MeshWire
import Testing
@testable import MeshNode

/// Two `FileTransfers` machines back to back (alice sends, bob receives), with bob's partial files
/// in memory and a link that can be cut: the exchange of docs/file-transfer.md without sockets or disk.
private struct BackToBack {
    enum Side { case alice, bob }

    let alice = SigningPrivateKey().publicKey
    let bob = SigningPrivateKey().publicKey
    var sender = FileTransfers(maxFileSize: .max, acceptAutomatically: false)
    var receiver: FileTransfers
    /// Bob's partial files.
    var disk: [FileTransferID: [UInt8]] = [:]
    /// Bob's `downloads/`.
    var stored: [FileTransferID: [UInt8]] = [:]
    /// What each side's owner was asked to report.
    var aliceActions: [FileTransferAction] = []
    var bobActions: [FileTransferAction] = []
    /// Every FILE_CHUNK offset alice sent.
    var chunkOffsets: [UInt64] = []
    var linked = true
    /// The link is cut once alice has sent this many chunks.
    var cutAfterChunks: Int?
    /// Bob's disk hands back other bytes than were written (to test the hash check).
    var corruptDisk = false
    let file: [UInt8]

    init(size: Int, acceptAutomatically: Bool = true, maxFileSize: UInt64 = .max) {
        file = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        receiver = FileTransfers(maxFileSize: maxFileSize, acceptAutomatically: acceptAutomatically)
    }

    var offer: FileOffer { FileOffer(id: id, name: "notes.bin", size: UInt64(file.count), hash: HashFunction.sha256.hash(file)) }
    let id = FileTransferID(SecureRandom.bytes(count: 16))

    mutating func send() { run(sender.send(offer, to: bob), on: .alice) }

    mutating func run(_ actions: [FileTransferAction], on side: Side) {
        for action in actions {
            switch side {
            case .alice: aliceActions.append(action)
            case .bob: bobActions.append(action)
            }
            switch action {
            case let .send(message, to: peer):
                guard linked else { continue }
                if peer == bob {
                    let disk = self.disk
                    run(receiver.receive(message, from: alice, heldOnDisk: { disk[$0.id].map { UInt64($0.count) } }), on: .bob)
                } else {
                    run(sender.receive(message, from: bob), on: .alice)
                }
            case let .beginReceiving(id, offset):
                disk[id] = Array(disk[id, default: []].prefix(Int(offset)))
            case let .write(id, offset, data):
                #expect(disk[id]?.count == Int(offset), "chunks are written in order, without holes")
                disk[id, default: []] += data
            case .verifyAndStore(let id):
                let bytes = corruptDisk ? disk[id, default: []].map { $0 ^ 1 } : disk[id, default: []]
                let matches = HashFunction.sha256.hash(bytes) == receiver[id]?.offer.hash
                if matches { stored[id] = disk.removeValue(forKey: id) }
                run(receiver.stored(id, failure: matches ? nil : .hashMismatch), on: .bob)
            case .startSending(let id):
                pump(id)
            case .failed(let transfer, _, let discard):
                if discard { disk[transfer.offer.id] = nil }
            case .offered, .progress, .sent, .received:
                break
            }
        }
    }

    /// Alice's owner: sends chunks while the link is up, as `FileTransferService.resume` does.
    mutating func pump(_ id: FileTransferID) {
        while linked, let (offset, maxLength) = sender.nextChunk(id) {
            if let cut = cutAfterChunks, chunkOffsets.count >= cut {
                linked = false
                return
            }
            let start = Int(offset), end = min(file.count, start + maxLength)
            chunkOffsets.append(offset)
            let data = file[start..<end]
            // The owner records the chunk as sent before any answer can arrive, as on a real loop.
            let sent = sender.chunkSent(id, count: data.count)
            run([.send(.chunk(id: id, offset: offset, data: data), to: bob)], on: .alice)
            run(sent, on: .alice)
        }
    }

    mutating func relink() {
        linked = true
        cutAfterChunks = nil
        run(sender.linkUp(bob), on: .alice)
    }

    var aliceSent: Bool { aliceActions.contains { if case .sent = $0 { true } else { false } } }
    var bobReceived: Bool { bobActions.contains { if case .received = $0 { true } else { false } } }
    func failure(_ side: Side) -> FileFailure? {
        for action in side == .alice ? aliceActions : bobActions {
            if case let .failed(_, failure, _) = action { return failure }
        }
        return nil
    }
    func offered(_ side: Side) -> Bool {
        (side == .alice ? aliceActions : bobActions).contains { $0 == .offered(id) }
    }
}

/// `FileTransfers` back to back: the whole exchange, resume, and every refusal and failure path.
struct FileTransfersTests {
    /// 3.5 full chunks: the last chunk is short.
    static let size = FileBounds.maxChunkDataByteCount * 7 / 2

    @Test func aFileArrivesWholeAndBothSidesAreTold() {
        var pair = BackToBack(size: Self.size)
        pair.send()
        #expect(pair.offered(.bob))
        #expect(pair.stored[pair.id] == pair.file)
        #expect(pair.bobReceived && pair.aliceSent)
        #expect(pair.chunkOffsets == [0, 1, 2, 3].map { UInt64($0 * FileBounds.maxChunkDataByteCount) })
        #expect(pair.sender.transfers.isEmpty && pair.receiver.transfers.isEmpty)
    }

    @Test func anEmptyFileNeedsNoChunk() {
        var pair = BackToBack(size: 0)
        pair.send()
        #expect(pair.stored[pair.id] == [])
        #expect(pair.aliceSent && pair.chunkOffsets.isEmpty)
    }

    @Test func theReceiverWaitsForThePersonThenAccepts() {
        var pair = BackToBack(size: Self.size, acceptAutomatically: false)
        pair.send()
        #expect(pair.offered(.bob) && pair.chunkOffsets.isEmpty)
        #expect(pair.receiver[pair.id]?.state == .awaitingPerson)
        pair.run(pair.receiver.accept(pair.id), on: .bob)
        #expect(pair.stored[pair.id] == pair.file && pair.aliceSent)
    }

    @Test func aRefusalEndsTheTransferOnBothSides() {
        var pair = BackToBack(size: Self.size, acceptAutomatically: false)
        pair.send()
        pair.run(pair.receiver.refuse(pair.id), on: .bob)
        #expect(pair.failure(.alice) == .byPeer(.declined, refused: true))
        #expect(pair.failure(.bob) == .byUs(.declined))
        #expect(pair.sender.transfers.isEmpty && pair.receiver.transfers.isEmpty && pair.chunkOffsets.isEmpty)
    }

    @Test func anOfferLargerThanTheLimitIsRefusedWithoutAsking() {
        var pair = BackToBack(size: 1000, acceptAutomatically: false, maxFileSize: 999)
        pair.send()
        #expect(!pair.offered(.bob))
        #expect(pair.failure(.alice) == .byPeer(.tooLarge, refused: true))
        #expect(pair.failure(.bob) == .byUs(.tooLarge))
        #expect(pair.receiver.transfers.isEmpty)
    }

    @Test func aDroppedLinkResumesFromWhatTheReceiverHolds() {
        var pair = BackToBack(size: Self.size)
        pair.cutAfterChunks = 2
        pair.send()
        #expect(!pair.bobReceived)
        let held = pair.disk[pair.id]?.count
        #expect(held == 2 * FileBounds.maxChunkDataByteCount)
        pair.relink()
        #expect(pair.stored[pair.id] == pair.file && pair.aliceSent)
        // Nothing was sent twice: after the cut, chunks start where bob stood.
        #expect(pair.chunkOffsets == [0, 1, 2, 3].map { UInt64($0 * FileBounds.maxChunkDataByteCount) })
    }

    @Test func aRestartedReceiverResumesFromItsPartialFile() {
        var pair = BackToBack(size: Self.size)
        pair.cutAfterChunks = 1
        pair.send()
        // Bob restarts: a new machine, nothing in memory, the partial file still on disk.
        pair.receiver = FileTransfers(maxFileSize: .max, acceptAutomatically: false)
        pair.bobActions.removeAll()
        pair.relink()
        #expect(!pair.offered(.bob), "a transfer accepted before is resumed without asking again")
        #expect(pair.bobActions.contains(.send(.accept(id: pair.id, offset: UInt64(FileBounds.maxChunkDataByteCount)), to: pair.alice)))
        #expect(pair.stored[pair.id] == pair.file && pair.aliceSent)
    }

    @Test func theHashIsCheckedBeforeTheFileIsKept() {
        var pair = BackToBack(size: Self.size)
        pair.corruptDisk = true
        pair.send()
        #expect(pair.stored.isEmpty && pair.disk.isEmpty, "a mismatching partial is discarded")
        #expect(pair.failure(.bob) == .byUs(.hashMismatch))
        #expect(pair.failure(.alice) == .byPeer(.hashMismatch, refused: false))
    }

    @Test func eitherSideCancelsAndLateChunksAreIgnored() {
        var pair = BackToBack(size: Self.size)
        pair.cutAfterChunks = 2
        pair.send()
        pair.linked = true
        pair.run(pair.sender.cancel(pair.id), on: .alice)
        #expect(pair.failure(.alice) == .byUs(.cancelled))
        #expect(pair.failure(.bob) == .byPeer(.cancelled, refused: false))
        #expect(pair.disk[pair.id] == nil, "the receiver drops what it had")
        let late = pair.receiver.receive(.chunk(id: pair.id, offset: 0, data: [1]), from: pair.alice)
        #expect(late.isEmpty)

        var other = BackToBack(size: Self.size)
        other.cutAfterChunks = 1
        other.send()
        other.linked = true
        other.run(other.receiver.cancel(other.id), on: .bob)
        #expect(other.failure(.bob) == .byUs(.cancelled))
        #expect(other.failure(.alice) == .byPeer(.cancelled, refused: false))
    }

    @Test func aChunkOutOfOrderOrPastTheEndStopsTheTransfer() {
        for (offset, length, reason) in [(UInt64(5), 10, FileStopReason.badExchange), (0, Self.size + 1, .tooLarge)] {
            var pair = BackToBack(size: Self.size)
            pair.cutAfterChunks = 0
            pair.send()
            let actions = pair.receiver.receive(.chunk(id: pair.id, offset: offset, data: ArraySlice(repeating: 0, count: length)), from: pair.alice)
            #expect(actions.first == .send(.cancel(id: pair.id, reason: reason), to: pair.alice))
            #expect(pair.receiver.transfers.isEmpty)
        }
    }

    @Test func anAcceptPastTheEndOrLeftOverIsNotObeyed() {
        var pair = BackToBack(size: Self.size, acceptAutomatically: false)
        pair.send()
        let past = pair.sender.receive(.accept(id: pair.id, offset: UInt64(Self.size) + 1), from: pair.bob)
        #expect(past.first == .send(.cancel(id: pair.id, reason: .badExchange), to: pair.bob))

        var again = BackToBack(size: Self.size)
        again.cutAfterChunks = 1
        again.send()
        // Already sending: an ACCEPT from an earlier offer changes nothing.
        #expect(again.sender.receive(.accept(id: again.id, offset: 0), from: again.bob).isEmpty)
        #expect(again.sender.nextChunk(again.id)?.offset == UInt64(FileBounds.maxChunkDataByteCount))
    }

    @Test func onePeerKeepsAtMostEightOffersOpen() {
        var receiver = FileTransfers(maxFileSize: .max, acceptAutomatically: false)
        let peer = SigningPrivateKey().publicKey
        var answers: [FileTransferAction] = []
        for _ in 0...FileTransfers.maxIncomingPerPeer {
            let offer = FileOffer(id: FileTransferID(SecureRandom.bytes(count: 16)), name: "x", size: 1, hash: HashFunction.sha256.hash([1]))
            answers = receiver.receive(.offer(offer), from: peer)
        }
        #expect(receiver.transfers.count == FileTransfers.maxIncomingPerPeer)
        if case .send(.refuse(_, .busy), _) = answers.first {} else { Issue.record("the ninth offer is refused as busy: \(answers)") }
    }

    @Test func anotherPeerCannotTouchATransferItDoesNotOwn() {
        var pair = BackToBack(size: Self.size, acceptAutomatically: false)
        pair.send()
        let mallory = SigningPrivateKey().publicKey
        #expect(pair.receiver.receive(.cancel(id: pair.id, reason: .cancelled), from: mallory).isEmpty)
        #expect(pair.sender.receive(.refuse(id: pair.id, reason: .declined), from: mallory).isEmpty)
        let clash = pair.receiver.receive(.offer(pair.offer), from: mallory)
        #expect(clash == [.send(.refuse(id: pair.id, reason: .badExchange), to: mallory)])
        #expect(pair.receiver[pair.id]?.state == .awaitingPerson)
    }
}

/// Safe names for received files: nothing of the sender's name is a path.
struct SafeFileNameTests {
    @Test func onlyTheLastComponentWithoutDotsOrControls() {
        #expect(SafeFileName.make(from: "../../evil") == "evil")
        #expect(SafeFileName.make(from: "/etc/passwd") == "passwd")
        #expect(SafeFileName.make(from: "..\\..\\win.ini") == "win.ini")
        #expect(SafeFileName.make(from: "..") == SafeFileName.fallback)
        #expect(SafeFileName.make(from: "a/") == SafeFileName.fallback)
        #expect(SafeFileName.make(from: ".bashrc") == "bashrc")
        #expect(SafeFileName.make(from: "re\u{1B}[2Jport\u{0}.pdf") == "re[2Jport.pdf")
        #expect(SafeFileName.make(from: "invoice\u{202E}fdp.exe") == "invoicefdp.exe")
        #expect(SafeFileName.make(from: "  spaced name.txt ") == "spaced name.txt")
        #expect(SafeFileName.make(from: "photo.jpg") == "photo.jpg")
    }

    @Test func longNamesAreCutKeepingTheExtension() {
        let name = SafeFileName.make(from: String(repeating: "é", count: 200) + ".tar.gz")
        #expect(name.utf8.count <= SafeFileName.maxBytes)
        #expect(name.hasSuffix(".gz"))
    }

    @Test func takenNamesGetANumber() {
        let taken: Set = ["a.txt", "a-1.txt", "README"]
        #expect(SafeFileName.unique("a.txt") { taken.contains($0) } == "a-2.txt")
        #expect(SafeFileName.unique("README") { taken.contains($0) } == "README-1")
        #expect(SafeFileName.unique("b.txt") { taken.contains($0) } == "b.txt")
        #expect(SafeFileName.unique("x", attempts: 3) { _ in true } == nil)
    }
}
