import Foundation
import MeshCrypto
import Testing

private func hex(_ text: String) -> [UInt8] {
    precondition(text.count % 2 == 0)
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

@Suite("Peer keys as text")
struct Base64Tests {
    /// Standard base64 of the bytes 0, 1, ..., 31.
    let canonical = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    @Test func canonicalKeyRoundTrips() throws {
        let key = try SigningPublicKey(base64: canonical)
        #expect(key.rawRepresentation == Array(0..<32))
        #expect(key.base64 == canonical)
    }

    @Test("RFC 4648 section 10's vectors, every padding length and the empty string")
    func rfc4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (text, encoded) in vectors {
            #expect(Base64.encode(Array(text.utf8)) == encoded)
            #expect(Base64.encode(Array(text.utf8)).utf8.count == encoded.utf8.count)
        }
    }

    @Test("non-canonical text is rejected, so two strings never name one key (PROTOCOL.md 1)")
    func nonCanonicalRejected() {
        // '8' -> '9' sets one of the two padding bits of the last character: the same 32 bytes, other text.
        let paddingBitSet = canonical.replacingOccurrences(of: "Hh8=", with: "Hh9=")
        #expect(Base64.decodeCanonical(paddingBitSet) == nil)
        for text in [paddingBitSet, String(canonical.dropLast()), canonical + "=", canonical + "A",
                     " " + canonical, canonical.replacingOccurrences(of: "A", with: "-"), "", String(repeating: "A", count: 44)] {
            #expect(throws: CryptoError.invalidKey, "\(text)") { try SigningPublicKey(base64: text) }
        }
    }
}

@Suite("Ed25519 identities")
struct SigningTests {
    @Test func signAndVerify() {
        let key = SigningPrivateKey()
        let message = Array("room text".utf8)
        let signature = key.signature(for: message)
        #expect(signature.count == 64)
        #expect(key.publicKey.isValidSignature(signature, for: message))

        var tamperedMessage = message
        tamperedMessage[0] ^= 1
        #expect(!key.publicKey.isValidSignature(signature, for: tamperedMessage))
        var tamperedSignature = signature
        tamperedSignature[10] ^= 1
        #expect(!key.publicKey.isValidSignature(tamperedSignature, for: message))
        #expect(!SigningPrivateKey().publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature.dropLast(), for: message))
        #expect(key.publicKey.isValidSignature(key.signature(for: []), for: []))
    }

    @Test func privateKeyRestoresAndRejectsDamage() throws {
        let key = SigningPrivateKey()
        let restored = try SigningPrivateKey(rawRepresentation: key.rawRepresentation)
        #expect(restored.publicKey == key.publicKey)
        var damaged = key.rawRepresentation.unsafeBytes
        damaged[40] ^= 1  // inside the embedded public half
        #expect(throws: CryptoError.invalidKey) { try SigningPrivateKey(rawRepresentation: SecureBytes(damaged)) }
        #expect(throws: CryptoError.invalidKey) { try SigningPrivateKey(rawRepresentation: SecureBytes(damaged.prefix(32))) }
    }

    @Test("Ed25519 -> X25519 conversion agrees between the public and the private half")
    func conversionAgrees() throws {
        for _ in 0..<8 {
            let key = SigningPrivateKey()
            let fromPublic = try key.publicKey.keyAgreementKey()
            #expect(key.keyAgreementKey().publicKey == fromPublic)
            // And the converted keys really agree on a shared secret.
            let other = SigningPrivateKey()
            #expect(try key.keyAgreementKey().sharedSecret(with: other.publicKey.keyAgreementKey())
                == other.keyAgreementKey().sharedSecret(with: fromPublic))
        }
    }

    @Test func keysOrderByRawBytes() throws {
        let low = try SigningPublicKey(rawRepresentation: [0x01] + [UInt8](repeating: 0xff, count: 31))
        let high = try SigningPublicKey(rawRepresentation: [0x02] + [UInt8](repeating: 0x00, count: 31))
        #expect(low < high && !(high < low))
    }

    @Test func descriptionsAreRedacted() {
        let key = SigningPrivateKey()
        let secret = Base64.encode(key.rawRepresentation.unsafeBytes)
        #expect(!"\(key)".contains(String(secret.prefix(12))))
        #expect("\(key)".contains(key.publicKey.base64))
        let x = KeyAgreementPrivateKey()
        #expect("\(x)" == "KeyAgreementPrivateKey(redacted)")
        let bytes = SecureBytes([0xde, 0xad, 0xbe, 0xef])
        #expect("\(bytes)" == "SecureBytes(4 bytes, redacted)")
        #expect(!String(reflecting: bytes).contains("222"))  // 0xde, in decimal, as a dump would show it
    }
}

