import MeshCrypto
import MeshNoise
import Testing

/// A sender's and a receiver's view of one direction, from one shared random key.
func transportPair(_ cipher: AEADCipher) -> (alice: TransportState, bob: TransportState, aliceToBobKey: SecureBytes) {
    let aliceToBob = SecureBytes(SecureRandom.bytes(count: 32)), bobToAlice = SecureBytes(SecureRandom.bytes(count: 32))
    let alice = TransportState(sending: CipherState(cipher: cipher, key: aliceToBob), receiving: CipherState(cipher: cipher, key: bobToAlice))
    let bob = TransportState(sending: CipherState(cipher: cipher, key: bobToAlice), receiving: CipherState(cipher: cipher, key: aliceToBob))
    return (alice, bob, aliceToBob)
}

@Suite("CipherState and TransportState")
struct TransportStateTests {
    @Test("65536 + 3 messages each way stay in sync across the rekey; a receiver that skips it fails at message 65537",
          arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func rekeySchedule(cipher: AEADCipher) throws {
        var (alice, bob, aliceToBobKey) = transportPair(cipher)
        // The same key, driven as a plain CipherState that never rekeys.
        var skipper = CipherState(cipher: cipher, key: aliceToBobKey)
        let total = Int(TransportState.rekeyInterval) + 3
        for number in 1...total {
            let plaintext = withUnsafeBytes(of: UInt32(number).bigEndian) { Array($0) }
            let ciphertext = try alice.encrypt(plaintext)
            #expect(try bob.decrypt(ciphertext) == plaintext)
            let reply = try bob.encrypt(plaintext)
            #expect(try alice.decrypt(reply) == plaintext)
            if number <= Int(TransportState.rekeyInterval) {
                #expect(try skipper.decryptWithAd([], ciphertext: ciphertext) == plaintext)
            } else if number == Int(TransportState.rekeyInterval) + 1 {
                #expect(throws: NoiseError.decryptionFailed) { try skipper.decryptWithAd([], ciphertext: ciphertext) }
                // What the transport did: k = REKEY(k), the nonce carried on at 65536.
                skipper.rekey()
                #expect(skipper.nonce == TransportState.rekeyInterval)
                #expect(try skipper.decryptWithAd([], ciphertext: ciphertext) == plaintext)
            }
        }
        #expect(alice.sendingNonce == UInt64(total) && bob.receivingNonce == UInt64(total))
    }

    @Test("the rekey happens again at every multiple of 65536", arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func laterRekeys(cipher: AEADCipher) throws {
        let key = SecureBytes(SecureRandom.bytes(count: 32))
        var sender = CipherState(cipher: cipher, key: key), receiver = CipherState(cipher: cipher, key: key)
        let start = 5 * TransportState.rekeyInterval - 2
        sender.setNonce(start)
        receiver.setNonce(start)
        var reference = CipherState(cipher: cipher, key: key)
        reference.setNonce(start)
        var alice = TransportState(sending: sender, receiving: CipherState(cipher: cipher, key: key))
        var bob = TransportState(sending: CipherState(cipher: cipher, key: key), receiving: receiver)
        for _ in 0..<4 {
            let ciphertext = try alice.encrypt([7])
            #expect(try bob.decrypt(ciphertext) == [7])
            // The unrekeyed reference agrees until nonce 5 * 65536, and only after a rekey from then on.
            if reference.nonce == 5 * TransportState.rekeyInterval { reference.rekey() }
            #expect(try reference.decryptWithAd([], ciphertext: ciphertext) == [7])
        }
    }

    @Test("the reserved nonce 2^64-1 is refused for encryption and decryption", arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func reservedNonce(cipher: AEADCipher) throws {
        let key = SecureBytes(SecureRandom.bytes(count: 32))
        var sender = CipherState(cipher: cipher, key: key), receiver = CipherState(cipher: cipher, key: key)
        sender.setNonce(UInt64.max - 1)
        receiver.setNonce(UInt64.max - 1)
        let last = try sender.encryptWithAd([], plaintext: [1])
        #expect(try receiver.decryptWithAd([], ciphertext: last) == [1])
        #expect(sender.nonce == UInt64.max)
        #expect(throws: NoiseError.nonceExhausted) { try sender.encryptWithAd([], plaintext: [2]) }
        #expect(throws: NoiseError.nonceExhausted) { try receiver.decryptWithAd([], ciphertext: last) }
    }

    @Test("a failed decryption does not advance the nonce", arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func failedDecryptKeepsNonce(cipher: AEADCipher) throws {
        var (alice, bob, _) = transportPair(cipher)
        let ciphertext = try alice.encrypt(Array("hi".utf8))
        var tampered = ciphertext
        tampered[0] ^= 1
        #expect(throws: NoiseError.decryptionFailed) { try bob.decrypt(tampered) }
        #expect(throws: NoiseError.decryptionFailed) { try bob.decrypt(ciphertext.prefix(15)) }
        #expect(bob.receivingNonce == 0)
        #expect(try bob.decrypt(ciphertext) == Array("hi".utf8))
        #expect(throws: NoiseError.decryptionFailed) { try bob.decrypt(ciphertext) }
    }

    @Test("transport plaintexts are bounded by 65519 bytes", arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func plaintextBound(cipher: AEADCipher) throws {
        var (alice, bob, _) = transportPair(cipher)
        #expect(throws: NoiseError.messageTooLong) { try alice.encrypt([UInt8](repeating: 0, count: 65520)) }
        #expect(throws: NoiseError.messageTooLong) { try bob.decrypt([UInt8](repeating: 0, count: 65536)) }
        let largest = try alice.encrypt([UInt8](repeating: 3, count: 65519))
        #expect(largest.count == NoiseLimits.maxMessageByteCount)
        #expect(try bob.decrypt(largest).count == 65519)
        #expect(try bob.decrypt(alice.encrypt([])) == [])
    }

    @Test("nonces are encoded as Noise sections 12.3 and 12.4 say, so a vector with n > 0 matches")
    func nonceEncodingMatters() throws {
        // With a fixed key, ChaChaPoly at n = 1 must differ from AESGCM-style big-endian use:
        // check directly against the AEAD with the explicit nonce layout.
        let key = SecureBytes([UInt8](repeating: 0x42, count: 32))
        var chacha = CipherState(cipher: .chaChaPoly, key: key)
        var gcm = CipherState(cipher: .aesGCM, key: key)
        chacha.setNonce(1)
        gcm.setNonce(1)
        let littleEndianOne: [UInt8] = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        let bigEndianOne: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        #expect(try chacha.encryptWithAd([9], plaintext: [1, 2]) ==
            AEADCipher.chaChaPoly.seal(key: key, nonce: littleEndianOne, associatedData: [9], plaintext: [1, 2]))
        #expect(try gcm.encryptWithAd([9], plaintext: [1, 2]) ==
            AEADCipher.aesGCM.seal(key: key, nonce: bigEndianOne, associatedData: [9], plaintext: [1, 2]))
    }

    @Test("Rekey() is the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes)", arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func rekeyDefinition(cipher: AEADCipher) throws {
        let key = SecureBytes(SecureRandom.bytes(count: 32))
        let maxNonce: [UInt8] = [0, 0, 0, 0] + [UInt8](repeating: 0xff, count: 8)
        let expectedKey = SecureBytes(cipher.seal(key: key, nonce: maxNonce, associatedData: [], plaintext: [UInt8](repeating: 0, count: 32)).prefix(32))
        var rekeyed = CipherState(cipher: cipher, key: key)
        rekeyed.setNonce(3)
        rekeyed.rekey()
        #expect(rekeyed.nonce == 3)
        var expected = CipherState(cipher: cipher, key: expectedKey)
        expected.setNonce(3)
        #expect(try rekeyed.encryptWithAd([], plaintext: [5]) == expected.encryptWithAd([], plaintext: [5]))
    }

    @Test("copies of a CipherState used on two threads at once each encrypt as a CipherState of their own would",
          arguments: [AEADCipher.chaChaPoly, .aesGCM])
    func copiesOnTwoThreadsAreIndependent(cipher: AEADCipher) async throws {
        // The copies share one keyed AEADKey, which has no lock: each must take its own before using it.
        var used = CipherState(cipher: cipher, key: SecureBytes(SecureRandom.bytes(count: 32)))
        _ = try used.encryptWithAd([], plaintext: [0])
        // Enough that the two threads overlap: sharing the contexts, they garble each other's output.
        let messages = 20_000
        var reference = used
        let expected = try (0..<messages).map { try reference.encryptWithAd([], plaintext: [UInt8(truncatingIfNeeded: $0)]) }
        let original = used
        let outputs = await withTaskGroup(of: [[UInt8]?].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var copy = original
                    return (0..<messages).map { try? copy.encryptWithAd([], plaintext: [UInt8(truncatingIfNeeded: $0)]) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outputs.map { $0 == expected } == [true, true])
    }

    @Test("a CipherState without a key passes bytes through, as InitializeKey(empty) requires")
    func emptyKeyPassesThrough() throws {
        var state = CipherState(cipher: .chaChaPoly)
        #expect(!state.hasKey)
        #expect(try state.encryptWithAd([1], plaintext: [2, 3]) == [2, 3])
        #expect(try state.decryptWithAd([1], ciphertext: [2, 3]) == [2, 3])
        #expect(state.nonce == 0)
    }

    @Test("descriptions never show key material")
    func descriptionsAreRedacted() throws {
        let key = SecureBytes([UInt8](repeating: 0xAB, count: 32))
        let state = CipherState(cipher: .aesGCM, key: key)
        let transport = TransportState(sending: state, receiving: state)
        for text in ["\(state)", "\(transport)", String(reflecting: state)] {
            #expect(!text.lowercased().contains("abab"), "\(text)")
        }
    }
}
