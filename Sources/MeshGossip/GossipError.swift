import MeshWire

/// Why the engine refused to post a message. Each case is a mistake a person can make and fix;
/// the cases are stable so a UI can map them to a sentence.
public enum GossipError: Error, Equatable, Sendable {
    /// The room name is not a valid name (1..64 bytes of UTF-8, no control characters).
    case invalidRoom
    /// The nickname is not a valid name (1..32 bytes of UTF-8, no control characters).
    case invalidNickname
    /// The text is empty or longer than 16384 bytes of UTF-8.
    case invalidTextLength
    /// A direct message's recipient key cannot be converted to an X25519 key, so nothing can be sealed to it.
    case invalidRecipient
    /// A direct message addressed to this node's own key.
    case directToSelf
    /// This author has used every sequence number (`UInt64.max` is already stored).
    case sequenceExhausted
    /// The envelope codec refused a field the checks above did not catch.
    case envelope(EnvelopeError)
}

extension GossipError: CustomStringConvertible {
    /// One sentence a person can act on; never includes key material or message text.
    public var description: String {
        switch self {
        case .invalidRoom: "A room name must be 1 to 64 bytes with no control characters."
        case .invalidNickname: "A nickname must be 1 to 32 bytes with no control characters."
        case .invalidTextLength: "A message must be 1 to 16384 bytes of text."
        case .invalidRecipient: "That key cannot receive direct messages."
        case .directToSelf: "A direct message cannot be sent to yourself."
        case .sequenceExhausted: "This identity has run out of sequence numbers; create a new identity."
        case .envelope: "The message could not be encoded."
        }
    }
}
