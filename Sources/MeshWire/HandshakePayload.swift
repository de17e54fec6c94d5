import MeshCrypto

/// The payload both handshake messages carry (PROTOCOL.md 4), "parsed exactly":
/// `u8 payload_version`, `key32 identity`, `u64 timestamp`, `u16 listen_port`, `u32 features`,
/// `name nickname`.
public struct HandshakePayload: Equatable, Sendable {
    /// "payload_version | u8 | 1". "New payload fields come only with a new `payload_version`."
    public static let currentVersion: UInt8 = 1

    /// The sender's Ed25519 public key. Whether its X25519 form matches the static key the
    /// handshake authenticated is checked by the handshake, not here.
    public var identity: SigningPublicKey
    /// Nanoseconds since the Unix epoch, strictly increasing per sender.
    public var timestamp: UInt64
    /// The TCP port the sender listens on, 0 if none.
    public var listenPort: UInt16
    /// Bit flags, 0 for now; "unknown bits are ignored", so any value parses.
    public var features: UInt32
    /// The sender's display name; must be a valid nickname (`Names.isValidNickname`).
    public var nickname: String

    /// A payload; `nickname` must be a valid name when it is encoded.
    public init(identity: SigningPublicKey, timestamp: UInt64, listenPort: UInt16, features: UInt32 = 0, nickname: String) {
        self.identity = identity
        self.timestamp = timestamp
        self.listenPort = listenPort
        self.features = features
        self.nickname = nickname
    }

    /// The payload bytes (at most `WireBounds.maxHandshakePayloadLength`). Encoding an invalid
    /// nickname is our own mistake: validate names where a person types them.
    public func encoded() -> [UInt8] {
        precondition(Names.isValidNickname(nickname), "a handshake nickname must be a valid name")
        var writer = ByteWriter(capacity: WireBounds.maxHandshakePayloadLength)
        writer.u8(Self.currentVersion)
        writer.key32(identity.rawRepresentation)
        writer.u64(timestamp)
        writer.u16(listenPort)
        writer.u32(features)
        writer.str(nickname)
        return writer.bytes
    }

    /// Parses a payload exactly: version 1, every field present, a valid nickname, nothing after it.
    public static func parse(_ bytes: some Collection<UInt8>) throws(WireError) -> HandshakePayload {
        var reader = ByteReader(bytes)
        // Checked first: a later version may lay out what follows differently.
        guard try reader.u8() == currentVersion else { throw .unsupportedVersion }
        let identityBytes = try reader.key32()
        let timestamp = try reader.u64()
        let listenPort = try reader.u16()
        let features = try reader.u32()
        let nickname = try reader.str()
        try reader.expectEnd()
        guard Names.isValidNickname(nickname) else { throw .invalidName }
        guard let identity = try? SigningPublicKey(rawRepresentation: identityBytes) else { throw .invalidField }
        return HandshakePayload(
            identity: identity, timestamp: timestamp, listenPort: listenPort, features: features, nickname: nickname)
    }
}
