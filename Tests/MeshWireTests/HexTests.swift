import MeshWire
import Testing

struct HexTests {
    @Test func twoLowercaseDigitsPerByte() {
        #expect(Hex.lowercase([]) == "")
        #expect(Hex.lowercase([0x00, 0x09, 0x0A, 0x0F, 0x10, 0x9F, 0xA0, 0xFF]) == "00090a0f109fa0ff")
        // Every byte value, against the standard library's formatting.
        let all = (0...255).map { UInt8($0) }
        let expected = all.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(Hex.lowercase(all) == expected)
        #expect(Hex.lowercase(all[16...]) == String(expected.dropFirst(32)))
    }
}
