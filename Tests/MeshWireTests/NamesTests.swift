import MeshWire
import Testing

struct NamesTests {
    @Test func byteLengthBounds() {
        #expect(!Names.isValidNickname(""))
        #expect(Names.isValidNickname("a"))
        #expect(Names.isValidNickname(String(repeating: "a", count: 32)))
        #expect(!Names.isValidNickname(String(repeating: "a", count: 33)))
        #expect(!Names.isValidRoom(""))
        #expect(Names.isValidRoom("general"))
        #expect(Names.isValidRoom(String(repeating: "r", count: 64)))
        #expect(!Names.isValidRoom(String(repeating: "r", count: 65)))
    }

    @Test func boundsCountBytesNotCharacters() {
        #expect(Names.isValidNickname(String(repeating: "é", count: 16)))  // 32 bytes
        #expect(!Names.isValidNickname(String(repeating: "é", count: 16) + "a"))  // 33 bytes
        #expect(!Names.isValidNickname(String(repeating: "€", count: 11)))  // 33 bytes, 11 characters
        #expect(Names.isValidNickname(String(repeating: "🦊", count: 8)))  // 32 bytes
        #expect(!Names.isValidRoom(String(repeating: "🦊", count: 16) + "a"))  // 65 bytes
    }

    @Test func controlCharactersAreRefused() {
        for scalar: UInt32 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1B, 0x1F, 0x7F, 0x80, 0x85, 0x9F] {
            let s = "a" + String(Character(Unicode.Scalar(scalar)!)) + "b"
            #expect(!Names.isValidNickname(s), "U+\(String(scalar, radix: 16))")
            #expect(!Names.isValidRoom(s), "U+\(String(scalar, radix: 16))")
        }
        #expect(!Names.isValidRoom("a\r\nb"))  // one Character, two Cc scalars
    }

    @Test func otherCategoriesAreAllowed() {
        // Space, no-break space (Zs), zero-width space and RTL mark (Cf), private use (Co): not Cc.
        for s in ["a b", "a\u{A0}b", "a\u{200B}b", "a\u{200F}b", "a\u{E000}b", "e\u{301}", "~", "\u{A0}"] {
            #expect(Names.isValidNickname(s), "\(Array(s.unicodeScalars))")
        }
    }
}
