import MeshCrypto

/// Noise's SymmetricState (section 5.2): a CipherState plus the chaining key `ck` and the handshake hash `h`.
public struct SymmetricState: Sendable {
    /// The hash function of the protocol (HASH, HMAC-HASH, HKDF).
    public let hash: HashFunction
    private(set) var cipherState: CipherState
    private var ck: SecureBytes
    private var h: [UInt8]

    /// InitializeSymmetric(protocol_name).
    public init(protocolName: String, cipher: AEADCipher, hash: HashFunction) {
        self.hash = hash
        let name = Array(protocolName.utf8)
        // "If protocol_name is less than or equal to HASHLEN bytes in length, sets h equal to
        // protocol_name with zero bytes appended to make HASHLEN bytes. Otherwise sets h = HASH(protocol_name)."
        h = name.count <= hash.outputByteCount
            ? name + [UInt8](repeating: 0, count: hash.outputByteCount - name.count)
            : hash.hash(name)
        ck = SecureBytes(h)
        cipherState = CipherState(cipher: cipher)
    }

    /// MixKey(input_key_material): `ck, temp_k = HKDF(ck, ikm, 2)`, then InitializeKey(temp_k).
    public mutating func mixKey(_ inputKeyMaterial: SecureBytes) {
        let outputs = hash.hkdf(chainingKey: ck, inputKeyMaterial: inputKeyMaterial, outputs: 2)
        ck = outputs[0]
        cipherState.initializeKey(Self.truncatedKey(outputs[1]))
    }

    /// MixHash(data): `h = HASH(h || data)`.
    public mutating func mixHash(_ data: [UInt8]) {
        h = hash.hash(h, data)
    }

    /// MixKeyAndHash(input_key_material): for psk tokens (`ck, temp_h, temp_k = HKDF(ck, ikm, 3)`).
    public mutating func mixKeyAndHash(_ inputKeyMaterial: SecureBytes) {
        let outputs = hash.hkdf(chainingKey: ck, inputKeyMaterial: inputKeyMaterial, outputs: 3)
        ck = outputs[0]
        mixHash(outputs[1].unsafeBytes)
        cipherState.initializeKey(Self.truncatedKey(outputs[2]))
    }

    /// GetHandshakeHash(): `h`, for channel binding once the handshake is done.
    public func getHandshakeHash() -> [UInt8] { h }

    /// EncryptAndHash(plaintext): encrypts with `h` as associated data, then mixes the ciphertext into `h`.
    public mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipherState.encryptWithAd(h, plaintext: plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    /// DecryptAndHash(ciphertext): decrypts with `h` as associated data, then mixes the ciphertext into `h`.
    public mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipherState.decryptWithAd(h, ciphertext: ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// Split(): the two transport CipherStates; the first is the initiator's sending key.
    /// Consuming, so `ck` does not outlive the handshake.
    public consuming func split() -> (CipherState, CipherState) {
        let outputs = hash.hkdf(chainingKey: ck, inputKeyMaterial: SecureBytes([]), outputs: 2)
        let cipher = cipherState.cipher
        return (CipherState(cipher: cipher, key: Self.truncatedKey(outputs[0])),
                CipherState(cipher: cipher, key: Self.truncatedKey(outputs[1])))
    }

    /// "If HASHLEN is 64, then truncates temp_k to 32 bytes." (Noise section 5.2)
    private static func truncatedKey(_ tempK: SecureBytes) -> SecureBytes {
        tempK.count == AEADCipher.keyByteCount ? tempK : tempK.prefix(AEADCipher.keyByteCount)
    }
}

extension SymmetricState: CustomStringConvertible {
    /// The cipher state's public facts; never `ck`.
    public var description: String { "SymmetricState(\(hash.noiseName), \(cipherState))" }
}
