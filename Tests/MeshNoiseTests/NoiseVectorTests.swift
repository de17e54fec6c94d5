import Foundation
import MeshCrypto
import MeshNoise
import Testing

/// The Noise protocols MeshChat speaks (PROTOCOL.md 3), by name as the vector files spell them.
let meshChatProtocolNames = [
    "Noise_IK_25519_ChaChaPoly_BLAKE2b",
    "Noise_IK_25519_AESGCM_SHA256",
    "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b",
    "Noise_IKpsk2_25519_AESGCM_SHA256",
]

/// One vector in the cacophony/snow JSON format (fields absent in a pattern are nil).
struct NoiseVector: Decodable {
    struct Message: Decodable {
        var payload: String
        var ciphertext: String
    }

    var protocol_name: String
    var init_prologue: String
    var init_static: String?
    var init_ephemeral: String
    var init_remote_static: String?
    var init_psks: [String]?
    var resp_prologue: String
    var resp_static: String?
    var resp_ephemeral: String?
    var resp_psks: [String]?
    /// cacophony has it; snow's file does not.
    var handshake_hash: String?
    var messages: [Message]
}

/// The vector file named by `MESHCHAT_NOISE_VECTORS`, by default `../shared/vectors/cacophony.txt`;
/// a relative path is resolved against the package root (found from this file's path).
enum NoiseVectorFile {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let path: String = {
        let configured = ProcessInfo.processInfo.environment["MESHCHAT_NOISE_VECTORS"] ?? "../shared/vectors/cacophony.txt"
        return configured.hasPrefix("/") ? configured : packageRoot.appendingPathComponent(configured).standardizedFileURL.path
    }()

    static var isPresent: Bool { FileManager.default.fileExists(atPath: path) }

    /// Every vector in the file, decoded once.
    static let vectors: [NoiseVector] = {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        struct File: Decodable { var vectors: [NoiseVector] }
        do {
            return try JSONDecoder().decode(File.self, from: data).vectors
        } catch {
            Issue.record("vector file at \(path) does not decode: \(error)")
            return []
        }
    }()
}

