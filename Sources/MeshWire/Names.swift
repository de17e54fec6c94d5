/// PROTOCOL.md's *names*: "A *name* (a nickname or a room) is a `str` of 1..32 bytes (rooms
/// 1..64) with no character of Unicode category Cc."
public enum Names {
    /// Whether `s` may be sent as a nickname (handshake payload, envelope).
    public static func isValidNickname(_ s: String) -> Bool {
        isValidName(s, bytes: WireBounds.nicknameBytes)
    }

    /// Whether `s` may be sent as an envelope's room.
    public static func isValidRoom(_ s: String) -> Bool {
        isValidName(s, bytes: WireBounds.roomBytes)
    }

    /// Whether `scalar` is in Unicode general category Cc (Control): U+0000-U+001F and
    /// U+007F-U+009F. The Unicode stability policy freezes this set, so it is spelled out rather
    /// than taken from the standard library's (versioned) Unicode tables.
    /// The bound on a pinned peer's local name: "NAME is 1..32 of A-Za-z0-9._-" (DESIGN.md, trusted-peers file).
    public static let peerNameBytes = 1...32

    /// Whether `s` can name a pinned peer in the trusted-peers file (`/msg NAME`, `peer remove NAME`).
    /// Not a wire name: it never leaves the node, but the command line and the chat share its rule.
    public static func isValidPeerName(_ s: some StringProtocol) -> Bool {
        peerNameBytes.contains(s.utf8.count) && s.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    private static func isValidName(_ s: String, bytes range: ClosedRange<Int>) -> Bool {
        range.contains(s.utf8.count) && !s.unicodeScalars.contains(where: isControl)
    }
}
