// The fuzz targets' bodies, shared by the libFuzzer executables of the Fuzz package and by
// Tests/MeshNodeTests/FuzzRegressionTests.swift (which compiles this same file through a symlink),
// so every reproducer and seed replays in `swift test` exactly as the fuzzer ran it.
//
// Each body feeds hostile bytes to one parser or pure state machine the way the node does and
// checks what must always hold; anything that traps, leaks or hangs is a finding (docs/fuzzing.md).
import MeshCrypto
import MeshGossip
import MeshNode
import MeshNoise
import MeshWire

/// One libFuzzer target: a name (its corpus folder and executable suffix) and a body.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `FrameDecoder` fed the input in chunks whose sizes the input chooses.
    case frameDecoder = "frame-decoder"
    /// A responder's preamble check and message 1, as a listening node reads an accepted connection.
    case handshakeResponder = "handshake-responder"
    /// Transport plaintexts dispatched as `LinkHandler` does: PING/PONG/BYE, MESSAGE into a gossip engine, sync types parsed.
    case plaintextDispatch = "plaintext-dispatch"
    /// One envelope: parse, signature check, exact re-encoding.
    case envelope = "envelope"
    /// Sync messages parsed and driven through a `SyncCoordinator`.
    case syncMessages = "sync-messages"
    /// The trusted-peers file parser.
    case trustedPeers = "trusted-peers"
    /// File-transfer plaintexts (0x20-0x25) parsed exactly, and the name an offer would land under.
    case fileMessages = "file-messages"

    /// Runs the target on one input. Returns normally for every input; a trap is a finding.
    public func run(_ input: [UInt8]) {
        switch self {
        case .frameDecoder: Self.fuzzFrameDecoder(input)
        case .handshakeResponder: Self.fuzzHandshakeResponder(input)
        case .plaintextDispatch: Self.fuzzPlaintextDispatch(input)
        case .envelope: Self.fuzzEnvelope(input)
        case .syncMessages: Self.fuzzSyncMessages(input)
        case .trustedPeers: Self.fuzzTrustedPeers(input)
        case .fileMessages: Self.fuzzFileMessages(input)
        }
    }

    // MARK: Targets

    /// The first byte picks a chunk size, so the fuzzer explores how bytes arrive as well as what they are.
    private static func fuzzFrameDecoder(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let chunk = Int(first) + 1
        var decoder = FrameDecoder()
        var consumed = 0
        var index = 1
        while index < input.count {
            let end = min(index + chunk, input.count)
            decoder.append(input[index..<end])
            index = end
            do {
                while let frame = try decoder.next() {
                    check(WireBounds.frameLength.contains(frame.count), "a decoded frame has a legal length")
                    consumed += Framing.lengthPrefixBytes + frame.count
                }
            } catch {
                check(error == .zeroLengthFrame, "the only framing error is a zero length")
                return
            }
        }
        check(consumed + decoder.bufferedByteCount == input.count - 1, "no byte is lost or invented")
    }

    /// "the preamble and responder side of the handshake": the first 8 bytes are the preamble, then
    /// frames; the first frame is message 1. The initiator `FuzzCorpus.initiator` is trusted, so
    /// seeds reach message 2; a psk suite is answered by a node holding `FuzzCorpus.preSharedKey`.
    private static func fuzzHandshakeResponder(_ input: [UInt8]) {
        guard input.count >= Preamble.byteCount else { return }
        let preamble = Array(input.prefix(Preamble.byteCount))
        let usesPSK = (try? Preamble.parse(preamble))?.suite.usesPreSharedKey ?? false
        var responder = ResponderHandshake(identity: usesPSK ? FuzzCorpus.responderWithPSK : FuzzCorpus.responder)
        do { try responder.receive(preamble: preamble) } catch { return }
        var decoder = FrameDecoder()
        decoder.append(input.dropFirst(Preamble.byteCount))
        guard let message1 = try? decoder.next() else { return }
        let trusted = FuzzCorpus.initiator.publicKey
        guard let answer = try? responder.receive(
            message1: message1, timestamp: 2, pinnedStaticKey: { $0 == trusted ? try? $0.keyAgreementKey() : nil }
        ).unlessReplayed(lastAccepted: 0) else { return }
        check(answer.link.remote.identity == trusted, "only the trusted initiator gets message 2")
        check(answer.message2.count > Framing.lengthPrefixBytes, "message 2 is a frame")
    }

    /// Frames of transport plaintexts, dispatched the way `LinkHandler.handlePlaintext` does.
    private static func fuzzPlaintextDispatch(_ input: [UInt8]) {
        var decoder = FrameDecoder()
        decoder.append(input)
        var gossip = GossipEngine(identity: FuzzCorpus.responderKey, store: InMemoryMessageStore())
        let peer = FuzzCorpus.initiator.publicKey
        gossip.linkUp(peer)
        while let frame = try? decoder.next() {
            guard let plaintext = try? Plaintext.parse(frame) else { return } // BYE 2 and close
            // Parsed exactly: it re-encodes to its bytes, except that "an unknown [BYE] reason reads as 0"
            // (PROTOCOL.md 5), so a BYE is compared after its reason byte (Fuzz/Regressions/plaintext-dispatch).
            let reencoded = plaintext.encoded()
            if case .bye = plaintext {
                check(reencoded.dropFirst(2).elementsEqual(frame.dropFirst(2)), "a BYE re-encodes its text exactly")
            } else {
                check(reencoded == frame, "a plaintext re-encodes to the bytes it came from")
            }
            switch plaintext {
            case .ping, .pong:
                break // the PONG echoes the token
            case .message(let envelope):
                guard let actions = try? gossip.receive(envelope, from: peer, now: FuzzCorpus.now) else { return }
                // Too many invalid envelopes: the node closes the link (BYE 3).
                if actions.contains(where: { if case .disconnect = $0 { true } else { false } }) { return }
            case .bye(_, let text):
                check(WireBounds.byeTextBytes.contains(text.utf8.count), "a BYE text is in range")
                return
            case .unknown(let type, let body) where SyncMessageType.isKnown(type):
                guard (try? SyncMessage.parse(type: type, body: body)) != nil else { return } // BYE 2 and close
            case .unknown:
                break // "A node ignores plaintext types it does not know."
            }
        }
    }

    /// An envelope that parses must re-encode to exactly its bytes ("parsed exactly").
    private static func fuzzEnvelope(_ input: [UInt8]) {
        guard let envelope = try? Envelope.parse(input) else { return }
        _ = envelope.hasValidSignature
        check(envelope.encoded() == input, "an envelope re-encodes to the bytes it came from")
    }

    /// The first byte of each frame is the sync type; parsed messages drive a coordinator that
    /// serves from a small store, as a linked peer would see it.
    private static func fuzzSyncMessages(_ input: [UInt8]) {
        var decoder = FrameDecoder()
        decoder.append(input)
        var sync = SyncCoordinator(store: FuzzCorpus.syncStore(), ownKey: FuzzCorpus.responderKey.publicKey)
        let peer = FuzzCorpus.initiator.publicKey
        guard (try? sync.linkUp(peer)) != nil else { return }
        while let frame = try? decoder.next(), let type = frame.first {
            guard SyncMessageType.isKnown(type) else { return } // not a sync frame: not this target's business
            guard let message = try? SyncMessage.parse(type: type, body: frame.dropFirst()) else { return }
            check(message.encoded() == frame, "a sync message re-encodes to the bytes it came from")
            do { _ = try sync.receive(message, from: peer) } catch { return } // a sync protocol error closes the link
            // Serve what was asked, as NodeCore.resumeSync does, with a bound so a hang is a finding.
            for _ in 0..<64 {
                guard case .envelopes(_)? = try? sync.nextBatch(for: peer, limit: 16) else { break }
            }
        }
    }

    private static func fuzzTrustedPeers(_ input: [UInt8]) {
        guard let peers = try? TrustedPeers(parsing: String(decoding: input, as: UTF8.self)) else { return }
        for peer in peers.peers {
            check(peers.peer(withKey: peer.key) != nil, "every parsed peer is found by its key")
        }
    }

    /// Frames of file plaintexts: each parses exactly or is a protocol error (BYE 2), and an
    /// offer's name, made safe, can never leave `downloads/` (docs/file-transfer.md).
    private static func fuzzFileMessages(_ input: [UInt8]) {
        var decoder = FrameDecoder()
        decoder.append(input)
        while let frame = try? decoder.next(), let type = frame.first {
            guard FileMessageType.isKnown(type) else { return } // ignored by a node
            guard let message = try? FileMessage.parse(type: type, body: frame.dropFirst()) else { return }
            switch message {
            case .refuse, .cancel:
                // An unknown reason byte reads as 0 (FileStopReason), so the reason is left out.
                check(message.encoded().dropLast().elementsEqual(frame.dropLast()), "a file message re-encodes its id")
            default:
                check(message.encoded() == frame, "a file message re-encodes to the bytes it came from")
            }
            if case .offer(let offer) = message {
                let name = SafeFileName.make(from: offer.name)
                check(!name.isEmpty && name != "." && name != ".." && !name.hasPrefix("."), "a safe name is a plain name")
                check(!name.contains("/") && !name.contains("\\"), "a safe name has no separator")
                check(name.utf8.count <= SafeFileName.maxBytes, "a safe name is bounded")
            }
        }
    }

    private static func check(_ condition: Bool, _ what: String) {
        precondition(condition, "fuzz invariant broken: \(what)")
    }
}
