import MeshCrypto

/// The four suites of PROTOCOL.md 3, by their preamble byte.
public enum Suite: UInt8, CaseIterable, Sendable {
    /// 0x01, `Noise_IK_25519_ChaChaPoly_BLAKE2b`: nodes without a mesh pre-shared key.
    case ikChaChaPolyBLAKE2b = 1
    /// 0x02, `Noise_IK_25519_AESGCM_SHA256`: nodes without a mesh pre-shared key.
    case ikAESGCMSHA256 = 2
    /// 0x03, `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b`: nodes with a mesh pre-shared key.
    case ikpsk2ChaChaPolyBLAKE2b = 3
    /// 0x04, `Noise_IKpsk2_25519_AESGCM_SHA256`: nodes with a mesh pre-shared key.
    case ikpsk2AESGCMSHA256 = 4

    /// The Noise protocol name of the suite table, which is also what the handshake hashes.
    public var noiseProtocolName: String {
        "Noise_\(usesPreSharedKey ? "IKpsk2" : "IK")_25519_\(cipher.noiseName)_\(hash.noiseName)"
    }

    /// Whether the suite is an IKpsk2 one, "accepted by every node with a mesh pre-shared key".
    public var usesPreSharedKey: Bool {
        switch self {
        case .ikChaChaPolyBLAKE2b, .ikAESGCMSHA256: false
        case .ikpsk2ChaChaPolyBLAKE2b, .ikpsk2AESGCMSHA256: true
        }
    }

    /// The suite's AEAD.
    public var cipher: AEADCipher {
        switch self {
        case .ikChaChaPolyBLAKE2b, .ikpsk2ChaChaPolyBLAKE2b: .chaChaPoly
        case .ikAESGCMSHA256, .ikpsk2AESGCMSHA256: .aesGCM
        }
    }

    /// The suite's hash: the table pairs ChaChaPoly with BLAKE2b and AESGCM with SHA256.
    public var hash: HashFunction {
        switch self {
        case .ikChaChaPolyBLAKE2b, .ikpsk2ChaChaPolyBLAKE2b: .blake2b
        case .ikAESGCMSHA256, .ikpsk2AESGCMSHA256: .sha256
        }
    }

    /// The suite an initiator sends: "An initiator uses the ChaChaPoly suite unless its operator
    /// chose AESGCM", IKpsk2 when its mesh has a pre-shared key.
    public static func suite(cipher: AEADCipher, preSharedKey: Bool) -> Suite {
        switch (cipher, preSharedKey) {
        case (.chaChaPoly, false): .ikChaChaPolyBLAKE2b
        case (.aesGCM, false): .ikAESGCMSHA256
        case (.chaChaPoly, true): .ikpsk2ChaChaPolyBLAKE2b
        case (.aesGCM, true): .ikpsk2AESGCMSHA256
        }
    }
}

extension Suite: CustomStringConvertible {
    /// The Noise protocol name.
    public var description: String { noiseProtocolName }
}
