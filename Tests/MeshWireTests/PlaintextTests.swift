import MeshWire
import Testing

struct PlaintextTests {
    @Test func goldenPing() throws {
        let golden: [UInt8] = [0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]
        #expect(Plaintext.ping(token: 0x0102_0304_0506_0708).encoded() == golden)
        #expect(try Plaintext.parse(golden) == .ping(token: 0x0102_0304_0506_0708))
        #expect(Plaintext.pong(token: 0x0102_0304_0506_0708).encoded() == [0x02] + golden.dropFirst())
    }

    @Test func goldenBye() throws {
        // type 0x7F, reason 6 (shutting down), str "bye"
        let golden: [UInt8] = [0x7F, 0x06, 0x00, 0x03, 0x62, 0x79, 0x65]
        #expect(Plaintext.bye(reason: .shuttingDown, text: "bye").encoded() == golden)
        #expect(try Plaintext.parse(golden) == .bye(reason: .shuttingDown, text: "bye"))
        #expect(Plaintext.bye(reason: .normal, text: "").encoded() == [0x7F, 0x00, 0x00, 0x00])
    }

    @Test func goldenMessage() throws {
        #expect(Plaintext.message(envelope: [0xAA, 0xBB]).encoded() == [0x10, 0xAA, 0xBB])
    }

    @Test func roundTrips() throws {
        var all: [Plaintext] = [
            .ping(token: 0), .ping(token: .max), .pong(token: 42), .message(envelope: []), .message(envelope: [1, 2, 3]),
            .bye(reason: .normal, text: ""), .bye(reason: .protocolError, text: "malformed plaintext"),
            .bye(reason: .noLongerTrusted, text: String(repeating: "é", count: 128)),
            .unknown(type: 0x00, body: []), .unknown(type: 0x11, body: [1]), .unknown(type: 0x2F, body: [2, 3]),
            .unknown(type: 0x7E, body: []), .unknown(type: 0x80, body: [4]), .unknown(type: 0xFF, body: [5, 6, 7]),
        ]
        all += ByeReason.allCases.map { .bye(reason: $0, text: "x") }
        for plaintext in all {
            #expect(try Plaintext.parse(plaintext.encoded()) == plaintext)
        }
    }

    @Test func typeConstants() {
        #expect(PlaintextType.ping == 0x01)
        #expect(PlaintextType.pong == 0x02)
        #expect(PlaintextType.message == 0x10)
        #expect(PlaintextType.bye == 0x7F)
        #expect(PlaintextType.syncRange == 0x11...0x1F)
        #expect(PlaintextType.fileRange == 0x20...0x2F)
        #expect(PlaintextType.extensionRange == 0x30...0x7E)
    }

    @Test func emptyPlaintextIsAnError() {
        #expect(throws: WireError.emptyPlaintext) { try Plaintext.parse([UInt8]()) }
    }

    @Test func pingAndPongBodiesMustBeExactlyEightBytes() {
        for type in [PlaintextType.ping, PlaintextType.pong] {
            for count in 0...7 {
                #expect(throws: WireError.truncated) { try Plaintext.parse([type] + [UInt8](repeating: 1, count: count)) }
            }
            #expect(throws: WireError.trailingBytes) { try Plaintext.parse([type] + [UInt8](repeating: 1, count: 9)) }
        }
    }

    @Test func byeRules() throws {
        let longest = String(repeating: "a", count: 256)
        #expect(try Plaintext.parse(Plaintext.bye(reason: .idle, text: longest).encoded()) == .bye(reason: .idle, text: longest))
        // 257 bytes of text: hand-built, since encoding it is a precondition failure.
        #expect(throws: WireError.lengthOutOfRange) {
            try Plaintext.parse([0x7F, 0x00, 0x01, 0x01] + [UInt8](repeating: 0x61, count: 257))
        }
        #expect(throws: WireError.truncated) { try Plaintext.parse([0x7F]) }
        #expect(throws: WireError.truncated) { try Plaintext.parse([0x7F, 0x00]) }
        #expect(throws: WireError.truncated) { try Plaintext.parse([0x7F, 0x00, 0x00]) }
        #expect(throws: WireError.truncated) { try Plaintext.parse([0x7F, 0x00, 0x00, 0x02, 0x61]) }
        #expect(throws: WireError.trailingBytes) { try Plaintext.parse([0x7F, 0x00, 0x00, 0x01, 0x61, 0x62]) }
        #expect(throws: WireError.invalidUTF8) { try Plaintext.parse([0x7F, 0x00, 0x00, 0x01, 0xFF]) }
        // Control characters are not forbidden in a BYE text (it is not a name).
        #expect(try Plaintext.parse([0x7F, 0x02, 0x00, 0x01, 0x0A]) == .bye(reason: .protocolError, text: "\n"))
    }

    @Test func unknownByeReasonReadsAsNormal() throws {
        #expect(ByeReason(wireValue: 7) == .normal)
        #expect(ByeReason(wireValue: 0xFF) == .normal)
        for reason in ByeReason.allCases {
            #expect(ByeReason(wireValue: reason.rawValue) == reason)
        }
        #expect(ByeReason.allCases.map(\.rawValue) == Array(0...6))
        #expect(try Plaintext.parse([0x7F, 0x09, 0x00, 0x00]) == .bye(reason: .normal, text: ""))
    }

    @Test func unknownTypesAreKept() throws {
        for type in [0x00, 0x03, 0x0F, 0x11, 0x1F, 0x20, 0x2F, 0x30, 0x7E, 0x80, 0xFE, 0xFF] as [UInt8] {
            #expect(try Plaintext.parse([type]) == .unknown(type: type, body: []))
            #expect(try Plaintext.parse([type, 1, 2, 3]) == .unknown(type: type, body: [1, 2, 3]))
        }
    }

    @Test func messageKeepsRawEnvelopeEvenIfGarbage() throws {
        // A bad envelope is dropped by the gossip layer, not a protocol error here.
        #expect(try Plaintext.parse([0x10]) == .message(envelope: []))
        #expect(try Plaintext.parse([0x10, 0xFF, 0xFF]) == .message(envelope: [0xFF, 0xFF]))
    }

    @Test func parsingAMessageLeavesTheCallersBytesAlone() throws {
        // The array parse takes a MESSAGE's storage when it is the last use; a kept array is copied, not changed.
        let bytes: [UInt8] = [0x10, 0x30, 2, 3]
        #expect(try Plaintext.parse(bytes) == .message(envelope: [0x30, 2, 3]))
        #expect(bytes == [0x10, 0x30, 2, 3])
        #expect(try Plaintext.parse(bytes[1...]) == .unknown(type: 0x30, body: [2, 3]))
    }
}
