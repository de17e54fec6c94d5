import MeshCrypto
import MeshNode
import Testing

/// The trusted-peers set keeps each pinned key's X25519 form, which a responder compares with the
/// initiator's static key in every handshake (PROTOCOL.md 1 and 4).
struct TrustedPeersTests {
    private let alice = SigningPrivateKey().publicKey
    private let bob = SigningPrivateKey().publicKey

    @Test func aPinnedKeyHasItsX25519FormAndAnUnpinnedOneNone() throws {
        let peers = try TrustedPeers(parsing: "alice \(alice.base64)\n# a comment\nbob \(bob.base64) 127.0.0.1:7000\n")
        #expect(peers.staticKey(of: alice) == (try alice.keyAgreementKey()))
        #expect(peers.staticKey(of: bob) == (try bob.keyAgreementKey()))
        #expect(peers.staticKey(of: SigningPrivateKey().publicKey) == nil)
    }

    @Test func addingAndRemovingAPeerAddsAndDropsItsX25519Form() throws {
        var peers = try TrustedPeers(parsing: "alice \(alice.base64)\n")
        #expect(peers.staticKey(of: bob) == nil)
        try peers.add(PinnedPeer(name: "bob", key: bob, address: nil))
        #expect(peers.staticKey(of: bob) == (try bob.keyAgreementKey()))
        peers.remove(named: "bob")
        #expect(peers.staticKey(of: bob) == nil)
        #expect(peers.staticKey(of: alice) != nil)
    }

    @Test func aPeerIsFoundByItsKeyFromTheFileAndAfterAddingAndRemoving() throws {
        var peers = try TrustedPeers(parsing: "alice \(alice.base64) 127.0.0.1:7000\n")
        #expect(peers.peer(withKey: alice) == PinnedPeer(name: "alice", key: alice, address: HostPort("127.0.0.1:7000")))
        #expect(peers.peer(withKey: bob) == nil)
        try peers.add(PinnedPeer(name: "bob", key: bob, address: nil))
        #expect(peers.peer(withKey: bob)?.name == "bob")
        let error = #expect(throws: TrustedPeersError.self) { try peers.add(PinnedPeer(name: "robert", key: bob, address: nil)) }
        #expect(error?.problem == "that key is already pinned as bob")
        peers.remove(named: "bob")
        #expect(peers.peer(withKey: bob) == nil && peers.peer(withKey: alice)?.name == "alice")
        // Written out and read back, it is the same set, its index included.
        #expect(try TrustedPeers(parsing: peers.text) == peers)
    }

    @Test func aKeyWithoutAnX25519FormCannotBePinned() throws {
        // The neutral element (y = 1) is a small-order point libsodium refuses to convert.
        let neutral = try SigningPublicKey(rawRepresentation: [1] + [UInt8](repeating: 0, count: 31))
        var peers = try TrustedPeers(parsing: "")
        #expect(throws: TrustedPeersError.self) { try peers.add(PinnedPeer(name: "neutral", key: neutral, address: nil)) }
        #expect(peers.peers.isEmpty && peers.staticKey(of: neutral) == nil)
        #expect(throws: TrustedPeersError.self) { try TrustedPeers(parsing: "neutral \(neutral.base64)\n") }
    }

    @Test func aDuplicateKeyIsStillRefusedWithItsLine() {
        let error = #expect(throws: TrustedPeersError.self) {
            try TrustedPeers(parsing: "alice \(alice.base64)\nalias \(alice.base64)\n")
        }
        #expect(error?.line == 2 && error?.problem == "that key is already pinned under another name")
    }
}
