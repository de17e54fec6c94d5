// The fixed keys every fuzz target uses and the seed corpus (Fuzz/Corpus/TARGET/), built from
// valid items so the fuzzer starts deep inside each parser. Deterministic: the same bytes every
// time, so `MESHCHAT_WRITE_FUZZ_CORPUS=1 swift test --filter FuzzRegressionTests` remakes the
// committed corpus exactly (docs/fuzzing.md).
import MeshCrypto
import MeshGossip
import MeshNode
import MeshNoise
import MeshWire

/// Keys, clock and seeds shared by the fuzz targets and the corpus writer.
public enum FuzzCorpus {
    /// The listening node (RFC 8032 section 7.1 TEST 2 key pair).
    public static let responderKey = key(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
    /// The dialing node, trusted by the responder (RFC 8032 TEST 1 key pair).
    public static let initiator = key(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    /// A third author whose messages the sync store holds (RFC 8032 TEST 3 key pair).
    public static let author = key(
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025")
    /// The mesh pre-shared key of the psk suites' seeds.
    public static let preSharedKey = SecureBytes([UInt8](repeating: 0x42, count: 32))
    /// The fuzz targets' clock (ms since the epoch): envelopes up to 5 minutes later are not held.
    public static let now: UInt64 = 1_800_000_000_000

    static let responder = LinkIdentity(signingKey: responderKey, nickname: "bob", listenPort: 7777, preSharedKey: nil)
    static let responderWithPSK = LinkIdentity(signingKey: responderKey, nickname: "bob", listenPort: 7777, preSharedKey: preSharedKey)

    /// A store holding seqs 1...3 of `author` in room "general", for sync requests to be served from.
    static func syncStore() -> InMemoryMessageStore {
        let store = InMemoryMessageStore()
        for envelope in authorEnvelopes { _ = store.insert(envelope) }
        return store
    }

    private static let authorEnvelopes: [Envelope] = (1...3).map { seq in
        try! Envelope.signed(kind: .room, by: author, seq: seq, timestamp: now - 1000 + seq, nickname: "cy",
                             room: "general", recipient: nil, body: Array("hello \(seq)".utf8))
    }

    /// The seeds of `target`, by file name.
    public static func seeds(for target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        switch target {
        case .frameDecoder:
            return [
                ("one-frame", [0xFF] + Framing.frame([1, 2, 3])),
                ("split-frames", [0x02] + Framing.frame([UInt8](repeating: 9, count: 300)) + Framing.frame([7])),
                ("preamble-like", [0x00] + Preamble(suite: .ikChaChaPolyBLAKE2b).encoded()),
                ("zero-length", [0x10, 0x00, 0x01, 0x05, 0x00, 0x00]),
            ]
        case .handshakeResponder:
            return [
                ("ik-chachapoly", opening(cipher: .chaChaPoly, psk: false)),
                ("ik-aesgcm", opening(cipher: .aesGCM, psk: false)),
                ("ikpsk2-chachapoly", opening(cipher: .chaChaPoly, psk: true)),
                ("ikpsk2-aesgcm", opening(cipher: .aesGCM, psk: true)),
                ("preamble-only", Preamble(suite: .ikChaChaPolyBLAKE2b).encoded()),
            ]
        case .plaintextDispatch:
            let frames: [[UInt8]] = [
                Plaintext.ping(token: 7).encoded(),
                Plaintext.pong(token: 7).encoded(),
                Plaintext.message(envelope: authorEnvelopes[0].encoded()).encoded(),
                Plaintext.message(envelope: directEnvelope.encoded()).encoded(),
                SyncMessage.done(id: 1).encoded(),
                [0x7E, 1, 2, 3],
                Plaintext.bye(reason: .idle, text: "idle").encoded(),
            ]
            return [("session", frames.flatMap(Framing.frame)),
                    ("message", Framing.frame(frames[2]))]
        case .envelope:
            return [("room", authorEnvelopes[0].encoded()),
                    ("direct", directEnvelope.encoded()),
                    ("hops", authorEnvelopes[1].withHops(5).encoded())]
        case .syncMessages:
            let frontier = SyncMessage.frontier(last: true, entries: [
                FrontierEntry(author: author.publicKey, contiguous: 0, highest: 0),
                FrontierEntry(author: initiator.publicKey, contiguous: 4, highest: 9),
            ].sorted { $0.author < $1.author })
            let request = SyncMessage.request(id: 1, ranges: [SyncRange(author: author.publicKey, after: 0, through: 3)])
            return [("frontier", Framing.frame(frontier.encoded())),
                    ("request", Framing.frame(request.encoded())),
                    ("session", [frontier, request, .done(id: 1)].flatMap { Framing.frame($0.encoded()) })]
        case .fileMessages:
            let id = FileTransferID([UInt8](repeating: 0xA5, count: FileBounds.transferIDByteCount))
            let offer = FileMessage.offer(FileOffer(id: id, name: "../../evil.sh", size: 3, hash: [UInt8](repeating: 7, count: FileBounds.hashByteCount)))
            let session: [FileMessage] = [offer, .accept(id: id, offset: 0), .chunk(id: id, offset: 0, data: [1, 2, 3]),
                                          .received(id: id), .refuse(id: id, reason: .declined), .cancel(id: id, reason: .cancelled)]
            return [("offer", Framing.frame(offer.encoded())),
                    ("session", session.flatMap { Framing.frame($0.encoded()) })]
        case .trustedPeers:
            let text = """
                # name key [host:port]
                alice \(initiator.publicKey.base64) 127.0.0.1:7777
                bob \(responderKey.publicKey.base64) [::1]:7001
                cy \(author.publicKey.base64)

                """
            return [("peers", Array(text.utf8)),
                    ("hostname", Array("dee \(author.publicKey.base64) mesh.example.org:80\n".utf8))]
        }
    }

    /// A direct message from `author` to the responder. Its body is fixed bytes of a sealed box's
    /// length rather than a real (randomised) seal, so the seed is the same every time.
    private static let directEnvelope = try! Envelope.signed(
        kind: .direct, by: author, seq: 4, timestamp: now, nickname: "cy", room: "",
        recipient: responderKey.publicKey, body: [UInt8](repeating: 7, count: 60))

    /// The bytes a trusted initiator sends first: preamble and framed message 1, with a fixed ephemeral key.
    private static func opening(cipher: AEADCipher, psk: Bool) -> [UInt8] {
        let identity = LinkIdentity(signingKey: initiator, nickname: "ann", listenPort: 7001,
                                    preSharedKey: psk ? preSharedKey : nil)
        let ephemeral = try! KeyAgreementPrivateKey(rawRepresentation: SecureBytes([UInt8](repeating: 0x24, count: 32)))
        var handshake = try! InitiatorHandshake(identity: identity, pinnedPeer: responderKey.publicKey, cipher: cipher,
                                                timestamp: 1, ephemeralKey: ephemeral)
        return try! handshake.start()
    }

    private static func key(_ seed: String, _ publicKey: String) -> SigningPrivateKey {
        try! SigningPrivateKey(rawRepresentation: SecureBytes(hex(seed) + hex(publicKey)))
    }

    private static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
