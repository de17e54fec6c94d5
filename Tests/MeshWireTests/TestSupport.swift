import MeshCrypto
import MeshWire

/// A tiny deterministic generator (xorshift64*), so fuzz-style loops replay byte for byte.
struct XorShift {
    private var state: UInt64

    init(seed: UInt64) {
        precondition(seed != 0)
        state = seed
    }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    /// A value in 0..<bound.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next() % UInt64(bound))
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in byte() } }
}

/// Bytes from hex text (test literals only).
func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8.filter { $0 != UInt8(ascii: " ") })
    precondition(digits.count % 2 == 0)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

/// The RFC 8032 section 7.1 TEST 1 key pair, so golden signatures are reproducible anywhere.
enum FixedKeys {
    static let seed = hexBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    static let publicBytes = hexBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    static let author = try! SigningPrivateKey(rawRepresentation: SecureBytes(seed + publicBytes))
}

/// An envelope laid out field by field with raw bytes, so tests can write what `Envelope.signed`
/// never would: wrong lengths, reserved kinds, bad UTF-8.
struct RawEnvelope {
    var version: UInt8 = 1
    var kind: UInt8 = 1
    var author: [UInt8] = FixedKeys.publicBytes
    var seq: UInt64 = 1
    var timestamp: UInt64 = 1_700_000_000_000
    var nickname: [UInt8] = Array("ann".utf8)
    var nicknameLength: UInt16?
    var room: [UInt8] = Array("general".utf8)
    var roomLength: UInt16?
    var recipient: [UInt8] = [UInt8](repeating: 0, count: 32)
    var body: [UInt8] = Array("hi".utf8)
    var bodyLength: UInt32?
    /// nil: a real signature by `FixedKeys.author` over the signed part.
    var signature: [UInt8]?
    var hops: UInt8 = 0

    var signedPart: [UInt8] {
        var w = ByteWriter()
        w.u8(version)
        w.u8(kind)
        w.raw(author)
        w.u64(seq)
        w.u64(timestamp)
        w.u16(nicknameLength ?? UInt16(nickname.count))
        w.raw(nickname)
        w.u16(roomLength ?? UInt16(room.count))
        w.raw(room)
        w.raw(recipient)
        w.u32(bodyLength ?? UInt32(body.count))
        w.raw(body)
        return w.bytes
    }

    var bytes: [UInt8] {
        let signed = signedPart
        return signed + (signature ?? FixedKeys.author.signature(for: signed)) + [hops]
    }

    /// A well-formed direct envelope to `recipient`, with a body of `bodyCount` bytes.
    static func direct(to recipient: SigningPublicKey, bodyCount: Int = 60) -> RawEnvelope {
        var raw = RawEnvelope()
        raw.kind = 2
        raw.room = []
        raw.recipient = recipient.rawRepresentation
        raw.body = [UInt8](repeating: 0xAB, count: bodyCount)
        return raw
    }
}

/// A second identity whose key converts to X25519, for direct messages.
let recipientKey = SigningPrivateKey()

/// An Ed25519 encoding libsodium refuses to convert: the identity point (y = 1), of small order.
let unconvertibleKey: [UInt8] = [1] + [UInt8](repeating: 0, count: 31)