@Suite("X25519 and sealed boxes")
struct KeyAgreementTests {
    @Test func sharedSecretsAgreeAndLowOrderIsRefused() throws {
        let a = KeyAgreementPrivateKey(), b = KeyAgreementPrivateKey()
        #expect(try a.sharedSecret(with: b.publicKey) == b.sharedSecret(with: a.publicKey))
        let zero = try KeyAgreementPublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        #expect(throws: CryptoError.invalidKey) { try a.sharedSecret(with: zero) }
        #expect(throws: CryptoError.invalidKey) { try KeyAgreementPublicKey(rawRepresentation: [UInt8](repeating: 1, count: 31)) }
    }

    @Test func sealedBoxRoundTripAndTamper() throws {
        let recipient = SigningPrivateKey()
        let plaintext = Array("direct text".utf8)
        let box = SealedBox.seal(plaintext, to: try recipient.publicKey.keyAgreementKey())
        #expect(box.count == plaintext.count + SealedBox.overhead)
        #expect(try SealedBox.open(box, with: recipient.keyAgreementKey()) == plaintext)
        for index in [0, 40, box.count - 1] {
            var tampered = box
            tampered[index] ^= 1
            #expect(throws: CryptoError.authenticationFailure) { try SealedBox.open(tampered, with: recipient.keyAgreementKey()) }
        }
        #expect(throws: CryptoError.authenticationFailure) { try SealedBox.open(box, with: KeyAgreementPrivateKey()) }
        #expect(throws: CryptoError.authenticationFailure) { try SealedBox.open(Array(box.prefix(SealedBox.overhead - 1)), with: recipient.keyAgreementKey()) }
    }
}

@Suite("AEADs")
struct AEADTests {
    @Test("round trip and tamper, including an empty plaintext", arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func roundTripAndTamper(cipher: AEADCipher) throws {
        let key = SecureBytes(SecureRandom.bytes(count: 32))
        let nonce = SecureRandom.bytes(count: 12)
        for plaintext in [[], Array("some plaintext".utf8)] as [[UInt8]] {
            for associatedData in [[], [1, 2, 3]] as [[UInt8]] {
                let sealed = cipher.seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext)
                #expect(sealed.count == plaintext.count + AEADCipher.tagByteCount)
                #expect(try cipher.open(key: key, nonce: nonce, associatedData: associatedData, ciphertext: sealed) == plaintext)
                for index in sealed.indices {
                    var tampered = sealed
                    tampered[index] ^= 0x20
                    #expect(throws: CryptoError.authenticationFailure) {
                        try cipher.open(key: key, nonce: nonce, associatedData: associatedData, ciphertext: tampered)
                    }
                }
                #expect(throws: CryptoError.authenticationFailure) {
                    try cipher.open(key: key, nonce: nonce, associatedData: associatedData + [0], ciphertext: sealed)
                }
                var otherNonce = nonce
                otherNonce[11] ^= 1
                #expect(throws: CryptoError.authenticationFailure) {
                    try cipher.open(key: key, nonce: otherNonce, associatedData: associatedData, ciphertext: sealed)
                }
                #expect(throws: CryptoError.authenticationFailure) {
                    try cipher.open(key: key, nonce: nonce, associatedData: associatedData, ciphertext: sealed.prefix(15))
                }
            }
        }
    }

    @Test("RFC 7539 section 2.8.2 ChaCha20-Poly1305 test vector")
    func chaChaPolyVector() throws {
        let key = SecureBytes(Array(0x80...0x9f) as [UInt8])
        let nonce = hex("070000004041424344454647")
        let associatedData = hex("50515253c0c1c2c3c4c5c6c7")
        let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let expected = hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
            + "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
            + "1ae10b594f09e26a7e902ecbd0600691")
        #expect(AEADCipher.chaChaPoly.seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext) == expected)
        #expect(try AEADCipher.chaChaPoly.open(key: key, nonce: nonce, associatedData: associatedData, ciphertext: expected) == plaintext)
    }

    @Test("AES-256-GCM test cases 13 and 14 of the GCM specification (zero key, zero IV)")
    func aesGCMVectors() throws {
        let key = SecureBytes([UInt8](repeating: 0, count: 32))
        let nonce = [UInt8](repeating: 0, count: 12)
        #expect(AEADCipher.aesGCM.seal(key: key, nonce: nonce, associatedData: [], plaintext: []) == hex("530f8afbc74536b9a963b4f1c4cb738b"))
        let expected = hex("cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919")
        #expect(AEADCipher.aesGCM.seal(key: key, nonce: nonce, associatedData: [], plaintext: [UInt8](repeating: 0, count: 16)) == expected)
        #expect(try AEADCipher.aesGCM.open(key: key, nonce: nonce, associatedData: [], ciphertext: expected) == [UInt8](repeating: 0, count: 16))
    }
}

