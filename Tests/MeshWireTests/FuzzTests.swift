import MeshCrypto
import MeshWire
import Testing

/// Random and mutated byte strings into every parser. The only assertions are that nothing traps
/// and that whatever parses re-encodes to exactly the bytes it came from ("parsed exactly").
struct FuzzTests {
    static let iterations = 4000

    /// Valid items of every kind, to mutate.
    static let seeds: [[UInt8]] = {
        let payload = HandshakePayload(identity: FixedKeys.author.publicKey, timestamp: 99, listenPort: 7777, nickname: "ann")
        let direct = try! Envelope.signed(
            kind: .direct, by: FixedKeys.author, seq: 2, timestamp: 3, nickname: "ann", room: "",
            recipient: recipientKey.publicKey, body: [UInt8](repeating: 7, count: 60))
        return [
            Preamble(suite: .ikpsk2ChaChaPolyBLAKE2b).encoded(),
            payload.encoded(),
            Plaintext.ping(token: 1).encoded(),
            Plaintext.bye(reason: .idle, text: "idle").encoded(),
            Plaintext.message(envelope: RawEnvelope().bytes).encoded(),
            RawEnvelope().bytes,
            direct.encoded(),
            EnvelopeTests.goldenEnvelope,
            Framing.frame([1, 2, 3]) + Framing.frame(RawEnvelope().bytes),
        ]
    }()

    /// One input: fresh random bytes, or a seed with a few mutations.
    static func input(_ rng: inout XorShift) -> [UInt8] {
        if rng.below(4) == 0 { return rng.bytes(rng.below(200)) }
        var bytes = seeds[rng.below(seeds.count)]
        for _ in 0...rng.below(4) {
            switch rng.below(7) {
            case 0 where !bytes.isEmpty: bytes[rng.below(bytes.count)] ^= UInt8(1) << UInt8(rng.below(8))
            case 1 where !bytes.isEmpty: bytes[rng.below(bytes.count)] = rng.byte()
            case 2 where !bytes.isEmpty: bytes.removeLast(1 + rng.below(bytes.count))
            case 3: bytes.insert(rng.byte(), at: rng.below(bytes.count + 1))
            case 4 where !bytes.isEmpty: bytes.remove(at: rng.below(bytes.count))
            case 5 where bytes.count >= 4:
                // Extreme values where length prefixes tend to sit.
                let at = rng.below(bytes.count - 1)
                bytes[at] = [0x00, 0xFF, 0x7F, 0x80][rng.below(4)]
                bytes[at + 1] = [0x00, 0xFF, 0x01][rng.below(3)]
            default: bytes += rng.bytes(rng.below(8))
            }
        }
        return bytes
    }

    @Test func parsersNeverTrap() {
        var rng = XorShift(seed: 0x4D45_5348_0001)
        var parsed = 0
        for _ in 0..<Self.iterations {
            let bytes = Self.input(&rng)
            if let preamble = try? Preamble.parse(bytes) {
                parsed += 1
                #expect(preamble.encoded() == bytes)
            }
            if let payload = try? HandshakePayload.parse(bytes) {
                parsed += 1
                #expect(payload.encoded() == bytes)
            }
            if let plaintext = try? Plaintext.parse(bytes) {
                parsed += 1
                if case .bye(let reason, _) = plaintext, reason.rawValue != bytes[1] {
                    // An unknown reason reads as normal, so it cannot re-encode identically.
                } else {
                    #expect(plaintext.encoded() == bytes)
                }
            }
            if let envelope = try? Envelope.parse(bytes) {
                parsed += 1
                #expect(envelope.encoded() == bytes)
                _ = envelope.hasValidSignature
                #expect(envelope.id.bytes == Blake2b256.hash(envelope.signedBytes))
            }
            _ = Names.isValidNickname(String(decoding: bytes, as: UTF8.self))
            _ = Names.isValidRoom(String(decoding: bytes, as: UTF8.self))
            _ = MessageID(hex: String(decoding: bytes, as: UTF8.self))
        }
        #expect(parsed > Self.iterations / 10)  // the mutations keep many inputs valid
    }

    @Test func readerNeverTraps() {
        var rng = XorShift(seed: 0xB17E5)
        for _ in 0..<Self.iterations {
            var reader = ByteReader(Self.input(&rng))
            for _ in 0..<8 {
                switch rng.below(10) {
                case 0: _ = try? reader.u8()
                case 1: _ = try? reader.u16()
                case 2: _ = try? reader.u32()
                case 3: _ = try? reader.u64()
                case 4: _ = try? reader.str()
                case 5: _ = try? reader.blob()
                case 6: _ = try? reader.key32()
                case 7: _ = try? reader.sig64()
                case 8: _ = try? reader.raw(rng.below(40))
                default: _ = try? reader.expectEnd()
                }
                #expect(reader.remainingCount >= 0)
            }
        }
    }

    @Test func frameDecoderNeverTraps() {
        var rng = XorShift(seed: 0xF4A3E5)
        for _ in 0..<Self.iterations / 4 {
            var decoder = FrameDecoder()
            var stream = Self.input(&rng)
            frames: while !stream.isEmpty {
                let take = 1 + rng.below(stream.count)
                decoder.append(stream.prefix(take))
                stream.removeFirst(take)
                while true {
                    do {
                        guard let frame = try decoder.next() else { break }
                        #expect(!frame.isEmpty)
                        _ = try? Plaintext.parse(frame)
                    } catch {
                        #expect(error == .zeroLengthFrame)
                        break frames
                    }
                }
            }
        }
    }
}
