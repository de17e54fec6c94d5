import MeshCrypto
import MeshWire
import Testing

struct PreambleTests {
    @Test func goldenBytes() throws {
        // "ASCII MESH (4D 45 53 48), u8 version = 1, u8 suite, u16 reserved = 0" (PROTOCOL.md 3)
        let golden: [UInt8] = [0x4D, 0x45, 0x53, 0x48, 0x01, 0x01, 0x00, 0x00]
        #expect(Preamble(suite: .ikChaChaPolyBLAKE2b).encoded() == golden)
        #expect(try Preamble.parse(golden) == Preamble(suite: .ikChaChaPolyBLAKE2b))
        #expect(Preamble(suite: .ikpsk2AESGCMSHA256).encoded() == [0x4D, 0x45, 0x53, 0x48, 0x01, 0x04, 0x00, 0x00])
        #expect(Preamble.byteCount == 8)
        #expect(Preamble.magic == Array("MESH".utf8))
    }

    @Test(arguments: Suite.allCases)
    func roundTrip(suite: Suite) throws {
        let preamble = Preamble(suite: suite)
        let bytes = preamble.encoded()
        #expect(bytes.count == Preamble.byteCount)
        #expect(bytes[5] == suite.rawValue)
        #expect(try Preamble.parse(bytes) == preamble)
        #expect(try Preamble.parse(bytes[...]) == preamble)
    }

    @Test func suiteTable() {
        #expect(Suite.allCases.map(\.rawValue) == [1, 2, 3, 4])
        #expect(Suite.ikChaChaPolyBLAKE2b.noiseProtocolName == "Noise_IK_25519_ChaChaPoly_BLAKE2b")
        #expect(Suite.ikAESGCMSHA256.noiseProtocolName == "Noise_IK_25519_AESGCM_SHA256")
        #expect(Suite.ikpsk2ChaChaPolyBLAKE2b.noiseProtocolName == "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b")
        #expect(Suite.ikpsk2AESGCMSHA256.noiseProtocolName == "Noise_IKpsk2_25519_AESGCM_SHA256")
        #expect(Suite.allCases.map(\.usesPreSharedKey) == [false, false, true, true])
        #expect(Suite.allCases.map(\.cipher) == [.chaChaPoly, .aesGCM, .chaChaPoly, .aesGCM])
        #expect(Suite.allCases.map(\.hash) == [.blake2b, .sha256, .blake2b, .sha256])
        for suite in Suite.allCases {
            #expect(Suite.suite(cipher: suite.cipher, preSharedKey: suite.usesPreSharedKey) == suite)
        }
    }

    @Test func rejections() {
        let good = Preamble(suite: .ikAESGCMSHA256).encoded()
        func with(_ index: Int, _ value: UInt8) -> [UInt8] {
            var bytes = good
            bytes[index] = value
            return bytes
        }
        #expect(throws: WireError.badMagic) { try Preamble.parse(with(0, 0x6D)) }
        #expect(throws: WireError.badMagic) { try Preamble.parse(with(3, 0x00)) }
        #expect(throws: WireError.unsupportedVersion) { try Preamble.parse(with(4, 2)) }
        #expect(throws: WireError.unsupportedVersion) { try Preamble.parse(with(4, 0)) }
        #expect(throws: WireError.unknownSuite) { try Preamble.parse(with(5, 0)) }
        #expect(throws: WireError.unknownSuite) { try Preamble.parse(with(5, 5)) }
        #expect(throws: WireError.unknownSuite) { try Preamble.parse(with(5, 0xFF)) }
        #expect(throws: WireError.nonZeroReserved) { try Preamble.parse(with(6, 1)) }
        #expect(throws: WireError.nonZeroReserved) { try Preamble.parse(with(7, 1)) }
        for count in 0..<Preamble.byteCount {
            #expect(throws: WireError.truncated) { try Preamble.parse(good.prefix(count)) }
        }
        #expect(throws: WireError.trailingBytes) { try Preamble.parse(good + [0]) }
    }
}