func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var high: UInt8?
    for character in text.utf8 {
        let nibble: UInt8 = switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: preconditionFailure("not hex: \(text)")
        }
        if let h = high { bytes.append(h << 4 | nibble); high = nil } else { high = nibble }
    }
    precondition(high == nil, "odd hex length")
    return bytes
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Runs one vector: both parties from its init_/resp_ fields, every message in turn (the first two
/// are IK's handshake messages, then transport messages, the sender alternating from the
/// initiator). Returns every mismatch; an empty result means the vector passed.
func runVector(_ vector: NoiseVector) -> (messagesChecked: Int, failures: [String]) {
    guard let noiseProtocol = NoiseProtocol(name: vector.protocol_name) else {
        return (0, ["\(vector.protocol_name): not a protocol MeshNoise speaks"])
    }
    func privateKey(_ field: String?) -> KeyAgreementPrivateKey? {
        field.map { try! KeyAgreementPrivateKey(rawRepresentation: SecureBytes(hex($0))) }
    }
    var initiator = HandshakeState(
        protocol: noiseProtocol, role: .initiator, prologue: hex(vector.init_prologue),
        staticKey: privateKey(vector.init_static)!,
        remoteStaticKey: vector.init_remote_static.map { try! KeyAgreementPublicKey(rawRepresentation: hex($0)) },
        preSharedKey: vector.init_psks?.first.map { SecureBytes(hex($0)) },
        ephemeralKey: privateKey(vector.init_ephemeral))
    var responder = HandshakeState(
        protocol: noiseProtocol, role: .responder, prologue: hex(vector.resp_prologue),
        staticKey: privateKey(vector.resp_static)!, remoteStaticKey: nil,
        preSharedKey: vector.resp_psks?.first.map { SecureBytes(hex($0)) },
        ephemeralKey: privateKey(vector.resp_ephemeral))

    var failures: [String] = []
    var checked = 0
    let handshakeMessageCount = 2
    let name = vector.protocol_name
    for (index, message) in vector.messages.prefix(handshakeMessageCount).enumerated() {
        do {
            let ciphertext = index % 2 == 0
                ? try initiator.writeMessage(payload: hex(message.payload))
                : try responder.writeMessage(payload: hex(message.payload))
            if ciphertext != hex(message.ciphertext) { failures.append("\(name) message \(index): ciphertext differs") }
            let payload = index % 2 == 0 ? try responder.readMessage(ciphertext) : try initiator.readMessage(ciphertext)
            if payload != hex(message.payload) { failures.append("\(name) message \(index): payload differs") }
            checked += 1
        } catch {
            failures.append("\(name) message \(index): \(error)")
            return (checked, failures)
        }
    }
    guard initiator.isHandshakeComplete, responder.isHandshakeComplete else {
        return (checked, failures + ["\(name): handshake incomplete after \(handshakeMessageCount) messages"])
    }
    if let expected = vector.handshake_hash {
        if initiator.handshakeHash != hex(expected) { failures.append("\(name): initiator handshake hash differs") }
        if responder.handshakeHash != hex(expected) { failures.append("\(name): responder handshake hash differs") }
    }
    var initiatorTransport = initiator.split()
    var responderTransport = responder.split()
    for (index, message) in vector.messages.enumerated().dropFirst(handshakeMessageCount) {
        do {
            let ciphertext = index % 2 == 0
                ? try initiatorTransport.encrypt(hex(message.payload))
                : try responderTransport.encrypt(hex(message.payload))
            if ciphertext != hex(message.ciphertext) { failures.append("\(name) message \(index): ciphertext differs") }
            let payload = index % 2 == 0 ? try responderTransport.decrypt(ciphertext) : try initiatorTransport.decrypt(ciphertext)
            if payload != hex(message.payload) { failures.append("\(name) message \(index): payload differs") }
            checked += 1
        } catch {
            failures.append("\(name) message \(index): \(error)")
            return (checked, failures)
        }
    }
    return (checked, failures)
}

@Suite("Noise test vectors")
struct NoiseVectorTests {
    @Test("every vector of a MeshChat protocol matches byte for byte",
          .enabled(if: NoiseVectorFile.isPresent, "skipped: vectors not found at \(NoiseVectorFile.path)"),
          arguments: meshChatProtocolNames)
    func vectorsMatch(protocolName: String) {
        let vectors = NoiseVectorFile.vectors.filter { $0.protocol_name == protocolName }
        var messages = 0
        for vector in vectors {
            let result = runVector(vector)
            messages += result.messagesChecked
            #expect(result.failures.isEmpty, "\(result.failures)")
            #expect(result.messagesChecked == vector.messages.count)
        }
        print("\(protocolName): checked \(vectors.count) vectors, \(messages) messages from \(NoiseVectorFile.path)")
        #expect(vectors.count > 0, "no vector for \(protocolName) in \(NoiseVectorFile.path)")
    }

    @Test("a flipped hex digit in a vector is detected",
          .enabled(if: NoiseVectorFile.isPresent, "skipped: vectors not found at \(NoiseVectorFile.path)"),
          arguments: meshChatProtocolNames)
    func tamperedVectorFails(protocolName: String) throws {
        let original = try #require(NoiseVectorFile.vectors.first { $0.protocol_name == protocolName })
        #expect(runVector(original).failures.isEmpty)
        // One digit in each kind of message: handshake message 1, handshake message 2, a transport message.
        for index in [0, 1, 2] where index < original.messages.count {
            var tampered = original
            var digits = Array(tampered.messages[index].ciphertext)
            digits[digits.count - 1] = digits[digits.count - 1] == "0" ? "1" : "0"
            tampered.messages[index].ciphertext = String(digits)
            #expect(!runVector(tampered).failures.isEmpty, "tampered message \(index) passed")
        }
        if let expected = original.handshake_hash {
            var tampered = original
            tampered.handshake_hash = String(expected.reversed())
            #expect(!runVector(tampered).failures.isEmpty, "tampered handshake hash passed")
        }
    }
}