@Suite("Hashes and HMAC")
struct HashTests {
    @Test func knownAnswers() {
        let abc = Array("abc".utf8)
        #expect(HashFunction.sha256.hash(abc) == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(HashFunction.blake2b.hash(abc) == hex("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"))
        #expect(Blake2b256.hash(abc) == hex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"))
        // Streaming over parts hashes their concatenation.
        #expect(HashFunction.sha256.hash([0x61], [], [0x62, 0x63]) == HashFunction.sha256.hash(abc))
        #expect(HashFunction.blake2b.hash([0x61, 0x62], [0x63]) == HashFunction.blake2b.hash(abc))
    }

    @Test("Streamed SHA-256 (file hashes): FIPS 180-2's million 'a's, in pieces that cross the 64-byte blocks")
    func streamedSHA256() {
        let stream = SHA256Stream()
        stream.update([0x61])
        stream.update([])
        stream.update([0x62, 0x63])
        #expect(stream.finish() == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        let million = SHA256Stream()
        let lengths = [1, 63, 65, 128, 4095]
        var left = 1_000_000, turn = 0
        while left > 0 {
            let piece = min(lengths[turn % lengths.count], left)
            million.update([UInt8](repeating: 0x61, count: piece))
            left -= piece
            turn += 1
        }
        #expect(million.finish() == hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"))
    }

    @Test("HMAC-SHA256: RFC 4231 test cases 1 and 6 (a key longer than the block)")
    func hmacSHA256() {
        let case1 = HashFunction.sha256.hmac(key: SecureBytes([UInt8](repeating: 0x0b, count: 20)), Array("Hi There".utf8))
        #expect(case1.unsafeBytes == hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"))
        let case6 = HashFunction.sha256.hmac(key: SecureBytes([UInt8](repeating: 0xaa, count: 131)),
                                             Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        #expect(case6.unsafeBytes == hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"))
    }

    @Test("HMAC-BLAKE2b with a 128-byte block, as Python's hmac computes it")
    func hmacBLAKE2b() {
        let mac = HashFunction.blake2b.hmac(key: SecureBytes(Array("key".utf8)), Array("The quick brown fox".utf8))
        #expect(mac.unsafeBytes == hex("5c169e8a18362381efbc0f688fa1d48e99f2bd5885a19c29943e28b43d566f33"
            + "0555d6c37a277cd4cbb1deca561f377c02f0d5388c6e1efd6e97de2bd8b2d678"))
    }

    @Test("Noise HKDF: output 1 = HMAC(temp, 0x01), output 2 = HMAC(temp, output1 || 0x02)", arguments: [HashFunction.sha256, .blake2b])
    func hkdf(hash: HashFunction) {
        let chainingKey = SecureBytes(SecureRandom.bytes(count: hash.outputByteCount))
        let material = SecureBytes(SecureRandom.bytes(count: 32))
        let outputs = hash.hkdf(chainingKey: chainingKey, inputKeyMaterial: material, outputs: 3)
        let temp = hash.hmac(key: chainingKey, material.unsafeBytes)
        let one = hash.hmac(key: temp, [0x01])
        let two = hash.hmac(key: temp, one.unsafeBytes + [0x02])
        let three = hash.hmac(key: temp, two.unsafeBytes + [0x03])
        #expect(outputs == [one, two, three])
        #expect(hash.hkdf(chainingKey: chainingKey, inputKeyMaterial: material, outputs: 2) == [one, two])
    }
}

@Suite("SecureBytes")
struct SecureBytesTests {
    @Test func comparesByValueAndPrefixes() {
        let a = SecureBytes([1, 2, 3, 4]), b = SecureBytes([1, 2, 3, 4]), c = SecureBytes([1, 2, 3, 5])
        #expect(a == b && a != c && a != SecureBytes([1, 2, 3]))
        #expect(a.prefix(2) == SecureBytes([1, 2]))
        #expect(SecureBytes([]) == SecureBytes([]))
    }

    @Test func randomIsNotConstant() {
        #expect(SecureRandom.bytes(count: 32) != SecureRandom.bytes(count: 32))
        for _ in 0..<100 { #expect(SecureRandom.uniform(7) < 7) }
    }
}
