import MeshCrypto

/// The two CipherStates of an established Noise session, oriented for one party, with
/// PROTOCOL.md section 5's rekeying schedule.
///
/// It holds nothing of the handshake: there is no way back from transport to handshake.
public struct TransportState: Sendable {
    /// "A CipherState is rekeyed right after the operation that makes its nonce a non-zero
    /// multiple of 65536" (PROTOCOL.md 5).
    public static let rekeyInterval: UInt64 = 65536

    private var sending: CipherState
    private var receiving: CipherState

    /// Wraps the CipherState this party encrypts with and the one it decrypts with.
    public init(sending: CipherState, receiving: CipherState) {
        precondition(sending.hasKey && receiving.hasKey, "a transport needs keyed CipherStates")
        self.sending = sending
        self.receiving = receiving
    }

    /// Transport messages sent so far (the sending nonce).
    public var sendingNonce: UInt64 { sending.nonce }
    /// Transport messages received so far (the receiving nonce).
    public var receivingNonce: UInt64 { receiving.nonce }

    /// Encrypts one transport message, with empty associated data.
    public mutating func encrypt(_ plaintext: some Collection<UInt8>) throws(NoiseError) -> [UInt8] {
        // PROTOCOL.md 5: "one plaintext is at most 65519 bytes".
        guard plaintext.count <= NoiseLimits.maxTransportPayloadByteCount else { throw .messageTooLong }
        let ciphertext = try sending.encryptWithAd([], plaintext: plaintext)
        Self.rekeyIfDue(&sending)
        return ciphertext
    }

    /// Decrypts one transport message; a failure is ``NoiseError/decryptionFailed`` and leaves the state unchanged.
    public mutating func decrypt(_ ciphertext: some Collection<UInt8>) throws(NoiseError) -> [UInt8] {
        guard ciphertext.count <= NoiseLimits.maxMessageByteCount else { throw .messageTooLong }
        let plaintext = try receiving.decryptWithAd([], ciphertext: ciphertext)
        Self.rekeyIfDue(&receiving)
        return plaintext
    }

    /// Encrypts one transport message (empty associated data) from `plaintext` into `output`,
    /// which holds at least `plaintext.count + AEADCipher.tagByteCount` bytes; returns the bytes
    /// written. The link encrypts this way, in place in its outgoing buffer: `plaintext` may be
    /// the first bytes of `output` (`AEADKey.seal`).
    public mutating func encrypt(_ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard plaintext.count <= NoiseLimits.maxTransportPayloadByteCount else { throw .messageTooLong }
        let written = try sending.encryptWithAd(UnsafeRawBufferPointer(start: nil, count: 0), plaintext: plaintext, into: output)
        Self.rekeyIfDue(&sending)
        return written
    }

    /// Decrypts one transport message from `ciphertext` into `output`, which holds at least
    /// `ciphertext.count - AEADCipher.tagByteCount` bytes; returns the bytes written. A failure is
    /// ``NoiseError/decryptionFailed`` and leaves the state unchanged.
    public mutating func decrypt(_ ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard ciphertext.count <= NoiseLimits.maxMessageByteCount else { throw .messageTooLong }
        guard ciphertext.count >= AEADCipher.tagByteCount else { throw .decryptionFailed }
        let written = try receiving.decryptWithAd(UnsafeRawBufferPointer(start: nil, count: 0), ciphertext: ciphertext, into: output)
        Self.rekeyIfDue(&receiving)
        return written
    }

    /// "`k = REKEY(k)` ... The nonce keeps counting. Both ends do this at the same message, with no signal." (PROTOCOL.md 5)
    private static func rekeyIfDue(_ cipherState: inout CipherState) {
        if cipherState.nonce % rekeyInterval == 0 {
            cipherState.rekey()
        }
    }
}

extension TransportState: CustomStringConvertible {
    /// Nonces only; never a key.
    public var description: String { "TransportState(sent: \(sending.nonce), received: \(receiving.nonce))" }
}
