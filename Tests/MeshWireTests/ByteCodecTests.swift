import Testing
import MeshWire

struct ByteCodecTests {
    @Test func integersAreBigEndian() throws {
        var w = ByteWriter()
        w.u8(0xAB)
        w.u16(0x0102)
        w.u32(0x0304_0506)
        w.u64(0x0708_090A_0B0C_0D0E)
        #expect(w.bytes == [0xAB, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        var r = ByteReader(w.bytes)
        #expect(try r.u8() == 0xAB)
        #expect(try r.u16() == 0x0102)
        #expect(try r.u32() == 0x0304_0506)
        #expect(try r.u64() == 0x0708_090A_0B0C_0D0E)
        try r.expectEnd()
    }

    @Test func strAndBlobRoundTrip() throws {
        var w = ByteWriter()
        w.str("héllo")
        w.blob([9, 8, 7])
        w.str("")
        w.blob([])
        #expect(w.bytes == [0, 6, 0x68, 0xC3, 0xA9, 0x6C, 0x6C, 0x6F, 0, 0, 0, 3, 9, 8, 7, 0, 0, 0, 0, 0, 0])
        var r = ByteReader(w.bytes)
        #expect(try r.str() == "héllo")
        #expect(try r.blob() == [9, 8, 7])
        #expect(try r.str() == "")
        #expect(try r.blob() == [])
        #expect(r.isAtEnd)
    }

    @Test func keyAndSignatureWidths() throws {
        var w = ByteWriter()
        w.key32([UInt8](repeating: 1, count: 32))
        w.sig64([UInt8](repeating: 2, count: 64))
        var r = ByteReader(w.bytes)
        #expect(try r.key32() == [UInt8](repeating: 1, count: 32))
        #expect(try r.sig64() == [UInt8](repeating: 2, count: 64))
        #expect(r.isAtEnd)
        var short = ByteReader([UInt8](repeating: 0, count: 31))
        #expect(throws: WireError.truncated) { try short.key32() }
        var shortSig = ByteReader([UInt8](repeating: 0, count: 63))
        #expect(throws: WireError.truncated) { try shortSig.sig64() }
    }

    @Test func shortReadsAreTruncated() {
        var r = ByteReader([1, 2, 3])
        #expect(throws: WireError.truncated) { try r.u32() }
        var empty = ByteReader([UInt8]())
        #expect(throws: WireError.truncated) { try empty.u8() }
        var r16 = ByteReader([1])
        #expect(throws: WireError.truncated) { try r16.u16() }
        var r64 = ByteReader([UInt8](repeating: 0, count: 7))
        #expect(throws: WireError.truncated) { try r64.u64() }
    }

    @Test func overLongLengthsAreTruncatedNotAllocated() {
        // A blob claiming 4 GiB with 2 bytes behind it.
        var blob = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 1, 2])
        #expect(throws: WireError.truncated) { try blob.blob() }
        var str = ByteReader([0xFF, 0xFF, 0x61])
        #expect(throws: WireError.truncated) { try str.str() }
        var oneShort = ByteReader([0, 3, 0x61, 0x62])
        #expect(throws: WireError.truncated) { try oneShort.str() }
    }

    @Test func invalidUTF8InStr() {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x61, 0x80]] {
            var r = ByteReader([0, UInt8(bad.count)] + bad)
            #expect(throws: WireError.invalidUTF8) { try r.str() }
        }
    }

    @Test func trailingBytes() throws {
        var r = ByteReader([0, 1, 0xAA])
        _ = try r.u16()
        #expect(throws: WireError.trailingBytes) { try r.expectEnd() }
        #expect(r.remainingCount == 1)
        #expect(r.rest() == [0xAA])
        try r.expectEnd()
    }
}

struct UTF8ValidationTests {
    /// `str` and a room body must refuse exactly what `String(validating:as:)` refuses.
    @Test func strAcceptsExactlyValidUTF8() throws {
        let cases: [[UInt8]] = [
            [], Array("plain".utf8), Array("héllo wörld ✓ 𝄞".utf8),
            [0xEF, 0xBF, 0xBD],  // U+FFFD itself is valid text
            [0xEF, 0xBF], [0xEF, 0xBF, 0x41], [0xC3], [0x61, 0xFF], [0x80],  // truncated, stray bytes
            [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xF0, 0x80, 0x80, 0x80],  // overlong
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // surrogates
            [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],  // beyond U+10FFFF
            [0x00, 0x7F], [0xF4, 0x8F, 0xBF, 0xBF],  // the ends of the valid range
        ]
        for bytes in cases {
            var writer = ByteWriter()
            writer.u16(UInt16(bytes.count))
            writer.raw(bytes)
            var reader = ByteReader(writer.bytes)
            let expected = String(validating: bytes, as: UTF8.self)
            if let expected {
                #expect(try reader.str() == expected, "\(bytes)")
            } else {
                #expect(throws: WireError.invalidUTF8, "\(bytes)") { try reader.str() }
            }
        }
    }
}
