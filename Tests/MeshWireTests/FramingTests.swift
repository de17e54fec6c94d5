import MeshWire
import Testing

struct FramingTests {
    @Test func goldenFrame() {
        #expect(Framing.frame([0xAA, 0xBB, 0xCC]) == [0x00, 0x03, 0xAA, 0xBB, 0xCC])
        #expect(Framing.frame([0x01]) == [0x00, 0x01, 0x01])
        let largest = Framing.frame([UInt8](repeating: 7, count: WireBounds.maxFrameLength))
        #expect(largest.prefix(2) == [0xFF, 0xFF])
        #expect(largest.count == 65537)
        #expect(Framing.lengthPrefixBytes == 2)
    }

    @Test func boundsAreThoseOfTheProtocol() {
        #expect(WireBounds.maxFrameLength == 65535)
        #expect(WireBounds.frameLength == 1...65535)
        #expect(WireBounds.maxPlaintextLength == 65519)
        #expect(WireBounds.nicknameBytes == 1...32)
        #expect(WireBounds.roomBytes == 1...64)
        #expect(WireBounds.roomBodyBytes == 1...16384)
        #expect(WireBounds.directBodyBytes == 49...16432)
        #expect(WireBounds.byeTextBytes == 0...256)
        #expect(WireBounds.maxHopLimit == 254)
        #expect(WireBounds.defaultHopLimit == 8)
        #expect(WireBounds.maxEnvelopeLength + 1 <= WireBounds.maxPlaintextLength)
    }

    @Test func decodesFramesFedOneByteAtATime() throws {
        let payloads: [[UInt8]] = [[1], [2, 3], Array(0..<200), [UInt8](repeating: 9, count: 300)]
        let stream = payloads.flatMap(Framing.frame)
        var decoder = FrameDecoder()
        var decoded: [[UInt8]] = []
        for byte in stream {
            decoder.append([byte])
            while let frame = try decoder.next() { decoded.append(frame) }
        }
        #expect(decoded == payloads)
        #expect(decoder.bufferedByteCount == 0)
        #expect(try decoder.next() == nil)
    }

    @Test func decodesManyFramesFromOneChunk() throws {
        let payloads: [[UInt8]] = (1...50).map { [UInt8](repeating: UInt8($0), count: $0 * 37) }
        var decoder = FrameDecoder()
        decoder.append(payloads.flatMap(Framing.frame))
        var decoded: [[UInt8]] = []
        while let frame = try decoder.next() { decoded.append(frame) }
        #expect(decoded == payloads)
    }

    @Test func needMoreBytesIsNil() throws {
        var decoder = FrameDecoder()
        #expect(try decoder.next() == nil)
        decoder.append([0x00])
        #expect(try decoder.next() == nil)
        decoder.append([0x03, 0xAA, 0xBB])
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedByteCount == 4)
        decoder.append([0xCC, 0x00])
        #expect(try decoder.next() == [0xAA, 0xBB, 0xCC])
        #expect(decoder.bufferedByteCount == 1)
    }

    @Test func maximalFrame() throws {
        let payload = [UInt8](repeating: 0x5A, count: 65535)
        var decoder = FrameDecoder()
        decoder.append(Framing.frame(payload))
        #expect(try decoder.next() == payload)
    }

    @Test func zeroLengthFrameIsAnError() throws {
        var decoder = FrameDecoder()
        decoder.append(Framing.frame([1]) + [0x00, 0x00, 0x00, 0x01, 0x02])
        #expect(try decoder.next() == [1])
        #expect(throws: WireError.zeroLengthFrame) { try decoder.next() }
        // The stream cannot be resynchronised: it keeps failing.
        #expect(throws: WireError.zeroLengthFrame) { try decoder.next() }
    }

    @Test func preambleThenFramesOnOneStream() throws {
        let preamble = Preamble(suite: .ikChaChaPolyBLAKE2b).encoded()
        var decoder = FrameDecoder()
        decoder.append(preamble.prefix(5))
        #expect(decoder.nextUnframed(count: Preamble.byteCount) == nil)
        decoder.append(preamble.dropFirst(5) + Framing.frame([42]))
        #expect(decoder.nextUnframed(count: Preamble.byteCount) == preamble)
        #expect(try decoder.next() == [42])
    }

    @Test func longStreamsCompact() throws {
        var decoder = FrameDecoder()
        var rng = XorShift(seed: 0xF4A3E)
        var expected: [[UInt8]] = []
        var decoded: [[UInt8]] = []
        var pending: [UInt8] = []
        for _ in 0..<400 {
            let payload = rng.bytes(1 + rng.below(600))
            expected.append(payload)
            pending += Framing.frame(payload)
            // Random chunk boundaries.
            while pending.count > 0, rng.below(3) != 0 {
                let take = min(pending.count, 1 + rng.below(900))
                decoder.append(pending.prefix(take))
                pending.removeFirst(take)
                while let frame = try decoder.next() { decoded.append(frame) }
            }
        }
        decoder.append(pending)
        while let frame = try decoder.next() { decoded.append(frame) }
        #expect(decoded == expected)
        #expect(decoder.bufferedByteCount == 0)
    }
}
