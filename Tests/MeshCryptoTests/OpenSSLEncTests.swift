import Foundation
import MeshCrypto
import Testing

/// The `openssl enc` codec against text the real binary wrote (OpenSSL 3.0.19, Debian). Each
/// vector's salt is inside its text, so the codec must both decrypt it and, given that salt,
/// write the very same text back: every byte of header, salt, key/IV derivation, padding,
/// base64 and line wrapping is pinned in both directions.
@Suite("openssl enc -aes-256-cbc -salt -base64 -pbkdf2")
struct OpenSSLEncTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let plaintext: [UInt8]
        let passphrase: String
        let iterations: Int
        let text: String
        var testDescription: String { "\(plaintext.count)-byte plaintext, \(iterations) iterations" }
    }

    static let vectors: [Vector] = [
        // echo "hello from netcat" | openssl enc -aes-256-cbc -salt -base64 -pbkdf2 -pass pass:correct-horse
        Vector(plaintext: Array("hello from netcat\n".utf8), passphrase: "correct-horse", iterations: 10_000,
               text: "U2FsdGVkX18MaZA3EXLqT0/SSULG3FWrsbaMQqkbAGDY9jYwRvESYZ6W5mhk+lTT\n"),
        // printf '' | openssl enc -aes-256-cbc -salt -base64 -pbkdf2 -pass pass:correct-horse
        Vector(plaintext: [], passphrase: "correct-horse", iterations: 10_000,
               text: "U2FsdGVkX1+pBJACmARbCxctskIZ/3jGB8e0Kj5TBbo=\n"),
        // printf '0123456789abcdef' | openssl enc ... -pass pass:correct-horse   (a whole block: a full block of padding follows)
        Vector(plaintext: Array("0123456789abcdef".utf8), passphrase: "correct-horse", iterations: 10_000,
               text: "U2FsdGVkX1+m/McwGkj42NpmdyiU7kpm1pXVngaqADjyPSIq1UHbxloKyxpIjETh\n"),
        // printf 'The quick brown fox ... lazy dog.\n' | openssl enc ... -pbkdf2 -iter 1000 -pass pass:correct-horse   (three lines)
        Vector(plaintext: Array("The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps over the lazy dog.\n".utf8),
               passphrase: "correct-horse", iterations: 1000,
               text: """
               U2FsdGVkX19TMX8SqbpspuMt5NTEv4WCVUljzT8erD65YFY3yUXrvaXFCmZlJYtL
               CRBKOl+ciQ1j+U7RtM0YXYD5RehjNyCZzX67iUvsUEURh0xkGSEBA8kOVtFJ2ZjW
               wKCe8QoeJ73rJgNIVYF2328/nAnXnXhh3Nzjfl1S2LU=

               """),
        // printf 'caf\xc3\xa9 \xe2\x9c\x93\n' | openssl enc ... -pass 'pass:pässwörd'   (UTF-8 text and passphrase)
        Vector(plaintext: Array("café ✓\n".utf8), passphrase: "pässwörd", iterations: 10_000,
               text: "U2FsdGVkX1/vssbtodGiRTptyhw7FjOpMzx+Y2NbAqg=\n"),
    ]

    static func passphrase(_ text: String) -> SecureBytes { SecureBytes(Array(text.utf8)) }

    /// The salt openssl chose, bytes 8..<16 of the decoded text.
    static func salt(of text: String) -> [UInt8] {
        let bytes = Base64.decodeCanonical(text.filter { $0 != "\n" })!
        return Array(bytes[8..<16])
    }

    @Test(arguments: vectors) func decryptsWhatOpenSSLWrote(_ vector: Vector) throws {
        let plaintext = try OpenSSLEnc.decrypt(Array(vector.text.utf8), passphrase: Self.passphrase(vector.passphrase),
                                               iterations: vector.iterations)
        #expect(plaintext == vector.plaintext)
    }

    @Test(arguments: vectors) func writesWhatOpenSSLWrites(_ vector: Vector) {
        let text = OpenSSLEnc.encrypt(vector.plaintext, passphrase: Self.passphrase(vector.passphrase),
                                      salt: Self.salt(of: vector.text), iterations: vector.iterations)
        #expect(text == vector.text)
    }

    @Test func aFreshSaltEveryTimeAndStillRoundTrips() throws {
        let key = Self.passphrase("correct-horse")
        let first = OpenSSLEnc.encrypt(Array("same".utf8), passphrase: key)
        let second = OpenSSLEnc.encrypt(Array("same".utf8), passphrase: key)
        #expect(first != second)
        #expect(first.hasPrefix("U2FsdGVkX1")) // base64 of "Salted__"
        #expect(try OpenSSLEnc.decrypt(Array(second.utf8), passphrase: key) == Array("same".utf8))
    }

    @Test func anotherPassphraseOrIterationCountDoesNotDecrypt() {
        let vector = Self.vectors[0]
        #expect(throws: OpenSSLEncError.decryptionFailed) {
            try OpenSSLEnc.decrypt(Array(vector.text.utf8), passphrase: Self.passphrase("Correct-horse"))
        }
        #expect(throws: OpenSSLEncError.decryptionFailed) {
            try OpenSSLEnc.decrypt(Array(vector.text.utf8), passphrase: Self.passphrase("correct-horse"), iterations: 9_999)
        }
    }

    @Test func textThatIsNotTheFormatIsMalformed() {
        let key = Self.passphrase("correct-horse")
        let inputs = [
            "",                                               // nothing
            "hello from netcat\n",                            // plain text, not base64
            "U2FsdGVkX18MaZA3EXLqTw==\n",                     // header and salt, no ciphertext
            Base64.encode(Array("Unsalted" + "12345678" + "0123456789abcdef").map { $0.asciiValue! }), // wrong magic
            "U2FsdGVkX18MaZA3EXLqT0/SSULG3FWrsbaMQqkbAGDY9jYwRvESYZ6W5mhk+lT\n", // a character short
            "U2FsdGVkX18MaZA3EXLqT0/SSULG3FWrsbaMQqkbAGDY9jYwRvESYZ6W5mhk\n",    // 3 bytes short of a whole block
        ]
        for input in inputs {
            #expect(throws: OpenSSLEncError.malformed, "\(input)") { try OpenSSLEnc.decrypt(Array(input.utf8), passphrase: key) }
        }
    }

    @Test func lineBreaksAndCarriageReturnsAreIgnored() throws {
        // What a sender on Windows or a mail client might do to the same text.
        let vector = Self.vectors[3]
        let reflowed = vector.text.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try OpenSSLEnc.decrypt(Array(reflowed.utf8), passphrase: Self.passphrase(vector.passphrase),
                                       iterations: vector.iterations) == vector.plaintext)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 47, 48, 100, 16384])
    func encodedByteCountIsExact(plaintextByteCount: Int) {
        let text = OpenSSLEnc.encrypt([UInt8](repeating: 0x61, count: plaintextByteCount), passphrase: Self.passphrase("k"), iterations: 1)
        #expect(text.utf8.count == OpenSSLEnc.encodedByteCount(plaintextByteCount: plaintextByteCount))
    }
}
