import MeshCrypto
import MeshWire
import Testing

struct HandshakePayloadTests {
    let sample = HandshakePayload(
        identity: FixedKeys.author.publicKey, timestamp: 0x0102_0304_0506_0708, listenPort: 7777, features: 0, nickname: "ann")

    @Test func goldenBytes() throws {
        let golden: [UInt8] = [0x01] + FixedKeys.publicBytes
            + [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]  // timestamp
            + [0x1E, 0x61]  // 7777
            + [0x00, 0x00, 0x00, 0x00]  // features
            + [0x00, 0x03, 0x61, 0x6E, 0x6E]  // "ann"
        #expect(sample.encoded() == golden)
        #expect(try HandshakePayload.parse(golden) == sample)
    }

    @Test func roundTrips() throws {
        let payloads = [
            sample,
            HandshakePayload(identity: SigningPrivateKey().publicKey, timestamp: .max, listenPort: 0, features: .max,
                             nickname: String(repeating: "x", count: 32)),
            HandshakePayload(identity: SigningPrivateKey().publicKey, timestamp: 0, listenPort: .max, nickname: "🦊 Renée"),
        ]
        for payload in payloads {
            #expect(try HandshakePayload.parse(payload.encoded()) == payload)
        }
        #expect(payloads[1].encoded().count == WireBounds.maxHandshakePayloadLength)
        #expect(HandshakePayload.currentVersion == 1)
    }

    @Test func unknownFeatureBitsAreIgnored() throws {
        var payload = sample
        payload.features = 0xDEAD_BEEF
        #expect(try HandshakePayload.parse(payload.encoded()).features == 0xDEAD_BEEF)
    }

    @Test func everyTruncationAndTrailingByte() {
        let bytes = sample.encoded()
        for count in 0..<bytes.count {
            #expect(throws: WireError.truncated) { try HandshakePayload.parse(bytes.prefix(count)) }
        }
        #expect(throws: WireError.trailingBytes) { try HandshakePayload.parse(bytes + [0]) }
    }

    @Test func rejections() throws {
        let bytes = sample.encoded()
        var version2 = bytes
        version2[0] = 2
        #expect(throws: WireError.unsupportedVersion) { try HandshakePayload.parse(version2) }
        var version0 = bytes
        version0[0] = 0
        #expect(throws: WireError.unsupportedVersion) { try HandshakePayload.parse(version0) }

        let head = Array(bytes.prefix(bytes.count - 5))
        func withNickname(_ raw: [UInt8]) -> [UInt8] { head + [UInt8(raw.count >> 8), UInt8(raw.count & 0xFF)] + raw }
        #expect(try HandshakePayload.parse(withNickname(Array("bob".utf8))).nickname == "bob")
        #expect(throws: WireError.invalidName) { try HandshakePayload.parse(withNickname([])) }
        #expect(throws: WireError.invalidName) { try HandshakePayload.parse(withNickname([UInt8](repeating: 0x61, count: 33))) }
        #expect(throws: WireError.invalidName) { try HandshakePayload.parse(withNickname([0x61, 0x0A])) }
        #expect(throws: WireError.invalidName) { try HandshakePayload.parse(withNickname([0x61, 0xC2, 0x85])) }  // U+0085
        #expect(throws: WireError.invalidUTF8) { try HandshakePayload.parse(withNickname([0x61, 0xFF])) }
        // A nickname length that runs past the end.
        #expect(throws: WireError.truncated) { try HandshakePayload.parse(head + [0xFF, 0xFF, 0x61]) }
    }
}
