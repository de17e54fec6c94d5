import MeshCrypto
import Testing

@Suite("AEAD keys with reused contexts")
struct AEADKeyTests {
    private static func nonce(_ n: UInt64) -> [UInt8] { [0, 0, 0, 0] + withUnsafeBytes(of: n.littleEndian) { Array($0) } }

    private static func seal(_ key: AEADKey, nonce: [UInt8], ad: [UInt8], _ plaintext: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + AEADCipher.tagByteCount)
        nonce.withUnsafeBytes { n in ad.withUnsafeBytes { a in plaintext.withUnsafeBytes { p in out.withUnsafeMutableBytes { o in
            _ = key.seal(nonce: n, associatedData: a, plaintext: p, into: o)
        } } } }
        return out
    }

    private static func open(_ key: AEADKey, nonce: [UInt8], ad: [UInt8], _ ciphertext: [UInt8]) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(ciphertext.count - AEADCipher.tagByteCount, 0))
        // The buffer helpers rethrow untyped errors, so the typed one is carried out by hand.
        var result: Result<Int, CryptoError> = .success(0)
        nonce.withUnsafeBytes { n in ad.withUnsafeBytes { a in ciphertext.withUnsafeBytes { c in out.withUnsafeMutableBytes { o in
            result = Result { () throws(CryptoError) in try key.open(nonce: n, associatedData: a, ciphertext: c, into: o) }
        } } } }
        return Array(out.prefix(try result.get()))
    }

    @Test("one keyed context, reused for many messages, gives exactly the one-shot results",
          arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func matchesOneShot(cipher: AEADCipher) throws {
        let secret = SecureBytes(SecureRandom.bytes(count: 32))
        let key = AEADKey(cipher: cipher, key: secret)
        for (index, length) in [0, 1, 15, 16, 17, 100, 1000, 65519].enumerated() {
            for ad in [[], SecureRandom.bytes(count: 32)] {
                let nonce = Self.nonce(UInt64(index) << 31 | 7)
                let plaintext = SecureRandom.bytes(count: length)
                let expected = cipher.seal(key: secret, nonce: nonce, associatedData: ad, plaintext: plaintext)
                let sealed = Self.seal(key, nonce: nonce, ad: ad, plaintext)
                #expect(sealed == expected, "length \(length), ad \(ad.count)")
                #expect(try Self.open(key, nonce: nonce, ad: ad, sealed) == plaintext)
                #expect(try cipher.open(key: secret, nonce: nonce, associatedData: ad, ciphertext: sealed) == plaintext)
            }
        }
    }

    @Test("sealed in place (the plaintext at the start of the output), the bytes are those sealed apart",
          arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func sealsInPlace(cipher: AEADCipher) throws {
        let secret = SecureBytes(SecureRandom.bytes(count: 32))
        let apart = AEADKey(cipher: cipher, key: secret), inPlace = AEADKey(cipher: cipher, key: secret)
        for (index, length) in [0, 1, 15, 16, 17, 100, 1000, 65519].enumerated() {
            let nonce = Self.nonce(UInt64(index))
            let plaintext = SecureRandom.bytes(count: length)
            var buffer = plaintext + [UInt8](repeating: 0, count: AEADCipher.tagByteCount)
            let written = nonce.withUnsafeBytes { n in buffer.withUnsafeMutableBytes { output in
                inPlace.seal(nonce: n, associatedData: UnsafeRawBufferPointer(start: nil, count: 0),
                             plaintext: UnsafeRawBufferPointer(rebasing: output[..<length]), into: output)
            } }
            #expect(written == buffer.count)
            #expect(buffer == Self.seal(apart, nonce: nonce, ad: [], plaintext), "length \(length)")
            #expect(try Self.open(apart, nonce: nonce, ad: [], buffer) == plaintext)
        }
    }

    @Test("a ciphertext that does not authenticate throws, and the context still opens the next good one",
          arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func failureDoesNotPoisonTheContext(cipher: AEADCipher) throws {
        let key = AEADKey(cipher: cipher, key: SecureBytes(SecureRandom.bytes(count: 32)))
        let plaintext = Array("room text".utf8)
        let good = Self.seal(key, nonce: Self.nonce(1), ad: [], plaintext)
        for position in [0, good.count - 1] {
            var bad = good
            bad[position] ^= 1
            #expect(throws: CryptoError.authenticationFailure) { try Self.open(key, nonce: Self.nonce(1), ad: [], bad) }
        }
        #expect(throws: CryptoError.authenticationFailure) { try Self.open(key, nonce: Self.nonce(2), ad: [], good) }
        #expect(throws: CryptoError.authenticationFailure) { try Self.open(key, nonce: Self.nonce(1), ad: [1], good) }
        #expect(throws: CryptoError.authenticationFailure) { try Self.open(key, nonce: Self.nonce(1), ad: [], Array(good.prefix(15))) }
        #expect(try Self.open(key, nonce: Self.nonce(1), ad: [], good) == plaintext)
    }
}
